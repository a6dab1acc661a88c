#include "runtime/sink.h"

#include <numeric>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/fs.h"
#include "common/stats.h"
#include "runtime/replay_buffer.h"

namespace hare::runtime {
namespace {

constexpr int64_t kGapTimeoutNs = 2'000'000'000;    // a missing window is given up after 2 s, at least
constexpr int64_t kMaxGapTimeoutNs = 30'000'000'000;  // and at most 30 s (its memory is the windows behind it)
constexpr int64_t kDrainTimeoutNs = 3'000'000'000;  // of silence after the end of stream

}  // namespace

Sink::Sink(const data::ModelCard& card, const std::string& predictions_path, GapWait gap_wait)
    : card_(card), path_(predictions_path), gap_wait_(gap_wait) {
  // Close-on-exec (not inherited by the workers), never through a planted
  // link, mode 0600 (common/fs.h).
  const int fd = open_private_file(predictions_path, O_WRONLY | O_TRUNC);
  out_ = ::fdopen(fd, "w");
  if (out_ == nullptr) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    throw failure("{}: cannot write predictions: {}", predictions_path, reason);
  }
}

void Sink::flush(bool durable) {
  // A full disk or an I/O error is the run's failure, never a short file
  // reported as complete.
  if (std::fflush(out_) != 0 || std::ferror(out_) != 0 || (durable && ::fsync(::fileno(out_)) != 0)) {
    throw failure("{}: cannot write predictions: {}", path_, std::strerror(errno));
  }
}

Sink::~Sink() {
  if (out_ != nullptr) std::fclose(out_);
}

void Sink::on_frame(const FrameView& frame, int64_t received_ns) {
  const FrameHeader& h = frame.header;
  if (h.kind == FrameKind::end) {
    summary_.expected = static_cast<long long>(h.sequence);
    end_ns_ = received_ns;
    return;
  }
  // A sequence far beyond anything plausible is garbage that passed the
  // checks (or a different run): never let it size our buffers.
  if (h.sequence > next_ + 10'000'000ULL) {
    ++summary_.duplicated;
    return;
  }
  if (h.sequence >= seen_.size()) seen_.resize(std::max<size_t>(h.sequence + 1, seen_.size() * 2), false);
  if (seen_[h.sequence]) {
    ++summary_.duplicated;
    return;
  }
  seen_[h.sequence] = true;
  ++summary_.received;
  Entry entry;
  entry.stream = h.stream;
  entry.label = h.label;
  std::vector<float> scratch;
  const float* logits = frame_values(frame, scratch);
  entry.predicted = static_cast<int>(std::max_element(logits, logits + frame.values) - logits);
  entry.latency_ms = static_cast<double>(received_ns - h.origin_ns) / 1e6;
  latencies_.push_back(entry.latency_ms);
  max_latency_ns_ = std::max(max_latency_ns_, received_ns - h.origin_ns);
  if (first_origin_ns_ == 0 || h.origin_ns < first_origin_ns_) first_origin_ns_ = h.origin_ns;
  last_arrival_ns_ = std::max(last_arrival_ns_, received_ns);
  if (h.label >= 0) {
    ++summary_.labelled;
    if (h.label == entry.predicted) ++summary_.correct;
  }
  int64_t previous_end = h.origin_ns;
  for (const HopTrace& t : h.trace) {
    compute_[t.stage].push_back(static_cast<double>(t.ended_ns - t.started_ns) / 1e6);
    queue_[t.stage].push_back(static_cast<double>(t.started_ns - t.received_ns) / 1e6);
    transfer_[t.stage].push_back(static_cast<double>(t.received_ns - previous_end) / 1e6);
    bytes_[t.stage].push_back(static_cast<double>(t.payload_bytes));
    Sums& sums = stage_sums_[t.stage];
    ++sums.windows;
    sums.transfer_ms += transfer_[t.stage].back();
    sums.bytes += bytes_[t.stage].back();
    previous_end = t.ended_ns;
  }
  sink_transfer_.push_back(static_cast<double>(received_ns - previous_end) / 1e6);
  sink_bytes_.push_back(static_cast<double>(frame.payload_bytes));
  ++sink_sums_.windows;
  sink_sums_.transfer_ms += sink_transfer_.back();
  sink_sums_.bytes += sink_bytes_.back();
  publish_running();
  pending_[h.sequence] = entry;
  if (h.sequence < next_) {
    // Its gap was already given up: write it now, out of order.
    ++summary_.late;
    given_up_.erase(h.sequence);
    write_line(h.sequence);
    pending_.erase(h.sequence);
  }
}

void Sink::publish_running() {
  const auto mean_of = [](double sum, long long n) { return n > 0 ? sum / static_cast<double>(n) : 0.0; };
  summary_.bytes_to_sink = mean_of(sink_sums_.bytes, sink_sums_.windows);
  summary_.transfer_to_sink_ms_mean = mean_of(sink_sums_.transfer_ms, sink_sums_.windows);
  summary_.stages.resize(stage_sums_.size());
  size_t k = 0;
  for (const auto& [stage, sums] : stage_sums_) {
    StageMeasurement& m = summary_.stages[k++];
    m.stage = stage;
    m.windows = sums.windows;
    m.transfer_in_ms_mean = mean_of(sums.transfer_ms, sums.windows);
    m.bytes_in = mean_of(sums.bytes, sums.windows);
  }
}

