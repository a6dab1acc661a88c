#include "partition/queueing.h"

#include <cmath>

#include <algorithm>
#include <limits>

namespace hare::partition {

double erlang_c(int servers, double utilization) {
  if (utilization >= 1.0) return 1.0;
  if (utilization <= 0.0) return 0.0;
  const double offered = servers * utilization;  // a = λ·S, in servers
  double b = 1.0;
  for (int k = 1; k <= servers; ++k) b = offered * b / (k + offered * b);
  return b / (1.0 - utilization * (1.0 - b));
}

double allen_cunneen_wait_ms(int servers, double arrivals_per_s, double service_ms, double arrival_cv2,
                             double service_cv2) {
  if (arrivals_per_s <= 0.0 || service_ms <= 0.0) return 0.0;
  const int c = std::max(1, servers);
  const double utilization = arrivals_per_s * service_ms / (1000.0 * c);
  if (utilization >= 1.0) return std::numeric_limits<double>::infinity();
  return erlang_c(c, utilization) * service_ms / (c * (1.0 - utilization)) * (arrival_cv2 + service_cv2) / 2.0;
}

double periodic_streams_arrival_cv2(int streams) {
  const double n = std::max(1, streams);
  return (n - 1.0) / (n + 1.0);
}

double wait_quantile_ms(double mean_wait_ms, double wait_probability, double q) {
  if (std::isinf(mean_wait_ms)) return mean_wait_ms;
  const double tail = 1.0 - q;
  if (mean_wait_ms <= 0.0 || wait_probability <= tail) return 0.0;
  // P(W > t) = P(wait) · exp(−t · P(wait) / E[W]) = 1 − q.
  return mean_wait_ms / wait_probability * std::log(wait_probability / tail);
}

}  // namespace hare::partition
