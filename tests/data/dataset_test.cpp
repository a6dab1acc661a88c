#include <catch2/catch.hpp>

#include "common/error.h"
#include "data/dataset.h"

using namespace hare;
using namespace hare::data;

namespace {

// One channel whose value is the sample index, one segment, one class.
Recording ramp(double sample_rate_hz, int samples) {
  Recording rec;
  rec.path = "ramp.csv";
  rec.sample_rate_hz = sample_rate_hz;
  rec.channels = {"x"};
  rec.classes = {"walk"};
  rec.num_samples = static_cast<size_t>(samples);
  for (int i = 0; i < samples; ++i) {
    rec.values.push_back(static_cast<float>(i));
    rec.lines.push_back(i + 2);
    rec.labels.push_back(0);
    rec.segments.push_back(0);
  }
  return rec;
}

ModelCard card_for_ramp() {
  ModelCard card;
  card.channels = {"x"};
  card.sample_rate_hz = 10.0;
  card.window_samples = 4;
  card.step_samples = 2;
  card.normalization.mean = {1.0};
  card.normalization.std = {2.0};
  return card;
}

}  // namespace

TEST_CASE("card_windows cuts the card's window and step and normalizes with its statistics", "[data]") {
  const WindowSet windows = card_windows(card_for_ramp(), {ramp(10.0, 10)});
  // Starts 0, 2, 4, 6.
  REQUIRE(windows.size() == 4);
  CHECK(windows.window == 4);
  CHECK(windows.origins[1].start == 2);
  // Sample 2 of the ramp, (2 - 1) / 2.
  CHECK(windows.window_data(1)[0] == Approx(0.5));
}

TEST_CASE("card_windows refuses a recording sampled at another rate", "[data]") {
  try {
    card_windows(card_for_ramp(), {ramp(10.0, 10), ramp(50.0, 10)});
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(std::string(error.what()).find("ramp.csv") != std::string::npos);
    CHECK(std::string(error.what()).find("sampled at 50 Hz, the model expects 10 Hz") != std::string::npos);
  }
}
