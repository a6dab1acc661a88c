#include "runtime/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "common/memory.h"
#include "runtime/cgroup.h"
#include "runtime/frame.h"
#include "runtime/sink.h"

namespace hare::runtime {
namespace fs = std::filesystem;

std::string control_endpoint(const std::string& run_dir, const std::string& node) {
  return "ipc://" + run_dir + "/" + node + ".ctl";
}

std::optional<std::string> control_request(const std::string& endpoint, const std::string& request, int timeout_ms) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::req);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
  socket.set(zmq::sockopt::sndtimeo, timeout_ms);
  socket.connect(endpoint);
  if (!socket.send(zmq::buffer(request), zmq::send_flags::none)) return std::nullopt;
  zmq::message_t reply;
  if (!socket.recv(reply, zmq::recv_flags::none)) return std::nullopt;
  return reply.to_string();
}

namespace {

struct WorkerState {
  int id = 0;
  pid_t pid = -1;
  bool alive = false;
  int restarts = 0;
  long long windows = 0;
  long long windows_before = 0;  // by earlier incarnations
  double p50 = 0.0;
  double p95 = 0.0;
  long long rss = 0;
  long long hwm = 0;
  long long bad = 0;
  bool ready = false;  // loaded and warmed up (reported at least once)
};

class Supervisor {
 public:
  Supervisor(const NodeSpec& spec, const SupervisorOptions& options)
      : spec_(spec), options_(options), context_(2), cgroups_(spec.name), start_ns_(now_ns()) {}

  int run() {
    fs::create_directories(options_.run_dir);
    public_ = zmq::socket_t(context_, zmq::socket_type::pull);
    public_.set(zmq::sockopt::rcvhwm, options_.receive_hwm);
    public_.set(zmq::sockopt::linger, 0);
    try {
      public_.bind(spec_.listen);
    } catch (const zmq::error_t& e) {
      throw failure("node {}: cannot listen on {} ({})", spec_.name, spec_.listen, e.what());
    }
    // Frames are not authenticated or encrypted: say so when the node is
    // reachable from other machines.
    if (spec_.listen.find("tcp://127.") != 0 && spec_.listen.find("tcp://localhost") != 0) {
      diag::warning("node {} listens on {}, reachable from the network: hare frames are neither authenticated nor "
                    "encrypted; run it on a trusted network only",
                    spec_.name, spec_.listen);
    }
    control_ = zmq::socket_t(context_, zmq::socket_type::rep);
    control_.set(zmq::sockopt::linger, 0);
    control_.bind(control_endpoint(options_.run_dir, spec_.name));
    if (spec_.stage) start_stage();
    if (spec_.sink) {
      sink_.emplace(spec_.card, (fs::path(options_.run_dir) / (spec_.name + ".predictions.jsonl")).string());
    }
    if (spec_.source) start_source_thread();
    diag::note("node {} up: listening on {}, roles{}{}{}", spec_.name, spec_.listen, spec_.source ? " source" : "",
               spec_.stage ? fmt::format(" stage {} ({} x {} threads, {})", spec_.stage->index, spec_.stage->replicas,
                                         spec_.stage->threads, cgroups_.mode())
                           : "",
               spec_.sink ? " sink" : "");
    loop();
    shutdown();
    return 0;
  }

 private:
  void start_stage() {
    if (spec_.stage->time_factor < 1.0) {
      diag::warning("node {}: its device is emulated {}x faster than this machine, which cannot be reproduced: it "
                    "runs at this machine's speed",
                    spec_.name, 1.0 / spec_.stage->time_factor);
    }
    const std::string work = "ipc://" + options_.run_dir + "/" + spec_.name + ".work";
    const std::string stats = "ipc://" + options_.run_dir + "/" + spec_.name + ".stats";
    work_ = zmq::socket_t(context_, zmq::socket_type::push);
    work_.set(zmq::sockopt::sndhwm, 8 * spec_.stage->replicas);
    work_.set(zmq::sockopt::linger, 0);
    work_.bind(work);
    stats_ = zmq::socket_t(context_, zmq::socket_type::pull);
    stats_.set(zmq::sockopt::linger, 0);
    stats_.bind(stats);
    workers_.resize(static_cast<size_t>(spec_.stage->replicas));
    for (size_t i = 0; i < workers_.size(); ++i) {
      workers_[i].id = static_cast<int>(i);
      spawn(workers_[i], work, stats);
    }
    work_endpoint_ = work;
    stats_endpoint_ = stats;
  }

