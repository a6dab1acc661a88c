#include <catch2/catch.hpp>

#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "common/error.h"
#include "data/dataset_spec.h"
#include "data/recording.h"
#include "data/windows.h"
#include "test_util.h"

using namespace hare;
using namespace hare::data;

namespace {

// A small spec: comma-separated, header, 2 channels, string labels.
const char* kSpec = R"(format: hare-dataset/1
name: tiny
delimiter: comma
header: true
sample_rate_hz: 10
channels: [ax, ay]
label:
  column: activity
  classes: {walk: walking, sit: sitting}
  null_label: none
segment_column: seg
subject_column: who
)";

DatasetSpec tiny_spec() { return parse_dataset_spec(kSpec, "tiny.yaml"); }

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    CHECK(error.exit_code() == ExitCode::usage);
    return error.what();
  }
  FAIL("expected an error");
  return {};
}

}  // namespace

TEST_CASE("a delimited recording is read per the spec", "[data]") {
  test::TempDir dir;
  test::write_text(dir.file("r.csv"),
                   "who,seg,ax,ay,activity\n"
                   "s01,0,1.0,2.0,walk\n"
                   "s01,0,3.0,4.0,walk\n"
                   "s01,1,5.0,6.0,sit\n");
  const Recording rec = read_recording(dir.file("r.csv"), tiny_spec());
  CHECK(rec.num_samples == 3);
  CHECK(rec.subject == "s01");
  CHECK(rec.channels == std::vector<std::string>{"ax", "ay"});
  CHECK(rec.classes == std::vector<std::string>{"walking", "sitting"});
  CHECK(rec.at(2, 1) == 6.0f);
  CHECK(rec.labels == std::vector<int>{0, 0, 1});
  CHECK(rec.segments == std::vector<int>{0, 0, 1});
  CHECK(rec.lines == std::vector<int>{2, 3, 4});
}

TEST_CASE("dropping the null class splits the segment; keeping it adds class 'null'", "[data]") {
  test::TempDir dir;
  test::write_text(dir.file("r.csv"),
                   "who,seg,ax,ay,activity\n"
                   "1,0,1,1,walk\n"
                   "1,0,1,1,none\n"
                   "1,0,1,1,walk\n");
  const Recording dropped = read_recording(dir.file("r.csv"), tiny_spec());
  CHECK(dropped.num_samples == 2);
  CHECK(dropped.segments == std::vector<int>{0, 1});
  ReadOptions keep;
  keep.keep_null = true;
  const Recording kept = read_recording(dir.file("r.csv"), tiny_spec(), keep);
  CHECK(kept.classes.front() == "null");
  CHECK(kept.labels == std::vector<int>{1, 0, 1});
  CHECK(kept.segments == std::vector<int>{0, 0, 0});
}

