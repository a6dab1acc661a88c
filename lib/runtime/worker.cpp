#include "runtime/worker.h"

#include <sched.h>
#include <unistd.h>

#include <torch/script.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "common/memory.h"
#include "common/stats.h"
#include "common/strings.h"
#include "model/torch_boundary.h"
#include "runtime/fanout.h"
#include "runtime/frame.h"
#include "runtime/keys.h"
#include "runtime/records.h"
#include "runtime/transport.h"

namespace hare::runtime {

namespace {

// hare-node passes the endpoints; given by hand, a malformed one was
// "internal error: Invalid argument".
void connect(zmq::socket_t& socket, const std::string& endpoint, const char* flag) {
  try {
    socket.connect(endpoint);
  } catch (const zmq::error_t& error) {
    throw input_error(Location{}, "{} '{}': {}", flag, endpoint, error.what());
  }
}

// What the replicas of one process share: the slice (a TorchScript module's
// forward() may run on several threads at once), the run's stop flag and the
// first error.
struct Shared {
  torch::jit::Module slice;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::exception_ptr error;  // guarded by mutex: the first replica's that failed

  bool stopping() const { return stop.load() || diag::interrupted(); }
  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error) error = e;
    stop = true;
  }
};

// One replica: its sockets, made on the process's main thread (so that a
// bad endpoint fails before any thread starts; a ZeroMQ socket may move to
// another thread across a full barrier, which starting the thread is), and
// the loop its own thread runs.
class Replica {
 public:
  Replica(const WorkerOptions& options, size_t position, zmq::context_t& context,
          const std::optional<DeploymentKeys>& keys, Shared& shared)
      : options_(options),
        index_(options.replicas[position]),
        shared_(shared),
        in_(context, zmq::socket_type::pull),
        keys_(keys ? &*keys : nullptr),
        out_(std::make_unique<Fanout>(context, options.downstream, keys_, options.send_hwm, 2000)),
        next_destination_(options.next_destination),
        context_(context),
        stats_(context, zmq::socket_type::push),
        targets_(context, zmq::socket_type::sub) {
    if (!options.cpus.empty()) {
      const auto first = options.cpus.begin() + static_cast<std::ptrdiff_t>(position) * options.threads;
      cpus_.assign(first, first + options.threads);
    }
    in_.set(zmq::sockopt::rcvhwm, 4);  // little queued here: the supervisor spreads work
    in_.set(zmq::sockopt::linger, 0);
    connect(in_, options.work_endpoint, "--work");
    stats_.set(zmq::sockopt::sndhwm, 4);
    stats_.set(zmq::sockopt::linger, 0);
    connect(stats_, options.stats_endpoint, "--stats");
    targets_.set(zmq::sockopt::linger, 0);
    targets_.set(zmq::sockopt::subscribe, "");
    if (!options.targets_endpoint.empty()) connect(targets_, options.targets_endpoint, "--targets");
  }

  void run() {
    // Pinned before its first parallel op, so that the OpenMP team this
    // thread gets inherits the pin; the thread count is per thread too
    // (OpenMP's nthreads is a per-thread setting), and so is inference mode.
    pin();
    at::set_num_threads(options_.threads);
    c10::InferenceMode inference;
    warm_up();
    release_free_heap();
    serve();
  }

