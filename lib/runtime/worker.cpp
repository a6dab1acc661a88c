#include "runtime/worker.h"

#include <sched.h>
#include <unistd.h>

#include <torch/script.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "common/memory.h"
#include "common/stats.h"
#include "common/strings.h"
#include "model/torch_boundary.h"
#include "runtime/frame.h"
#include "runtime/keys.h"
#include "runtime/records.h"
#include "runtime/transport.h"

namespace hare::runtime {

int run_worker(const WorkerOptions& options) {
  diag::install_interrupt_handler();
  tune_allocator_for_inference();
  at::set_num_threads(options.threads);
  c10::InferenceMode inference;
  torch::jit::Module slice = model::load_verified_module(options.slice_path, options.slice_sha256);

  // The transport's I/O thread starts with the context, before this thread
  // pins itself: it stays free to run on any core instead of preempting the
  // compute thread on its own. (OpenMP threads, made later, inherit the pin.)
  zmq::context_t context(1);
  // hare-node passes the endpoints; given by hand, a malformed one was
  // "internal error: Invalid argument".
  const auto connect = [](zmq::socket_t& socket, const std::string& endpoint, const char* flag) {
    try {
      socket.connect(endpoint);
    } catch (const zmq::error_t& error) {
      throw input_error(Location{}, "{} '{}': {}", flag, endpoint, error.what());
    }
  };
  zmq::socket_t in(context, zmq::socket_type::pull);
  in.set(zmq::sockopt::rcvhwm, 4);  // little queued here: the supervisor spreads work
  in.set(zmq::sockopt::linger, 0);
  connect(in, options.work_endpoint, "--work");
  zmq::socket_t out(context, zmq::socket_type::push);
  out.set(zmq::sockopt::sndhwm, options.send_hwm);
  out.set(zmq::sockopt::linger, 2000);
  if (!options.keys_path.empty()) {
    make_curve_client(out, read_keys_file(options.keys_path, options.node, {options.downstream_node}),
                      options.downstream_node);
  }
  connect(out, options.downstream, "--downstream");
  zmq::socket_t stats(context, zmq::socket_type::push);
  stats.set(zmq::sockopt::sndhwm, 4);
  stats.set(zmq::sockopt::linger, 0);
  connect(stats, options.stats_endpoint, "--stats");
  if (!options.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : options.cpus) CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) diag::warning("worker {}: cannot pin to its cores", options.worker);
  }

  // TorchScript's executor profiles and optimizes a method over its first
  // calls: do them now, not on the first real windows.
  if (!options.warmup_shape.empty()) {
    try {
      const at::Tensor x = torch::zeros(options.warmup_shape);
      for (int i = 0; i < 20; ++i) slice.forward({x});
    } catch (const std::exception& error) {  // c10::Error or the interpreter's: was a 30-line backtrace
      throw input_error(Location{options.slice_path}, "the slice rejects its warm-up input of shape {} ({})",
                        shape_text(options.warmup_shape), model::short_torch_message(error))
          .with_hint("the plan's input_shape for this stage is not what the slice takes: make the plan again with "
                     "hare-partition --out");
    }
  }

  long long processed = 0;
  std::array<long long, kDecodeErrorKinds> bad{};
  std::vector<double> compute_ms;
  int64_t last_report = 0;
  std::vector<uint8_t> buffer;
  std::vector<float> scratch;  // a compressed frame's values
  auto report = [&] {
    WorkerReport r;
    r.worker = options.worker;
    r.pid = static_cast<int>(getpid());
    r.ready = true;
    r.windows = processed;
    r.compute_ms_p50 = percentile(compute_ms, 0.5);
    r.compute_ms_p95 = percentile(compute_ms, 0.95);
    r.rss_bytes = resident_bytes();
    r.peak_rss_bytes = peak_resident_bytes();
    for (long long b : bad) r.bad_frames += b;
    const std::string line = record_line(r);
    stats.send(zmq::buffer(line), zmq::send_flags::dontwait);
    last_report = now_ns();
  };
  report();

  while (!diag::interrupted()) {
    zmq::message_t message;
    // Spin briefly, then sleep (bounded): see transport.h.
    if (!receive_spinning(in, message)) {
      if (now_ns() - last_report > 200'000'000) report();
      continue;
    }
    if (now_ns() - last_report > 200'000'000) report();
    const int64_t received = now_ns();
    FrameView frame;
    const DecodeError error = decode(message.data(), message.size(), frame);
    if (error != DecodeError::none || frame.header.kind != FrameKind::data) {
      auto& count = bad[static_cast<size_t>(error)];
      if (count++ == 0) {
        diag::warning("worker {}: dropped a bad frame ({}); further ones of this kind are only counted", options.worker,
                      error == DecodeError::none ? "not a data frame" : decode_error_name(error));
      }
      continue;
    }
    const int64_t started = now_ns();
    at::Tensor output;
    try {
      const float* values = frame_values(frame, scratch);
      const at::Tensor input = torch::from_blob(const_cast<float*>(values), frame.header.shape, torch::kFloat32);
      output = slice.forward({input}).toTensor().contiguous();
    } catch (const std::exception& e) {
      auto& count = bad[static_cast<size_t>(DecodeError::bad_shape)];
      if (count++ == 0) {
        diag::warning("worker {}: the slice rejected a frame of shape [{}] ({}); dropped", options.worker,
                      fmt::join(frame.header.shape, ","), model::short_torch_message(e));
      }
      continue;
    }
    int64_t ended = now_ns();
    if (options.time_factor > 1.0) {
      // The emulated device is still busy: sleep most of the rest, spin the
      // last 100 µs (a sleep can overshoot by tens of µs).
      const int64_t until = started + static_cast<int64_t>(static_cast<double>(ended - started) * options.time_factor);
      if (until - now_ns() > 150'000) std::this_thread::sleep_for(std::chrono::nanoseconds(until - now_ns() - 100'000));
      while (now_ns() < until) {
      }
      ended = now_ns();
    }
    FrameHeader header = frame.header;
    header.destination = options.next_destination;
    header.shape = output.sizes().vec();
    header.dtype = static_cast<DType>(options.codec);
    header.trace.push_back(HopTrace{static_cast<uint16_t>(options.stage), static_cast<uint16_t>(options.worker),
                                    static_cast<uint32_t>(frame.payload_bytes), received, started, ended});
    if (header.trace.size() > static_cast<size_t>(kMaxHops)) header.trace.erase(header.trace.begin());
    header.send_ns = now_ns();
    const auto values = static_cast<uint64_t>(output.numel());
    const size_t payload = wire_bytes(options.codec, values);
    buffer.resize(kHeaderBytes + payload);
    encode_header(header, payload, buffer.data());
    encode_values(options.codec, output.data_ptr<float>(), values, buffer.data() + kHeaderBytes);
    send_with_backpressure(out, zmq::buffer(buffer), [] { return diag::interrupted(); });
    ++processed;
    compute_ms.push_back(static_cast<double>(ended - started) / 1e6);
    if (compute_ms.size() > 4096) compute_ms.erase(compute_ms.begin(), compute_ms.begin() + 2048);
  }
  report();
  return 0;
}

}  // namespace hare::runtime
