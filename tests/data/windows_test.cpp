#include <catch2/catch.hpp>

#include "common/error.h"
#include "data/windows.h"

using namespace hare;
using namespace hare::data;

namespace {

// One channel whose value is the sample index; labels and segments as given.
Recording make_recording(const std::vector<int>& labels, const std::vector<int>& segments) {
  Recording rec;
  rec.path = "mem.csv";
  rec.sample_rate_hz = 10.0;
  rec.channels = {"x", "y"};
  rec.classes = {"a", "b", "c"};
  rec.num_samples = labels.size();
  for (size_t i = 0; i < labels.size(); ++i) {
    rec.values.push_back(static_cast<float>(i));
    rec.values.push_back(static_cast<float>(100 + i));
    rec.lines.push_back(static_cast<int>(i) + 2);
  }
  rec.labels = labels;
  rec.segments = segments;
  return rec;
}

}  // namespace

TEST_CASE("window and step counts are exact and the layout is [N, C, W]", "[data]") {
  const Recording rec = make_recording(std::vector<int>(10, 0), std::vector<int>(10, 0));
  WindowStats stats;
  const WindowSet set = make_windows(rec, {4, 3, 0.75}, 0, &stats);
  // Starts 0, 3, 6 (9 would run past the end).
  REQUIRE(set.size() == 3);
  CHECK(stats.windows == 3);
  CHECK(set.channels == 2);
  CHECK(set.window == 4);
  CHECK(set.origins[2].start == 6);
  CHECK(set.origins[2].line == 8);
  const float* w = set.window_data(1);
  CHECK(std::vector<float>(w, w + 8) == std::vector<float>{3, 4, 5, 6, 103, 104, 105, 106});
}

TEST_CASE("windows never cross a segment boundary", "[data]") {
  // Segments of 5 and 6 samples; window 4, step 2: 1 + 2 windows.
  const Recording rec = make_recording(std::vector<int>(11, 1), {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1});
  const WindowSet set = make_windows(rec, {4, 2, 0.75});
  REQUIRE(set.size() == 3);
  CHECK(set.origins[0].start == 0);
  CHECK(set.origins[1].start == 5);
  CHECK(set.origins[2].start == 7);
  for (const auto& origin : set.origins) CHECK(rec.segments[origin.start] == rec.segments[origin.start + 3]);
}

TEST_CASE("a window's label is the majority label when pure enough, else it is skipped", "[data]") {
  //                      window [0,4): a a a b -> a (75%)
  //                      window [2,6): a b b c -> skipped (50%)
  //                      window [4,8): b c c c -> c (75%)
  const Recording rec = make_recording({0, 0, 0, 1, 1, 2, 2, 2}, std::vector<int>(8, 0));
  WindowStats stats;
  const WindowSet set = make_windows(rec, {4, 2, 0.75}, 0, &stats);
  CHECK(set.labels == std::vector<int>{0, 2});
  CHECK(stats.skipped_impure == 1);
  CHECK(make_windows(rec, {4, 2, 0.5}).size() == 3);
  CHECK(make_windows(rec, {4, 2, 1.0}).size() == 0);
}

TEST_CASE("a window longer than every segment is an error naming the file", "[data]") {
  const Recording rec = make_recording(std::vector<int>(6, 0), {0, 0, 0, 1, 1, 1});
  CHECK_THROWS_WITH(make_windows(rec, {4, 1, 0.75}),
                    "mem.csv: window of 4 samples (0.40 s) is longer than every segment in the file (longest: 3 "
                    "samples)");
  // Short segments next to long enough ones are skipped and counted.
  const Recording mixed = make_recording(std::vector<int>(7, 0), {0, 0, 1, 1, 1, 1, 1});
  WindowStats stats;
  CHECK(make_windows(mixed, {4, 1, 0.75}, 0, &stats).size() == 2);
  CHECK(stats.short_segments == 1);
}

TEST_CASE("window lengths parse as samples, seconds or milliseconds", "[data]") {
  CHECK(parse_samples("128", 50, "--window") == 128);
  CHECK(parse_samples("2.56s", 50, "--window") == 128);
  CHECK(parse_samples("500ms", 50, "--step") == 25);
  CHECK_THROWS_WITH(parse_samples("2 minutes", 50, "--window"),
                    "--window '2 minutes' is not a length: use samples (128), seconds (2.56s) or ms (500ms)");
  CHECK_THROWS_WITH(parse_samples("1ms", 50, "--step"), "--step '1ms' is shorter than one sample");
}

TEST_CASE("window lengths an int does not hold are refused, not wrapped", "[data]") {
  // 99999999999 became a window of 1215752191 samples; 1e9s a negative count
  // ("window and step must be at least one sample").
  CHECK_THROWS_WITH(parse_samples("99999999999", 50, "--window"), "--window '99999999999' is longer than 2147483647 samples");
  CHECK_THROWS_WITH(parse_samples("1e9s", 50, "--window"), "--window '1e9s' is longer than 2147483647 samples");
}
