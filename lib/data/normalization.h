#pragma once

// Per-channel standardization, fitted on the training recordings only and
// stored in the model card so that inference applies exactly the same
// transform: x' = (x - mean[c]) / std[c].

#include <vector>

#include "data/recording.h"
#include "data/windows.h"

namespace hare::data {

struct Normalization {
  std::vector<double> mean;
  std::vector<double> std;  // never below kMinStd

  static constexpr double kMinStd = 1e-6;
  bool empty() const { return mean.empty(); }
};

// Mean and population standard deviation of every sample of every recording
// (each sample counted once, unlike overlapping windows).
Normalization fit_normalization(const std::vector<Recording>& recordings);

// Throws an input Error when the channel count differs.
void apply_normalization(const Normalization& norm, WindowSet& windows);

}  // namespace hare::data
