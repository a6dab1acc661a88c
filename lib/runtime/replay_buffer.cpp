#include "runtime/replay_buffer.h"

#include <algorithm>

namespace hare::runtime {

void ReplayBuffer::add(const ReplayWindow& window) {
  if (capacity_ == 0) return;
  // An ack may come before the window is recorded here (the sink is fast,
  // the source thread slow to get back): it needs no replay.
  if (window.sequence < acked_through_) return;
  if (windows_.size() == capacity_) {
    // Everything held is unacked (acked ones are released at once).
    ++evicted_unacked_;
    windows_.erase(windows_.begin());
  }
  windows_.emplace_hint(windows_.end(), window.sequence, window);
}

void ReplayBuffer::ack(const SinkAck& ack) {
  acked_through_ = std::max(acked_through_, ack.next_sequence);
  // Release what is below the ack and not missing (both ascending).
  auto missing = ack.missing.begin();
  for (auto it = windows_.begin(); it != windows_.end() && it->first < ack.next_sequence;) {
    while (missing != ack.missing.end() && *missing < it->first) ++missing;
    if (missing != ack.missing.end() && *missing == it->first) {
      ++it;
    } else {
      it = windows_.erase(it);
    }
  }
}

std::vector<ReplayWindow> ReplayBuffer::unacked() const {
  std::vector<ReplayWindow> out;
  out.reserve(windows_.size());
  for (const auto& [sequence, window] : windows_) out.push_back(window);
  return out;
}

}  // namespace hare::runtime
