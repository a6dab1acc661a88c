#include "runtime/source.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include "common/error.h"
#include "data/dataset.h"
#include "data/dataset_spec.h"
#include "runtime/fanout.h"
#include "runtime/frame.h"
#include "runtime/transport.h"

namespace hare::runtime {

namespace {

struct Pending {
  double due_s;     // seconds after the stream start when the window is complete
  int stream;
  size_t window;
};

// Sleeps until `due`, waking early when `wake()` becomes true.
void sleep_until_or(std::chrono::steady_clock::time_point due, const std::function<bool()>& wake) {
  while (!wake()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= due) return;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(due - now, std::chrono::milliseconds(10)));
  }
}

}  // namespace

void SourceControl::ack(const SinkAck& ack) {
  std::lock_guard<std::mutex> lock(mutex_);
  replay_.ack(ack);
}

uint64_t SourceControl::request_switch(std::vector<Destination> first_stage, uint16_t plan_tag) {
  std::lock_guard<std::mutex> lock(mutex_);
  switch_to_ = Switch{std::move(first_stage), plan_tag};
  return ++requested_;
}

bool SourceControl::switched(uint64_t request) const { return taken_.load() >= request; }

bool SourceControl::paused() const {
  const int64_t until = paused_until_ns_.load();
  return until != 0 && now_ns() < until;
}

std::optional<SourceControl::Switch> SourceControl::take_switch() {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t requested = requested_.load();
  if (taken_.load() == requested) return std::nullopt;
  taken_ = requested;
  return switch_to_;
}

void SourceControl::sent(const ReplayWindow& window) {
  std::lock_guard<std::mutex> lock(mutex_);
  replay_.add(window);
}

std::vector<ReplayWindow> SourceControl::unacked() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return replay_.unacked();
}

void SourceControl::fill(SourceStatus& status) const {
  std::lock_guard<std::mutex> lock(mutex_);
  status.replay_buffer_windows = static_cast<long long>(replay_.capacity());
  status.buffered = static_cast<long long>(replay_.size());
  status.acked_through = static_cast<long long>(replay_.acked_through());
  status.evicted_unacked = replay_.evicted_unacked();
  status.replayed = replayed_.load();
}

void check_source_files(const SourceOptions& options) {
  if (options.files.empty()) throw input_error(Location{}, "the source needs recordings (--data FILE...)");
  const std::vector<std::string> files = data::collect_files(options.files, options.spec);
  if (!options.spec.empty()) {
    data::resolve_dataset_spec(options.spec);
  } else {
    for (const auto& file : files) data::detect_dataset_spec(file);
  }
}

