#pragma once

// Sliding windows over a recording: [N, C, W] float32 plus one label each.
//
// A window covers W consecutive samples of one segment (never crossing a
// segment boundary) and windows start every `step` samples within a segment,
// beginning at the segment's first sample. Its label is the majority label
// when that label covers at least `purity` of the window; otherwise the
// window is skipped (it straddles two activities).

#include <string>
#include <vector>

#include "data/recording.h"

namespace hare::data {

struct WindowOptions {
  int window_samples = 0;
  int step_samples = 0;
  double purity = 0.75;
};

// Parses "128" (samples), "2.56s" or "500ms" into samples at the given rate.
// Throws an input Error naming `what` (e.g. "--window") on a bad value.
int parse_samples(const std::string& text, double sample_rate_hz, const std::string& what);

struct WindowOrigin {
  int recording = 0;   // index into the recordings the set was built from
  int segment = 0;
  int start = 0;       // first sample
  int line = 0;        // file line of the first sample
};

struct WindowSet {
  int channels = 0;
  int window = 0;
  std::vector<float> data;   // [N][C][W]
  std::vector<int> labels;   // -1 = unlabelled
  std::vector<WindowOrigin> origins;

  size_t size() const { return labels.size(); }
  size_t floats_per_window() const { return static_cast<size_t>(channels) * static_cast<size_t>(window); }
  const float* window_data(size_t i) const { return data.data() + i * floats_per_window(); }
  void append(const WindowSet& other);
};

struct WindowStats {
  size_t windows = 0;
  size_t skipped_impure = 0;
  size_t short_segments = 0;  // segments shorter than one window
  size_t segments = 0;
};

// Throws an input Error when the window is longer than every segment of the
// recording (no window can be made at all).
WindowSet make_windows(const Recording& recording, const WindowOptions& options, int recording_index = 0,
                       WindowStats* stats = nullptr);

}  // namespace hare::data