 private:
  void pin() {
    if (cpus_.empty()) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpus_) CPU_SET(cpu, &set);
    // 0: the calling thread.
    if (sched_setaffinity(0, sizeof set, &set) != 0) diag::warning("worker {}: cannot pin to its cores", index_);
  }

  // TorchScript's executor profiles and optimizes a method over its first
  // calls: do them now, not on the first real windows.
  void warm_up() {
    if (options_.warmup_shape.empty()) return;
    try {
      const at::Tensor x = torch::zeros(options_.warmup_shape);
      std::vector<double> own_ms;  // the last calls, optimized: the slice's own time here
      for (int i = 0; i < 20 && !shared_.stopping(); ++i) {
        const int64_t started = now_ns();
        shared_.slice.forward({x});
        if (i >= 10) own_ms.push_back(static_cast<double>(now_ns() - started) / 1e6);
      }
      if (!own_ms.empty()) own_ms_ = percentile(own_ms, 0.25);
    } catch (const std::exception& error) {  // c10::Error or the interpreter's: was a 30-line backtrace
      throw input_error(Location{options_.slice_path}, "the slice rejects its warm-up input of shape {} ({})",
                        shape_text(options_.warmup_shape), model::short_torch_message(error))
          .with_hint("the plan's input_shape for this stage is not what the slice takes: make the plan again with "
                     "hare-partition --out");
    }
  }

  void report() {
    WorkerReport r;
    r.worker = index_;
    r.pid = static_cast<int>(getpid());
    r.ready = true;
    r.windows = processed_;
    r.compute_ms_p50 = percentile(compute_ms_, 0.5);
    r.compute_ms_p95 = percentile(compute_ms_, 0.95);
    r.peak_rss_bytes = peak_resident_bytes();
    for (long long b : bad_) r.bad_frames += b;
    r.target = target_;
    const std::string line = record_line(r);
    stats_.send(zmq::buffer(line), zmq::send_flags::dontwait);
    last_report_ = now_ns();
  }

  // A new target waits on the targets socket.
  bool target_waiting() {
    if (options_.targets_endpoint.empty()) return false;
    zmq::pollitem_t item{targets_.handle(), 0, ZMQ_POLLIN, 0};
    return zmq::poll(&item, 1, std::chrono::milliseconds(0)) > 0;
  }

  // Takes every target waiting, the newest last: results go there from now
  // on. What the old destinations' queues still hold is dropped (linger 0):
  // the switch's replay sends those windows again.
  void take_targets() {
    if (options_.targets_endpoint.empty()) return;
    zmq::message_t message;
    bool took = false;
    while (targets_.recv(message, zmq::recv_flags::dontwait)) {
      const WorkerTarget target = parse_record<WorkerTarget>(message.to_string(), "a worker target");
      if (target.generation <= target_) continue;
      const std::vector<Destination> to =
          from_lists(DestinationLists{target.endpoints, target.nodes, target.shares, target.codecs});
      for (size_t i = 0; i < out_->size(); ++i) out_->socket(i).set(zmq::sockopt::linger, 0);
      out_ = std::make_unique<Fanout>(context_, to, keys_, options_.send_hwm, 2000);
      next_destination_ = static_cast<uint16_t>(target.next_destination);
      target_ = target.generation;
      took = true;
    }
    if (took) report();  // the supervisor waits for it
  }

  void serve() {
    report();
    while (!shared_.stopping()) {
      take_targets();
      zmq::message_t message;
      // Spin briefly, then sleep (bounded): see transport.h.
      if (!receive_spinning(in_, message)) {
        if (now_ns() - last_report_ > 200'000'000) report();
        continue;
      }
      if (now_ns() - last_report_ > 200'000'000) report();
      on_frame(message);
    }
    report();
  }

  void on_frame(const zmq::message_t& message) {
    const int64_t received = now_ns();
    FrameView frame;
    const DecodeError error = decode(message.data(), message.size(), frame);
    if (error != DecodeError::none || frame.header.kind != FrameKind::data) {
      auto& count = bad_[static_cast<size_t>(error)];
      if (count++ == 0) {
        diag::warning("worker {}: dropped a bad frame ({}); further ones of this kind are only counted", index_,
                      error == DecodeError::none ? "not a data frame" : decode_error_name(error));
      }
      return;
    }
    const int64_t started = now_ns();
    at::Tensor output;
    try {
      const float* values = frame_values(frame, scratch_);
      const at::Tensor input = torch::from_blob(const_cast<float*>(values), frame.header.shape, torch::kFloat32);
      output = shared_.slice.forward({input}).toTensor().contiguous();
    } catch (const std::exception& e) {
      auto& count = bad_[static_cast<size_t>(DecodeError::bad_shape)];
      if (count++ == 0) {
        diag::warning("worker {}: the slice rejected a frame of shape [{}] ({}); dropped", index_,
                      fmt::join(frame.header.shape, ","), model::short_torch_message(e));
      }
      return;
    }
    int64_t ended = now_ns();
    if (options_.time_factor > 1.0) {
      // The emulated device is still busy: sleep most of the rest, spin the
      // last 100 µs (a sleep can overshoot by tens of µs).
      const double device_ms = options_.device_ms > 0.0 ? options_.device_ms
                               : own_ms_ > 0.0          ? options_.time_factor * own_ms_
                                                        : options_.time_factor * static_cast<double>(ended - started) / 1e6;
      const int64_t until = started + static_cast<int64_t>(device_ms * 1e6);
      if (until - now_ns() > 150'000) std::this_thread::sleep_for(std::chrono::nanoseconds(until - now_ns() - 100'000));
      while (now_ns() < until) {
      }
      ended = now_ns();
    }
    const size_t to = out_->choose();
    const Codec codec = out_->destination(to).codec;
    FrameHeader header = frame.header;
    header.destination = next_destination_;
    header.member = static_cast<uint8_t>(options_.member);
    header.shape = output.sizes().vec();
    header.dtype = static_cast<DType>(codec);
    header.trace.push_back(HopTrace{static_cast<uint16_t>(options_.stage), static_cast<uint16_t>(index_),
                                    static_cast<uint32_t>(frame.payload_bytes), received, started, ended});
    if (header.trace.size() > static_cast<size_t>(kMaxHops)) header.trace.erase(header.trace.begin());
    header.send_ns = now_ns();
    const auto values = static_cast<uint64_t>(output.numel());
    const size_t payload = wire_bytes(codec, values);
    buffer_.resize(kHeaderBytes + payload);
    encode_header(header, payload, buffer_.data());
    encode_values(codec, output.data_ptr<float>(), values, buffer_.data() + kHeaderBytes);
    // Waits while that member's queue is full: back-pressure. New
    // destinations end the wait (the member may be a lost node).
    send_with_backpressure(out_->socket(to), zmq::buffer(buffer_),
                           [this] { return shared_.stopping() || target_waiting(); });
    ++processed_;
    compute_ms_.push_back(static_cast<double>(ended - started) / 1e6);
    if (compute_ms_.size() > 4096) compute_ms_.erase(compute_ms_.begin(), compute_ms_.begin() + 2048);
  }

  const WorkerOptions& options_;
  int index_;
  Shared& shared_;
  std::vector<int> cpus_;
  zmq::socket_t in_;
  const DeploymentKeys* keys_;  // the process's; null under --insecure
  std::unique_ptr<Fanout> out_;
  uint16_t next_destination_;
  long long target_ = 0;  // the WorkerTarget generation out_ sends to (0: the command line's)
  zmq::context_t& context_;
  zmq::socket_t stats_;
  zmq::socket_t targets_;
  long long processed_ = 0;
  std::array<long long, kDecodeErrorKinds> bad_{};
  std::vector<double> compute_ms_;
  double own_ms_ = 0.0;  // the slice's own time per window here, from the warm-up (time_factor)
  int64_t last_report_ = 0;
  std::vector<uint8_t> buffer_;
  std::vector<float> scratch_;  // a compressed frame's values
};

}  // namespace

