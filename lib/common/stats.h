#pragma once

// Order statistics shared by the profiler and the runtime's measurements.

#include <vector>

namespace hare {

// The q-quantile (0..1) of sorted values, interpolating linearly between
// order statistics (numpy's default); 0 for no values.
double percentile_sorted(const std::vector<double>& sorted, double q);
// The same for unsorted values (sorts a copy).
double percentile(std::vector<double> values, double q);

}  // namespace hare