void Sink::write_line(uint64_t sequence) {
  const Entry& e = pending_.at(sequence);
  Prediction p;
  p.sequence = sequence;
  p.stream = e.stream;
  p.predicted = e.predicted >= 0 && static_cast<size_t>(e.predicted) < card_.classes.size()
                    ? card_.classes[static_cast<size_t>(e.predicted)]
                    : std::to_string(e.predicted);
  if (e.label >= 0 && static_cast<size_t>(e.label) < card_.classes.size()) {
    p.label = card_.classes[static_cast<size_t>(e.label)];
  }
  p.latency_ms = e.latency_ms;
  if (std::fputs((record_line(p) + "\n").c_str(), out_) < 0) {
    throw failure("{}: cannot write predictions: {}", path_, std::strerror(errno));
  }
}

void Sink::on_plan_switch(int64_t now) { switched_ns_ = now; }

void Sink::tick(int64_t now) {
  // Write everything that is in order; give up on a gap after a while.
  while (true) {
    auto it = pending_.find(next_);
    if (it != pending_.end()) {
      write_line(next_);
      pending_.erase(it);
      ++next_;
      gap_since_ns_ = 0;
      continue;
    }
    if (pending_.empty()) break;
    if (gap_since_ns_ == 0) gap_since_ns_ = now;
    // A window missing here may be on its way through a slower path (a
    // stage group's slower member, its queue full at saturation): it comes
    // at most the slowest window's latency after the one behind it, so wait
    // twice the largest latency seen before calling it lost.
    const int64_t patience =
        std::max(std::clamp(2 * max_latency_ns_, kGapTimeoutNs, kMaxGapTimeoutNs), gap_wait_.gap_wait_ns);
    if (now - gap_since_ns_ < patience && end_ns_ == 0) break;
    // A switch's replay may still bring it (even after the end of stream).
    if (switched_ns_ != 0 && now - switched_ns_ < gap_wait_.after_switch_ns) break;
    if (end_ns_ != 0 && now - std::max(end_ns_, last_arrival_ns_) < kDrainTimeoutNs &&
        static_cast<long long>(summary_.received) < summary_.expected) {
      break;
    }
    // This window is lost, unless a switch's replay brings it: the ack
    // keeps it in the source's replay buffer.
    given_up_.insert(next_);
    if (given_up_.size() > kMaxAckMissing) given_up_.erase(given_up_.begin());
    ++next_;
    gap_since_ns_ = 0;
  }
  summary_.next_sequence = static_cast<long long>(next_);
  summary_.missing.assign(given_up_.begin(), given_up_.end());
  flush(false);
  if (summary_.done || end_ns_ == 0) return;
  const bool all_in = summary_.received >= summary_.expected;
  // Done when every window is in, or nothing has arrived for a while after
  // the end of stream (the rest is lost).
  const bool switch_may_bring_more = switched_ns_ != 0 && now - switched_ns_ < gap_wait_.after_switch_ns;
  if (all_in || (now - std::max(end_ns_, last_arrival_ns_) >= kDrainTimeoutNs && !switch_may_bring_more)) {
    // Flush what remains in order; everything missing is lost.
    while (!pending_.empty()) {
      const uint64_t sequence = pending_.begin()->first;
      write_line(sequence);
      pending_.erase(pending_.begin());
    }
    finish();
  }
}

SinkSummary Sink::finish() {
  // Stopped early (a stop request, a signal): what arrived is written too,
  // in order, whatever gaps are still open.
  while (!pending_.empty()) {
    write_line(pending_.begin()->first);
    pending_.erase(pending_.begin());
  }
  flush(true);
  SinkSummary& s = summary_;
  const long long expected = s.expected >= 0 ? s.expected : s.received;
  s.lost = std::max(0LL, expected - s.received);
  s.accuracy = s.labelled > 0 ? static_cast<double>(s.correct) / static_cast<double>(s.labelled) : 0.0;
  s.latency_ms_p50 = percentile(latencies_, 0.50);
  s.latency_ms_p95 = percentile(latencies_, 0.95);
  s.latency_ms_p99 = percentile(latencies_, 0.99);
  s.latency_ms_mean = latencies_.empty() ? 0.0
                                         : std::accumulate(latencies_.begin(), latencies_.end(), 0.0) /
                                               static_cast<double>(latencies_.size());
  const double span_s = static_cast<double>(last_arrival_ns_ - first_origin_ns_) / 1e9;
  s.throughput = span_s > 0 ? static_cast<double>(s.received) / span_s : 0.0;
  s.transfer_to_sink_ms_p50 = percentile(sink_transfer_, 0.5);
  publish_running();
  for (StageMeasurement& m : s.stages) {
    const int stage = m.stage;
    const std::vector<double>& values = compute_[stage];
    m.compute_ms_p50 = percentile(values, 0.5);
    m.compute_ms_p95 = percentile(values, 0.95);
    m.queue_ms_p50 = percentile(queue_[stage], 0.5);
    m.transfer_in_ms_p50 = percentile(transfer_[stage], 0.5);
  }
  s.done = true;
  return s;
}

}  // namespace hare::runtime
