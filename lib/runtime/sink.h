#pragma once

// The sink role: where predictions are consumed. Takes the last stage's
// outputs (logits), writes one JSON line per window (a Prediction record,
// records.h) in sequence order
// (sequence, stream, predicted class, label if known, end-to-end latency),
// counts windows lost, duplicated or late, and summarizes: accuracy, latency
// p50/p95/p99, throughput, and per stage the measured compute, queueing and
// transfer times and bytes, from the trace every frame carries.

#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "data/model_card.h"
#include "runtime/frame.h"
#include "runtime/records.h"

namespace hare::runtime {

// How long a gap in the sequence may stay open before its window is given
// up (lost). A plan switch re-sends the windows the old plan still held
// (the source's replay buffer), which takes the switch's time to arrive.
struct GapWait {
  // 0: twice the largest end-to-end latency seen, from 2 s up to 30 s
  // (a window on a slower path comes at most that late); more: at least this.
  int64_t gap_wait_ns = 0;
  // After a plan switch, no gap is given up for this long.
  int64_t after_switch_ns = 10'000'000'000;
};

class Sink {
 public:
  Sink(const data::ModelCard& card, const std::string& predictions_path, GapWait gap_wait = {});
  ~Sink();
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  void on_frame(const FrameView& frame, int64_t received_ns);
  // The node switched plans at `now`: the windows in flight on the old plan
  // come again (replayed), so gaps wait GapWait::after_switch_ns from now.
  // The sequence state (what arrived, what is pending) stays.
  void on_plan_switch(int64_t now);
  // Called periodically: flushes in order, skips gaps that have waited too long
  // (GapWait), and finishes when every expected window is accounted for or the drain
  // timeout passed after the end of stream.
  void tick(int64_t now);
  bool done() const { return summary_.done; }
  const SinkSummary& summary() const { return summary_; }
  // Writes what is left, makes the predictions durable (fsync) and closes the
  // summary. Throws a failure naming the file when they cannot be written.
  SinkSummary finish();

 private:
  void write_line(uint64_t sequence);
  // Flushes the predictions (and fsyncs them when durable); throws on error.
  void flush(bool durable);

  struct Entry {
    uint32_t stream = 0;
    int label = -1;
    int predicted = -1;
    double latency_ms = 0.0;
  };
  const data::ModelCard& card_;
  std::string path_;
  std::FILE* out_ = nullptr;
  std::map<uint64_t, Entry> pending_;  // received, not yet written
  std::vector<bool> seen_;
  uint64_t next_ = 0;
  std::set<uint64_t> given_up_;  // below next_, not received: SinkSummary::missing
  int64_t gap_since_ns_ = 0;
  GapWait gap_wait_;
  int64_t switched_ns_ = 0;  // the last plan switch; 0: none
  int64_t end_ns_ = 0;
  int64_t first_origin_ns_ = 0;
  int64_t last_arrival_ns_ = 0;
  int64_t max_latency_ns_ = 0;  // the largest end-to-end latency so far: how long a gap may be in flight
  std::vector<double> latencies_;
  std::map<int, std::vector<double>> compute_, queue_, transfer_, bytes_;
  std::vector<double> sink_transfer_, sink_bytes_;
  // Running sums of the figures a watch reads while the stream runs.
  struct Sums {
    long long windows = 0;
    double transfer_ms = 0.0;
    double bytes = 0.0;
  };
  std::map<int, Sums> stage_sums_;
  Sums sink_sums_;
  // The running figures into summary_ (its stages, the sink's hop).
  void publish_running();
  SinkSummary summary_;
};

}  // namespace hare::runtime
