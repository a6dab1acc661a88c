#include "runtime/source.h"

#include <algorithm>
#include <chrono>
#include <cstring>
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

}  // namespace

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
                const std::atomic<bool>& stop, const DeploymentKeys* keys) {
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
  Fanout out(context, spec.first_stage, keys, options.send_hwm, 2000);
  // The end-of-stream socket connects now, not after the last window: its
  // connection is made while the sink's node is quiet, not when a crowd of
  // strangers may hold its connection cap (data_port.h).
  zmq::socket_t end(context, zmq::socket_type::push);
  end.set(zmq::sockopt::linger, 2000);
  if (keys != nullptr) make_curve_client(end, *keys, spec.plan.sink);
  end.connect(spec.sink_endpoint);

  const auto start = std::chrono::steady_clock::now();
  const double first_due = schedule.empty() ? 0.0 : schedule.front().due_s;
  FrameHeader header;
  header.destination = 1;
  std::vector<uint8_t> buffer;
  uint64_t sequence = 0;
  for (const Pending& p : schedule) {
    if (stop) break;
    if (options.speed > 0.0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>((p.due_s - first_due) / options.speed));
      std::this_thread::sleep_until(due);
    }
    const data::WindowSet& w = recordings[static_cast<size_t>(p.stream) % recordings.size()];
    header.sequence = sequence++;
    header.stream = static_cast<uint32_t>(p.stream);
    header.label = w.labels[p.window];
    header.shape = {1, w.channels, w.window};
    const size_t to = out.choose();
    const Codec codec = out.destination(to).codec;
    header.dtype = static_cast<DType>(codec);
    header.origin_ns = now_ns();
    header.send_ns = header.origin_ns;
    const size_t payload = wire_bytes(codec, w.floats_per_window());
    buffer.resize(kHeaderBytes + payload);
    encode_header(header, payload, buffer.data());
    encode_values(codec, w.window_data(p.window), w.floats_per_window(), buffer.data() + kHeaderBytes);
    // Waits while that member's queue is full: back-pressure.
    send_with_backpressure(out.socket(to), zmq::buffer(buffer), [&] { return stop.load(); });
    ++stats.sent;
    stats.bytes += static_cast<long long>(buffer.size());
  }

  // End of stream, straight to the sink: how many windows to expect.
  FrameHeader eos;
  eos.kind = FrameKind::end;
  eos.sequence = static_cast<uint64_t>(stats.sent.load());
  eos.destination = kSinkDestination;
  eos.origin_ns = now_ns();
  eos.send_ns = eos.origin_ns;
  const auto bytes = encode(eos, nullptr, 0);
  end.send(zmq::buffer(bytes), zmq::send_flags::none);
  stats.done = true;
}

}  // namespace hare::runtime