void run_source(zmq::context_t& context, const NodeSpec& spec, const SourceOptions& options, SourceStats& stats,
                const std::atomic<bool>& stop, const DeploymentKeys* keys, SourceControl* control) {
  const data::ModelCard& card = spec.card;
  if (options.files.empty()) throw input_error(Location{}, "the source needs recordings (--data FILE...)");
  std::vector<data::WindowSet> recordings;  // one stream per file
  for (const auto& file : data::collect_files(options.files, options.spec)) {
    recordings.push_back(data::card_windows(card, data::read_for_card(card, {file}, options.spec)));
  }
  const int streams = options.streams > 0 ? options.streams : static_cast<int>(recordings.size());

  // Every window of every stream, in the order it completes. Wearers'
  // sensors are not synchronized: each stream starts at its own phase
  // within a step, drawn uniformly (a fixed seed, so that runs repeat), so
  // the windows of many streams arrive as the cost model's queueing term
  // assumes (partition/queueing.h), not in lockstep.
  std::mt19937_64 phases(0x4a5e);
  std::uniform_real_distribution<double> phase_of(0.0, static_cast<double>(card.step_samples));
  std::vector<Pending> schedule;
  for (int s = 0; s < streams; ++s) {
    const double phase = phase_of(phases);
    const data::WindowSet& w = recordings[static_cast<size_t>(s) % recordings.size()];
    const size_t count = options.limit > 0 ? std::min<size_t>(w.size(), static_cast<size_t>(options.limit)) : w.size();
    for (size_t i = 0; i < count; ++i) {
      // Window i ends at sample start + W; the rate gives its wall time.
      const double end_sample = static_cast<double>(i) * card.step_samples + card.window_samples + phase;
      schedule.push_back(Pending{end_sample / card.sample_rate_hz, s, i});
    }
  }
  std::stable_sort(schedule.begin(), schedule.end(), [](const Pending& a, const Pending& b) { return a.due_s < b.due_s; });
  stats.total = static_cast<long long>(schedule.size());

  // One socket per member of stage 1's group; each window goes to one.
  auto out = std::make_unique<Fanout>(context, spec.first_stage, keys, options.send_hwm, 2000);
  // The end-of-stream socket connects now, not after the last window: its
  // connection is made while the sink's node is quiet, not when a crowd of
  // strangers may hold its connection cap (data_port.h).
  zmq::socket_t end(context, zmq::socket_type::push);
  end.set(zmq::sockopt::linger, 2000);
  if (keys != nullptr) make_curve_client(end, *keys, spec.plan.sink);
  end.connect(spec.sink_endpoint);

  // A stop, or a switch to take: either ends a wait (a send blocked on a
  // lost member's full queue, the pacing sleep).
  const std::function<bool()> interrupted = [&] {
    return stop.load() || (control != nullptr && control->switch_pending());
  };
  FrameHeader header;
  header.destination = 1;
  header.plan_tag = spec.plan_tag;
  std::vector<uint8_t> buffer;
  // Encodes a window for the member the fanout chooses, in that member's
  // codec, and sends it; false when a stop or a switch cut the send short.
  const auto send_window = [&](const ReplayWindow& r) {
    // Paused (a watch switches every node at once): wait, unless a switch
    // comes, which is taken first.
    while (control != nullptr && control->paused() && !stop) {
      if (control->switch_pending()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (stop) return false;
    const data::WindowSet& w = recordings[static_cast<size_t>(r.stream) % recordings.size()];
    header.sequence = r.sequence;
    header.stream = static_cast<uint32_t>(r.stream);
    header.label = w.labels[r.window];
    header.shape = {1, w.channels, w.window};
    const size_t to = out->choose();
    const Codec codec = out->destination(to).codec;
    header.dtype = static_cast<DType>(codec);
    header.origin_ns = r.origin_ns;
    header.send_ns = now_ns();
    const size_t payload = wire_bytes(codec, w.floats_per_window());
    buffer.resize(kHeaderBytes + payload);
    encode_header(header, payload, buffer.data());
    encode_values(codec, w.window_data(r.window), w.floats_per_window(), buffer.data() + kHeaderBytes);
    // Waits while that member's queue is full: back-pressure.
    if (!send_with_backpressure(out->socket(to), zmq::buffer(buffer), interrupted)) return false;
    stats.bytes += static_cast<long long>(buffer.size());
    return true;
  };
  // A switch: the new first stage, then every unacknowledged window again,
  // oldest first. A switch that comes during the replay starts it over.
  const auto take_switches = [&] {
    while (control != nullptr && !stop) {
      const auto next = control->take_switch();
      if (!next) return;
      // What still waits in the old members' queues is not delivered: the
      // replay sends it again.
      for (size_t i = 0; i < out->size(); ++i) out->socket(i).set(zmq::sockopt::linger, 0);
      out = std::make_unique<Fanout>(context, next->first_stage, keys, options.send_hwm, 2000);
      header.plan_tag = next->plan_tag;
      long long replayed = 0;
      for (const ReplayWindow& r : control->unacked()) {
        if (!send_window(r)) break;
        ++replayed;
      }
      control->replayed(replayed);
    }
  };

  const auto start = std::chrono::steady_clock::now();
  const int64_t start_ns = now_ns();
  const double first_due = schedule.empty() ? 0.0 : schedule.front().due_s;
  uint64_t sequence = 0;
  for (const Pending& p : schedule) {
    if (stop) break;
    if (options.speed > 0.0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>((p.due_s - first_due) / options.speed));
      // A switch is taken at once, not after the wait: it ends the outage.
      sleep_until_or(due, interrupted);
      take_switches();
      sleep_until_or(due, [&] { return stop.load(); });
    }
    take_switches();
    // Its origin is when it was complete: on schedule, whatever held the
    // source (back-pressure, a pause), which then counts in its latency.
    const int64_t origin_ns =
        options.speed > 0.0 ? start_ns + static_cast<int64_t>((p.due_s - first_due) / options.speed * 1e9) : now_ns();
    const ReplayWindow window{sequence++, p.stream, p.window, origin_ns};
    if (control != nullptr) control->sent(window);
    ++stats.sent;
    // Cut short by a switch: the window is in the replay buffer.
    if (!send_window(window)) take_switches();
  }

  // End of stream, straight to the sink: how many windows to expect.
  FrameHeader eos;
  eos.kind = FrameKind::end;
  eos.sequence = sequence;
  eos.destination = kSinkDestination;
  eos.origin_ns = now_ns();
  eos.send_ns = eos.origin_ns;
  const auto bytes = encode(eos, nullptr, 0);
  end.send(zmq::buffer(bytes), zmq::send_flags::none);
  stats.done = true;
  // The stream is sent, but the last windows may still be lost with a node:
  // stay to replay them on a switch until the sink has them all (or stop).
  while (control != nullptr && !stop && !control->unacked().empty()) {
    take_switches();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace hare::runtime