  void spawn(WorkerState& w, const std::string& work, const std::string& stats) {
    const StageSpec& stage = *spec_.stage;
    const int machine_cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
    std::vector<std::string> args = options_.worker_command;
    std::string cpus;
    for (int c = 0; c < stage.threads; ++c) {
      if (!cpus.empty()) cpus += ",";
      cpus += std::to_string((options_.cpu_offset + w.id * stage.threads + c) % machine_cores);
    }
    for (const std::string& a : {std::string("--slice"), stage.slice_path, std::string("--stage"), std::to_string(stage.index),
                                 std::string("--worker"), std::to_string(w.id), std::string("--threads"),
                                 std::to_string(stage.threads), std::string("--cpus"), cpus, std::string("--work"), work,
                                 std::string("--stats"), stats, std::string("--downstream"), stage.sends_to,
                                 std::string("--next"), std::to_string(stage.next_destination)}) {
      args.push_back(a);
    }
    if (stage.sends_codec != Codec::float32) args.insert(args.end(), {"--codec", codec_name(stage.sends_codec)});
    if (stage.time_factor > 1.0) args.insert(args.end(), {"--time-factor", fmt::format("{}", stage.time_factor)});
    if (!stage.input_shape.empty()) {
      std::string shape;
      for (int64_t d : stage.input_shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
      args.insert(args.end(), {"--warmup-shape", shape});
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw failure("node {}: cannot start a worker (fork failed)", spec_.name);
    if (pid == 0) {
      // A worker never outlives its supervisor.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    w.pid = pid;
    w.alive = true;
    w.ready = false;
    w.windows_before += w.windows;
    w.windows = 0;
    // The stage's memory limit is for all replicas; each gets its share, with
    // headroom for what the cost model does not count (the TorchScript
    // runtime's own allocations when a module is loaded).
    const int64_t share = stage.memory_limit_bytes / stage.replicas;
    // CPU: the stage's t cores, plus a fifth of a core for the worker's
    // transport I/O thread, which the cost model does not count.
    cgroups_.confine(pid, fmt::format("w{}", w.id), stage.threads + 0.2, share + share / 4 + (64LL << 20));
  }

  void start_source_thread() {
    source_thread_ = std::thread([this] {
      try {
        while (options_.wait_for_start && !start_requested_ && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (stop_) return;
        set_source_state("running");
        run_source(context_, spec_, options_.source, source_stats_, stop_);
        set_source_state("done");
      } catch (const Error& e) {
        set_source_state(std::string("failed: ") + e.what());
        diag::print_error(e);
      } catch (const std::exception& e) {
        set_source_state(std::string("failed: ") + e.what());
        diag::print_error_message(e.what());
      }
    });
  }

  void set_source_state(std::string state) {
    std::lock_guard<std::mutex> lock(source_mutex_);
    source_state_ = std::move(state);
  }
  std::string source_state() const {
    std::lock_guard<std::mutex> lock(source_mutex_);
    return source_state_;
  }

  // The plan node that sent a frame: the source for fresh windows and the
  // end of stream, else the node of the last stage in its trace.
  std::string sender_of(const FrameHeader& h) const {
    if (h.kind == FrameKind::end || h.trace.empty()) return spec_.plan.source;
    const size_t stage = h.trace.back().stage;
    if (stage < 1 || stage > spec_.plan.stages.size()) return {};
    return spec_.plan.stages[stage - 1].node;
  }

  void on_public(zmq::message_t& message) {
    const int64_t received = now_ns();
    FrameView frame;
    const DecodeError error = decode(message.data(), message.size(), frame);
    if (error != DecodeError::none) {
      count_bad(decode_error_name(error));
      return;
    }
    if (options_.emulate_links && !released_) {
      const std::string sender = sender_of(frame.header);
      const artifacts::PlanLink* link = sender.empty() || sender == spec_.name ? nullptr : spec_.plan.find_link(sender, spec_.name);
      if (link != nullptr) {
        // Serialization at the link's bandwidth, in order, then its latency.
        int64_t& busy = link_busy_until_[sender];
        const int64_t start = std::max(busy, frame.header.send_ns);
        const auto serialize_ns = static_cast<int64_t>(static_cast<double>(frame.payload_bytes) * 8.0 /
                                                       (link->bandwidth_mbps * 1e6) * 1e9);
        busy = start + serialize_ns;
        delayed_.emplace(busy + static_cast<int64_t>(link->latency_ms * 1e6), std::move(message));
        return;
      }
    }
    const uint16_t destination = frame.header.destination;
    if (spec_.stage && destination == spec_.stage->index && frame.header.kind == FrameKind::data) {
      ++dispatched_;
      // Straight to a worker when one can take it; else it waits in order.
      if (backlog_.empty() && work_.send(message, zmq::send_flags::dontwait)) return;
      backlog_.push_back(std::move(message));
      return;
    }
    if (sink_ && destination == kSinkDestination) {
      sink_->on_frame(frame, received);
      return;
    }
    count_bad("not addressed to this node");
  }

  void count_bad(const std::string& kind) {
    if (bad_[kind]++ == 0) {
      diag::warning("node {}: dropped a bad frame ({}); further ones of this kind are only counted", spec_.name, kind);
    }
  }

  void on_stats(const std::string& line) {
    std::istringstream in(line);
    std::string field;
    std::map<std::string, std::string> values;
    while (in >> field) {
      const size_t eq = field.find('=');
      if (eq != std::string::npos) values[field.substr(0, eq)] = field.substr(eq + 1);
    }
    try {
      const auto id = static_cast<size_t>(std::stoi(values.at("worker")));
      if (id >= workers_.size()) return;
      WorkerState& w = workers_[id];
      w.windows = std::stoll(values.at("windows"));
      w.p50 = std::stod(values.at("p50"));
      w.p95 = std::stod(values.at("p95"));
      w.rss = std::stoll(values.at("rss"));
      w.hwm = std::max(w.hwm, std::stoll(values.at("hwm")));
      w.bad = std::stoll(values.at("bad"));
      w.ready = values.count("ready") != 0;
    } catch (const std::exception&) {
      count_bad("malformed worker report");
    }
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      for (WorkerState& w : workers_) {
        if (w.pid != pid) continue;
        w.alive = false;
        if (stopping_) break;
        const std::string how = WIFSIGNALED(status) ? fmt::format("was killed by signal {}", WTERMSIG(status))
                                                    : fmt::format("exited with code {}", WEXITSTATUS(status));
        if (w.restarts < options_.max_restarts) {
          ++w.restarts;
          diag::warning("node {}: worker {} (pid {}) {}; restarting it ({}/{})", spec_.name, w.id, pid, how, w.restarts,
                        options_.max_restarts);
          spawn(w, work_endpoint_, stats_endpoint_);
        } else {
          diag::warning("node {}: worker {} (pid {}) {}; restarted {} times already, giving up on it", spec_.name, w.id,
                        pid, how, w.restarts);
        }
      }
    }
  }

  long long processed() const {
    long long total = 0;
    for (const auto& w : workers_) total += w.windows_before + w.windows;
    return total;
  }

  std::string status_json() const {
    std::string workers;
    for (const auto& w : workers_) {
      if (!workers.empty()) workers += ", ";
      workers += fmt::format(
          "{{\"id\": {}, \"pid\": {}, \"alive\": {}, \"restarts\": {}, \"windows\": {}, \"compute_ms_p50\": {:.4f}, "
          "\"compute_ms_p95\": {:.4f}, \"rss_bytes\": {}, \"peak_rss_bytes\": {}, \"bad_frames\": {}}}",
          w.id, w.pid, w.alive ? "true" : "false", w.restarts, w.windows_before + w.windows, w.p50, w.p95, w.rss, w.hwm,
          w.bad);
    }
    std::string bad;
    long long bad_total = 0;
    for (const auto& [kind, count] : bad_) {
      if (!bad.empty()) bad += ", ";
      bad += fmt::format("\"{}\": {}", kind, count);
      bad_total += count;
    }
    long long peak = peak_resident_bytes();
    for (const auto& w : workers_) peak += w.hwm;
    bool ready = true;
    for (const auto& w : workers_) ready = ready && w.ready;
    std::string json = fmt::format("{{\"node\": \"{}\", \"ready\": {}, \"uptime_s\": {:.1f}, \"rss_bytes\": {}, \"peak_rss_bytes\": {}, "
                                   "\"confinement\": \"{}\", \"bad_frames\": {{{}}}, \"bad_frames_total\": {}",
                                   spec_.name, ready ? "true" : "false", static_cast<double>(now_ns() - start_ns_) / 1e9,
                                   resident_bytes(), peak,
                                   cgroups_.mode(), bad, bad_total);
    if (spec_.source) {
      json += fmt::format(", \"source\": {{\"state\": \"{}\", \"sent\": {}, \"total\": {}, \"bytes\": {}}}", source_state(),
                          source_stats_.sent.load(), source_stats_.total.load(), source_stats_.bytes.load());
    }
    if (spec_.stage) {
      json += fmt::format(", \"stage\": {{\"index\": {}, \"dispatched\": {}, \"processed\": {}, \"queue_depth\": {}, "
                          "\"workers\": [{}]}}",
                          spec_.stage->index, dispatched_, processed(),
                          std::max(0LL, dispatched_ - processed()), workers);
    }
    if (sink_) json += fmt::format(", \"sink\": {}", sink_->summary().to_json());
    return json + "}";
  }

  void on_control(const std::string& request) {
    std::string reply;
    if (request == "status") {
      reply = status_json();
    } else if (request == "start") {
      start_requested_ = true;
      reply = "{\"ok\": true}";
    } else if (request == "stop") {
      stop_requested_ = true;
      reply = "{\"ok\": true}";
    } else {
      reply = "{\"error\": \"unknown request\"}";
    }
    control_.send(zmq::buffer(reply), zmq::send_flags::none);
  }

  void release_delayed() {
    const int64_t now = now_ns();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      zmq::message_t message = std::move(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
      released_ = true;
      on_public(message);
      released_ = false;
    }
  }

  void loop() {
    while (true) {
      if (diag::interrupted() || stop_requested_) break;
      release_delayed();
      std::vector<zmq::pollitem_t> items;
      items.push_back({control_.handle(), 0, ZMQ_POLLIN, 0});
      // While windows wait for a free worker, stop taking new ones: the
      // upstream queue fills and its sender slows down (back-pressure).
      const bool accept = backlog_.empty() && delayed_.size() < static_cast<size_t>(options_.receive_hwm);
      items.push_back({public_.handle(), 0, static_cast<short>(accept ? ZMQ_POLLIN : 0), 0});
      if (spec_.stage) {
        items.push_back({work_.handle(), 0, static_cast<short>(backlog_.empty() ? 0 : ZMQ_POLLOUT), 0});
        items.push_back({stats_.handle(), 0, ZMQ_POLLIN, 0});
      }
      long wait_ms = 20;
      if (!delayed_.empty()) wait_ms = std::clamp<long>((delayed_.begin()->first - now_ns()) / 1'000'000, 0, 20);
      // Spin briefly before sleeping (see transport.h), then block.
      const int64_t spin_until = now_ns() + 60'000;
      int ready = 0;
      do {
        ready = zmq::poll(items.data(), items.size(), std::chrono::milliseconds(0));
      } while (ready == 0 && now_ns() < spin_until);
      if (ready == 0) zmq::poll(items.data(), items.size(), std::chrono::milliseconds(wait_ms));
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t request;
        if (control_.recv(request, zmq::recv_flags::dontwait)) on_control(request.to_string());
      }
      if (items[1].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 256 && backlog_.empty(); ++i) {
          zmq::message_t message;
          if (!public_.recv(message, zmq::recv_flags::dontwait)) break;
          on_public(message);
        }
      }
      if (spec_.stage) {
        while (!backlog_.empty()) {
          if (!work_.send(backlog_.front(), zmq::send_flags::dontwait)) break;
          backlog_.pop_front();
        }
        for (int i = 0; i < 64; ++i) {
          zmq::message_t line;
          if (!stats_.recv(line, zmq::recv_flags::dontwait)) break;
          on_stats(line.to_string());
        }
        reap();
      }
      if (sink_) sink_->tick(now_ns());
    }
  }

  void shutdown() {
    stopping_ = true;
    stop_ = true;
    diag::note("node {}: stopping", spec_.name);
    if (source_thread_.joinable()) source_thread_.join();
    // Drain: let the workers finish what they hold (bounded).
    const int64_t deadline = now_ns() + 2'000'000'000;
    while (spec_.stage && now_ns() < deadline && (processed() < dispatched_ - static_cast<long long>(backlog_.size()))) {
      zmq::message_t line;
      if (stats_.recv(line, zmq::recv_flags::dontwait)) on_stats(line.to_string());
      else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (const auto& w : workers_) {
      if (w.alive) kill(w.pid, SIGTERM);
    }
    const int64_t kill_deadline = now_ns() + 3'000'000'000;
    for (auto& w : workers_) {
      while (w.alive) {
        int status = 0;
        const pid_t done = waitpid(w.pid, &status, WNOHANG);
        if (done == w.pid || done < 0) {
          w.alive = false;
          break;
        }
        if (now_ns() > kill_deadline) kill(w.pid, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    if (sink_ && !sink_->done()) sink_->finish();
    if (sink_) {
      std::FILE* f = std::fopen((fs::path(options_.run_dir) / (spec_.name + ".summary.json")).c_str(), "w");
      if (f) {
        std::fputs((sink_->summary().to_json() + "\n").c_str(), f);
        std::fclose(f);
      }
    }
  }

  const NodeSpec& spec_;
  SupervisorOptions options_;
  zmq::context_t context_;
  zmq::socket_t public_, control_, work_, stats_;
  std::string work_endpoint_, stats_endpoint_;
  std::deque<zmq::message_t> backlog_;
  std::multimap<int64_t, zmq::message_t> delayed_;  // emulated links: release time -> frame
  std::map<std::string, int64_t> link_busy_until_;  // per sending node
  bool released_ = false;
  std::vector<WorkerState> workers_;
  Cgroups cgroups_;
  std::optional<Sink> sink_;
  std::thread source_thread_;
  SourceStats source_stats_;
  mutable std::mutex source_mutex_;
  std::string source_state_ = "waiting";  // guarded by source_mutex_
  std::atomic<bool> start_requested_{false};
  std::atomic<bool> stop_{false};
  bool stop_requested_ = false;
  bool stopping_ = false;
  long long dispatched_ = 0;
  std::map<std::string, long long> bad_;
  int64_t start_ns_;
};

}  // namespace

int run_supervisor(const NodeSpec& spec, const SupervisorOptions& options) {
  diag::install_interrupt_handler();
  signal(SIGPIPE, SIG_IGN);
  Supervisor supervisor(spec, options);
  return supervisor.run();
}

}  // namespace hare::runtime
