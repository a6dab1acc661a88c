#pragma once

// The source role: the sensor gateway. Reads recordings (any format lib/data
// reads), makes sliding windows with the model card's window, step and
// normalization, and sends one frame per window to one member of the first
// stage's group (fanout.h: in proportion to the members' shares) — in
// real time (a window leaves when its last sample would have arrived), at
// `speed` times real time, or as fast as the pipeline takes them (speed 0;
// the bounded send queue gives back-pressure). After the last window it
// sends an end-of-stream frame, with the number of windows sent, to the sink.
//
// It keeps the last windows it sent in a replay buffer (replay_buffer.h)
// until the sink acknowledges them; when its node switches plans
// (SourceControl::request_switch), it connects to the new plan's first
// stage and sends the unacknowledged windows again before going on.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "runtime/keys.h"
#include "runtime/node_spec.h"
#include "runtime/records.h"
#include "runtime/replay_buffer.h"

namespace hare::runtime {

struct SourceOptions {
  std::vector<std::string> files;
  std::string spec;          // dataset spec, "" = from the file names
  double speed = 1.0;        // 0 = as fast as possible
  int streams = 0;           // 0 = one per file; more cycle over the files
  long long limit = 0;       // windows per stream, 0 = all
  int send_hwm = 64;
  size_t replay_windows = 256;  // the replay buffer's capacity; 0: no replay
};

struct SourceStats {
  std::atomic<long long> sent{0};
  std::atomic<long long> total{0};
  std::atomic<bool> done{false};
  std::atomic<long long> bytes{0};
};

// What the node's supervisor tells a running source, from its own thread:
// the sink's acks and plan switches; and the replay buffer's state, which
// both sides read. Thread-safe.
class SourceControl {
 public:
  explicit SourceControl(size_t replay_windows) : replay_(replay_windows) {}

  // What the sink has (SinkSummary::next_sequence and missing): the replay
  // buffer releases it.
  void ack(const SinkAck& ack);
  // Send to these first-stage members from now on, after re-sending the
  // unacknowledged windows. A send blocked on an old member (a lost node's
  // full queue) is abandoned: that window is in the buffer. Returns the
  // request's number for switched().
  uint64_t request_switch(std::vector<Destination> first_stage, uint16_t plan_tag);
  // The source took switch `request` (or a later one).
  bool switched(uint64_t request) const;
  // Hold every send (new windows and replays) until resume(), or until
  // `until_ns` (now_ns clock) passes, whichever comes first. Windows keep
  // their origin time: a pause counts in their latency. A switch is still
  // taken while paused (its replay waits).
  void pause(int64_t until_ns) { paused_until_ns_ = until_ns; }
  void resume() { paused_until_ns_ = 0; }
  bool paused() const;
  // The replay counters, into `status`.
  void fill(SourceStatus& status) const;

  // The source thread's side.
  bool switch_pending() const { return requested_.load() != taken_.load(); }
  // The newest requested destinations and the new plan's tag, marking them
  // taken; nullopt if none.
  struct Switch {
    std::vector<Destination> first_stage;
    uint16_t plan_tag = 0;
  };
  std::optional<Switch> take_switch();
  void sent(const ReplayWindow& window);
  std::vector<ReplayWindow> unacked() const;
  void replayed(long long windows) { replayed_ += windows; }

 private:
  mutable std::mutex mutex_;
  ReplayBuffer replay_;                            // guarded by mutex_
  Switch switch_to_;                               // guarded by mutex_
  std::atomic<uint64_t> requested_{0}, taken_{0};  // switch requests made, taken
  std::atomic<long long> replayed_{0};
  std::atomic<int64_t> paused_until_ns_{0};
};

// The recordings and the dataset spec exist and their format is known:
// checked before a node or a deployment starts anything (a missing file was
// found by the running source, exit 1, or a node left running). Throws an
// input Error naming the file.
void check_source_files(const SourceOptions& options);

// Runs until all windows are sent or `stop` becomes true. Throws on bad input.
// With `keys`, both sockets are CURVE clients of the nodes they send to.
// With `control`, windows are kept for replay and switches are taken
// between windows.
void run_source(zmq::context_t& context, const NodeSpec& spec, const SourceOptions& options, SourceStats& stats,
                const std::atomic<bool>& stop, const DeploymentKeys* keys = nullptr, SourceControl* control = nullptr);

}  // namespace hare::runtime
