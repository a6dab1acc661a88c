#include "data/windows.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "common/error.h"
#include "common/strings.h"

namespace hare::data {

int parse_samples(const std::string& text, double sample_rate_hz, const std::string& what) {
  const std::string_view value = trim(text);
  double samples = 0.0;
  if (auto count = parse_int(value)) {
    samples = static_cast<double>(*count);
  } else if (ends_with(value, "ms") && parse_double(value.substr(0, value.size() - 2))) {
    samples = *parse_double(value.substr(0, value.size() - 2)) * sample_rate_hz / 1000.0;
  } else if (ends_with(value, "s") && parse_double(value.substr(0, value.size() - 1))) {
    samples = *parse_double(value.substr(0, value.size() - 1)) * sample_rate_hz;
  } else {
    throw input_error(Location{}, "{} '{}' is not a length: use samples (128), seconds (2.56s) or ms (500ms)",
                      what, text);
  }
  if (std::isnan(samples)) {
    throw input_error(Location{}, "{} '{}' is not a length: use samples (128), seconds (2.56s) or ms (500ms)", what, text);
  }
  // An int holds it: 99999999999 became 1215752191 samples, and 1e9s a
  // negative count.
  if (samples >= static_cast<double>(std::numeric_limits<int>::max())) {
    throw input_error(Location{}, "{} '{}' is longer than {} samples", what, text, std::numeric_limits<int>::max());
  }
  const long rounded = std::lround(samples);
  if (rounded < 1) throw input_error(Location{}, "{} '{}' is shorter than one sample", what, text);
  return static_cast<int>(rounded);
}

void WindowSet::append(const WindowSet& other) {
  if (other.size() == 0) return;
  if (size() == 0 && data.empty()) {
    channels = other.channels;
    window = other.window;
  }
  data.insert(data.end(), other.data.begin(), other.data.end());
  labels.insert(labels.end(), other.labels.begin(), other.labels.end());
  origins.insert(origins.end(), other.origins.begin(), other.origins.end());
}

WindowSet make_windows(const Recording& rec, const WindowOptions& options, int recording_index,
                       WindowStats* stats) {
  if (options.window_samples < 1 || options.step_samples < 1) {
    throw input_error(Location{}, "window and step must be at least one sample");
  }
  if (!(options.purity > 0.0 && options.purity <= 1.0)) {
    throw input_error(Location{}, "label purity must be in (0, 1], got {}", options.purity);
  }
  const int num_channels = static_cast<int>(rec.channels.size());
  const int window = options.window_samples;
  WindowSet set;
  set.channels = num_channels;
  set.window = window;
  WindowStats local;

  size_t longest = 0;
  size_t begin = 0;
  while (begin < rec.num_samples) {
    size_t end = begin;
    while (end < rec.num_samples && rec.segments[end] == rec.segments[begin]) ++end;
    const size_t length = end - begin;
    longest = std::max(longest, length);
    ++local.segments;
    if (length < static_cast<size_t>(window)) ++local.short_segments;

    for (size_t start = begin; start + static_cast<size_t>(window) <= end;
         start += static_cast<size_t>(options.step_samples)) {
      // Majority label; ties go to the smaller class index, which is
      // irrelevant at any purity above 50%.
      std::map<int, int> counts;
      for (size_t s = start; s < start + static_cast<size_t>(window); ++s) ++counts[rec.labels[s]];
      int label = -1;
      int best = 0;
      for (const auto& [value, count] : counts) {
        if (count > best) {
          best = count;
          label = value;
        }
      }
      if (static_cast<double>(best) < options.purity * window - 1e-9) {
        ++local.skipped_impure;
        continue;
      }
      const size_t offset = set.data.size();
      set.data.resize(offset + static_cast<size_t>(num_channels) * static_cast<size_t>(window));
      float* out = set.data.data() + offset;
      // Transpose [time][channel] rows into the [channel][time] layout.
      for (int c = 0; c < num_channels; ++c) {
        for (int t = 0; t < window; ++t) {
          out[c * window + t] = rec.at(start + static_cast<size_t>(t), static_cast<size_t>(c));
        }
      }
      set.labels.push_back(label);
      set.origins.push_back(WindowOrigin{recording_index, rec.segments[start], static_cast<int>(start),
                                         rec.lines[start]});
      ++local.windows;
    }
    begin = end;
  }
  if (longest < static_cast<size_t>(window)) {
    throw input_error(Location{rec.path},
                      "window of {} samples ({:.2f} s) is longer than every segment in the file (longest: {} "
                      "samples)",
                      window, window / rec.sample_rate_hz, longest)
        .with_hint(rec.first_time_split.empty()
                       ? std::string("use a shorter --window, or check the segment column of the dataset spec")
                       : fmt::format("segments end where time jumps; the first: {}; check the dataset spec's "
                                     "sample_rate_hz and timestamp_unit",
                                     rec.first_time_split));
  }
  if (stats != nullptr) {
    stats->windows += local.windows;
    stats->skipped_impure += local.skipped_impure;
    stats->short_segments += local.short_segments;
    stats->segments += local.segments;
  }
  return set;
}

}  // namespace hare::data
