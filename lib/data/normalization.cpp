#include "data/normalization.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace hare::data {

Normalization fit_normalization(const std::vector<Recording>& recordings) {
  if (recordings.empty()) throw input_error(Location{}, "no recordings to fit the normalization on");
  const size_t channels = recordings.front().channels.size();
  std::vector<double> sum(channels, 0.0);
  std::vector<double> sum_sq(channels, 0.0);
  size_t count = 0;
  // Two passes (mean, then squared deviations) for numerical stability.
  for (const auto& rec : recordings) {
    if (rec.channels.size() != channels) {
      throw input_error(Location{rec.path}, "has {} channels, the other recordings have {}", rec.channels.size(),
                        channels);
    }
    for (size_t s = 0; s < rec.num_samples; ++s) {
      for (size_t c = 0; c < channels; ++c) sum[c] += static_cast<double>(rec.at(s, c));
    }
    count += rec.num_samples;
  }
  Normalization norm;
  norm.mean.resize(channels);
  for (size_t c = 0; c < channels; ++c) norm.mean[c] = sum[c] / static_cast<double>(count);
  for (const auto& rec : recordings) {
    for (size_t s = 0; s < rec.num_samples; ++s) {
      for (size_t c = 0; c < channels; ++c) {
        const double d = static_cast<double>(rec.at(s, c)) - norm.mean[c];
        sum_sq[c] += d * d;
      }
    }
  }
  norm.std.resize(channels);
  for (size_t c = 0; c < channels; ++c) {
    norm.std[c] = std::max(std::sqrt(sum_sq[c] / static_cast<double>(count)), Normalization::kMinStd);
  }
  return norm;
}

void apply_normalization(const Normalization& norm, WindowSet& windows) {
  if (norm.mean.size() != static_cast<size_t>(windows.channels) || norm.std.size() != norm.mean.size()) {
    throw input_error(Location{}, "normalization has {} channels, the windows have {}", norm.mean.size(),
                      windows.channels);
  }
  const size_t per_window = windows.floats_per_window();
  for (size_t i = 0; i < windows.size(); ++i) {
    float* w = windows.data.data() + i * per_window;
    for (int c = 0; c < windows.channels; ++c) {
      const auto mean = static_cast<float>(norm.mean[static_cast<size_t>(c)]);
      const auto scale = static_cast<float>(1.0 / norm.std[static_cast<size_t>(c)]);
      for (int t = 0; t < windows.window; ++t) {
        float& x = w[c * windows.window + t];
        x = (x - mean) * scale;
      }
    }
  }
}

}  // namespace hare::data