TEST_CASE("gzip recordings are read transparently; a truncated one is refused", "[data]") {
  test::TempDir dir;
  std::string text = "who,seg,ax,ay,activity\n";
  for (int i = 0; i < 20000; ++i) text += "1,0," + std::to_string(i) + ",0.5,walk\n";
  test::write_gzip(dir.file("r.csv.gz"), text);
  CHECK(read_recording(dir.file("r.csv.gz"), tiny_spec()).num_samples == 20000);

  // Cut the compressed file in half.
  std::string bytes;
  {
    std::ifstream in(dir.file("r.csv.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  test::write_text(dir.file("cut.csv.gz"), bytes.substr(0, bytes.size() / 2));
  CHECK_THAT(error_of([&] { read_recording(dir.file("cut.csv.gz"), tiny_spec()); }),
             Catch::Contains("cut.csv.gz") && Catch::Contains("truncated"));
}

TEST_CASE("every bad input names the file and line", "[data]") {
  test::TempDir dir;
  const auto spec = tiny_spec();
  const std::string header = "who,seg,ax,ay,activity\n";
  auto error_for = [&](const std::string& body) {
    test::write_text(dir.file("bad.csv"), body);
    return error_of([&] { read_recording(dir.file("bad.csv"), spec); });
  };
  const std::string f = dir.file("bad.csv");

  CHECK(error_of([&] { read_recording(dir.file("nope.csv"), spec); }) ==
        dir.file("nope.csv") + ": cannot open file: No such file or directory");
  CHECK(error_for("") == f + ": the file is empty (expected a header row)");
  CHECK(error_for(header) == f + ": no data rows after the header");
  CHECK(error_for(header + "1,0,1,2,walk\n1,0,1,walk\n") == f + ":3: expected 5 fields, found 4 (ragged row)");
  CHECK(error_for(header + "1,0,1,abc,walk\n") == f + ":2: column 'ay': 'abc' is not a number");
  CHECK(error_for(header + "1,0,nan,1,walk\n") == f + ":2: column 'ax': value 'nan' is not finite");
  CHECK(error_for(header + "1,0,1,-inf,walk\n") == f + ":2: column 'ay': value '-inf' is not finite");
  CHECK(error_for(header + "1,0,1,1,run\n") == f + ":2: unknown label 'run' in column 'activity'");
  CHECK(error_for("who,seg,ax,ay_,activity\n1,0,1,1,walk\n") ==
        f + ":1: channel column 'ay' (from dataset spec 'tiny') does not exist in the file (did you mean 'ay_'?)");
}

TEST_CASE("raw MHEALTH logs: 24 columns, channels selected by name, null dropped or kept", "[data]") {
  const DatasetSpec* spec = find_builtin_spec("mhealth-log");
  REQUIRE(spec != nullptr);
  const std::string path = test::source_path("data/mhealth-raw-sample/mHealth_subject1.log");
  const Recording rec = read_recording_auto(path);
  CHECK(rec.subject == "1");
  CHECK(rec.channels.size() == 6);
  CHECK(rec.channels[3] == "arm_gyro_x");
  CHECK(rec.num_samples == 36);  // the sample has no null rows
  CHECK(rec.at(0, 0) == Approx(-9.7788));
  CHECK(rec.labels.front() == 0);  // label 1 = standing = class 0
  CHECK(rec.classes.size() == 12);

  ReadOptions options;
  options.channels = {"ecg_1", "ankle_mag_z"};
  const Recording two = read_recording(path, *spec, options);
  CHECK(two.at(0, 0) == Approx(0.0083726));
  CHECK(two.at(0, 1) == Approx(-0.73822));  // column 14

  options.channels = {"ecg_3"};
  CHECK_THAT(error_of([&] { read_recording(path, *spec, options); }),
             Catch::Contains("channel 'ecg_3' is not a channel of dataset spec 'mhealth-log' (did you mean 'ecg_1'?)"));

  test::TempDir dir;
  test::write_text(dir.file("mHealth_subject9.log"),
                   "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 0\n"
                   "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 4\n");
  const Recording dropped = read_recording_auto(dir.file("mHealth_subject9.log"));
  CHECK(dropped.num_samples == 1);
  CHECK(dropped.subject == "9");
  ReadOptions keep;
  keep.keep_null = true;
  CHECK(read_recording_auto(dir.file("mHealth_subject9.log"), "", keep).num_samples == 2);
}

TEST_CASE("the shipped MHEALTH TSV is detected and read", "[data]") {
  const Recording rec = read_recording_auto(test::source_path("data/mhealth/subject07.tsv.gz"));
  CHECK(rec.subject == "7");
  CHECK(rec.num_samples == 34350);
  CHECK(rec.segments.back() == 16);  // 17 segments
}

TEST_CASE("a file whose format cannot be told asks for --spec", "[data]") {
  test::TempDir dir;
  test::write_text(dir.file("x.dat"), "1\n");
  try {
    read_recording_auto(dir.file("x.dat"));
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(std::string(error.what()) == dir.file("x.dat") + ": cannot tell the file's format from its name");
    CHECK_THAT(error.hint(), Catch::Contains("--spec"));
  }
}

namespace {
// One channel at 50 Hz with a timestamp column t in `unit`.
DatasetSpec stamped_spec(const std::string& unit) {
  return parse_dataset_spec("format: hare-dataset/1\nname: stamped\ndelimiter: comma\nheader: true\n"
                            "sample_rate_hz: 50\nchannels: [ax]\ntimestamp_column: t\ntimestamp_unit: " + unit + "\n",
                            "stamped.yaml");
}
}  // namespace

TEST_CASE("timestamps: packets stamped once per three samples stay one segment; a real gap still splits", "[data]") {
  test::TempDir dir;
  // 0, 0, 0, 0.06, 0.06, 0.06, ...: exactly 50 Hz on average.
  std::string text = "t,ax\n";
  for (int i = 0; i < 300; ++i) text += fmt::format("{},{}\n", (i / 3) * 0.06, i);
  text += "30.0,1\n30.0,2\n";  // a real gap (of 24 s)
  test::write_text(dir.file("p.csv"), text);
  const Recording rec = read_recording(dir.file("p.csv"), stamped_spec("s"));
  REQUIRE(rec.num_samples == 302);
  CHECK(rec.segments[0] == 0);
  CHECK(rec.segments[299] == 0);
  CHECK(rec.segments[300] == 1);
  CHECK(make_windows(rec, WindowOptions{128, 50}).size() == 4);
}

TEST_CASE("timestamps in nanoseconds are declared; undeclared, the error names the column and the line", "[data]") {
  test::TempDir dir;
  // WISDM-style: ns since some epoch, at 50 Hz.
  std::string text = "t,ax\n";
  for (long long i = 0; i < 200; ++i) text += fmt::format("{},{}\n", 49'106'062'000'000LL + i * 20'000'000LL, i);
  test::write_text(dir.file("w.csv"), text);
  const Recording ns = read_recording(dir.file("w.csv"), stamped_spec("ns"));
  CHECK(ns.segments.back() == 0);
  CHECK(make_windows(ns, WindowOptions{128, 50}).size() == 2);
  // Read as seconds, every sample is its own segment; the error says where and why.
  const Recording seconds = read_recording(dir.file("w.csv"), stamped_spec("s"));
  try {
    make_windows(seconds, WindowOptions{128, 50});
    FAIL("expected an error");
  } catch (const Error& error) {
    CHECK_THAT(error.what(), Catch::Contains("longer than every segment in the file (longest: 1 samples)"));
    CHECK_THAT(error.hint(), Catch::Contains("line 3: timestamp column 't' jumps from 49106062000000 to 49106082000000 (s)"));
    CHECK_THAT(error.hint(), Catch::Contains("timestamp_unit"));
  }
}
