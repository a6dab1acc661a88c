#include "runtime/replay_buffer.h"

namespace hare::runtime {

void ReplayBuffer::add(const ReplayWindow& window) {
  if (capacity_ == 0) return;
  // An ack may come before the window is recorded here (the sink is fast,
  // the source thread slow to get back): it needs no replay.
  if (window.sequence < acked_through_) return;
  if (windows_.size() == capacity_) {
    // Everything held is unacked (acked ones are released at once).
    ++evicted_unacked_;
    windows_.pop_front();
  }
  windows_.push_back(window);
}

void ReplayBuffer::ack(uint64_t next_sequence) {
  if (next_sequence <= acked_through_) return;
  acked_through_ = next_sequence;
  while (!windows_.empty() && windows_.front().sequence < acked_through_) windows_.pop_front();
}

std::vector<ReplayWindow> ReplayBuffer::unacked() const { return {windows_.begin(), windows_.end()}; }

}  // namespace hare::runtime