int run_worker(const WorkerOptions& options) {
  diag::install_interrupt_handler();
  tune_allocator_for_inference();
  if (options.replicas.empty()) throw input_error(Location{}, "--replicas: give at least one replica index");
  if (!options.cpus.empty() && options.cpus.size() != options.replicas.size() * static_cast<size_t>(options.threads)) {
    throw input_error(Location{}, "--cpus: {} cores given, but {} replicas of {} threads take {}", options.cpus.size(),
                      options.replicas.size(), options.threads, options.replicas.size() * static_cast<size_t>(options.threads));
  }
  at::set_num_threads(options.threads);
  Shared shared;
  shared.slice = model::load_verified_module(options.slice_path, options.slice_sha256);

  // The transport's I/O thread starts with the context, before any replica
  // pins itself: it stays free to run on any core instead of preempting a
  // compute thread on its own. (OpenMP threads, made later, inherit the pin.)
  zmq::context_t context(1);
  // Read once for all replicas: each one's results go as a CURVE client.
  std::optional<DeploymentKeys> keys;
  if (!options.keys_path.empty()) {
    std::vector<std::string> peers;
    for (const Destination& d : options.downstream) peers.push_back(d.node);
    // A switch's new destinations are checked by the supervisor against
    // the same file (every node of the run has its key there).
    keys = read_keys_file(options.keys_path, options.node, peers);
  }
  std::vector<std::unique_ptr<Replica>> replicas;
  for (size_t i = 0; i < options.replicas.size(); ++i) {
    replicas.push_back(std::make_unique<Replica>(options, i, context, keys, shared));
  }

  // Replica 0 runs on this thread, the others on their own.
  const auto run = [&shared](Replica& replica) {
    try {
      replica.run();
    } catch (...) {
      shared.fail(std::current_exception());
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < replicas.size(); ++i) threads.emplace_back(run, std::ref(*replicas[i]));
  run(*replicas[0]);
  for (std::thread& t : threads) t.join();
  if (shared.error) std::rethrow_exception(shared.error);
  return 0;
}

}  // namespace hare::runtime
