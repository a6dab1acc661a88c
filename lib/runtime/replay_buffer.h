#pragma once

// The source's replay buffer: the last B windows it sent, kept until the
// sink acknowledges them, so that a plan switch (a lost node, a re-plan)
// loses none of the windows that were in flight on the old plan.
//
// The sink's ack (SinkAck) is its contiguous-through sequence with the
// windows below it that it gave up on (its gap wait) and has not received
// since: every other window below it has arrived, so those are released.
// A given-up window is kept: it may be stuck on a node that is being
// replaced, and the switch's replay is what brings it. On a switch the
// source re-sends every window still held, oldest first, through the new
// plan's first stage; the sink drops the ones it already has and writes a
// given-up one late. A window pushed out of a full buffer before it was
// acknowledged can no longer be replayed: evicted_unacked counts them, the
// bound on what a switch can lose. A window is held as where it comes from (stream, index
// in its recording, when it was complete), not as its frame bytes: the new
// plan's first stage may take another codec, so it is encoded again.
//
// Not thread-safe (SourceControl, source.h, guards it).

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace hare::runtime {

struct ReplayWindow {
  uint64_t sequence = 0;
  int stream = 0;
  size_t window = 0;     // index in its stream's recording
  int64_t origin_ns = 0;  // when it was complete (on schedule): a replay's latency counts from there
};

// What the sink has (sink.h): every window below next_sequence except
// `missing` (ascending, each below next_sequence; the sink reports at most
// kMaxAckMissing, the most recent). Sent to the source as the control
// request "ack <next_sequence> [<missing> ...]" (control.h).
struct SinkAck {
  uint64_t next_sequence = 0;
  std::vector<uint64_t> missing;
};
inline constexpr size_t kMaxAckMissing = 1024;

class ReplayBuffer {
 public:
  // capacity_windows 0: off (nothing kept, nothing counted).
  explicit ReplayBuffer(size_t capacity_windows) : capacity_(capacity_windows) {}

  // A window just sent (sequences increase). Pushes out the oldest when full.
  void add(const ReplayWindow& window);
  // The sink has every window below ack.next_sequence but ack.missing:
  // release them. The contiguous-through sequence never goes back.
  void ack(const SinkAck& ack);
  // What a switch re-sends: every held window (at or above the ack, or
  // missing at the sink), in sequence order.
  std::vector<ReplayWindow> unacked() const;

  size_t capacity() const { return capacity_; }
  size_t size() const { return windows_.size(); }
  uint64_t acked_through() const { return acked_through_; }
  long long evicted_unacked() const { return evicted_unacked_; }

 private:
  size_t capacity_;
  std::map<uint64_t, ReplayWindow> windows_;  // by sequence: >= acked_through_, or missing at the sink
  uint64_t acked_through_ = 0;
  long long evicted_unacked_ = 0;
};

}  // namespace hare::runtime
