#include "runtime/link_emulator.h"

#include <algorithm>

namespace hare::runtime {

int64_t LinkEmulator::delivery_ns(const std::string& sender, const EmulatedLink& link, uint64_t payload_bytes,
                                  int64_t send_ns) {
  int64_t& busy = busy_until_ns_[sender];
  const int64_t start = std::max(busy, send_ns);
  const auto serialize_ns =
      static_cast<int64_t>(static_cast<double>(payload_bytes) * 8.0 / (link.bandwidth_mbps * 1e6) * 1e9);
  busy = start + serialize_ns;
  return busy + static_cast<int64_t>(link.latency_ms * 1e6);
}

void LinkEmulator::hold(int64_t release_ns, zmq::message_t message) { held_.emplace(release_ns, std::move(message)); }

std::vector<zmq::message_t> LinkEmulator::take_due(int64_t now_ns) {
  std::vector<zmq::message_t> due;
  while (!held_.empty() && held_.begin()->first <= now_ns) {
    due.push_back(std::move(held_.begin()->second));
    held_.erase(held_.begin());
  }
  return due;
}

std::optional<int64_t> LinkEmulator::next_release_ns() const {
  if (held_.empty()) return std::nullopt;
  return held_.begin()->first;
}

}  // namespace hare::runtime
