#include "runtime/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/memory.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/cgroup.h"
#include "runtime/control.h"
#include "runtime/data_port.h"
#include "runtime/fanout.h"
#include "runtime/frame.h"
#include "runtime/link_emulator.h"
#include "runtime/sink.h"
#include "runtime/transport.h"
#include "runtime/worker_pool.h"

namespace hare::runtime {
namespace fs = std::filesystem;

namespace {

bool same_destinations(const std::vector<Destination>& a, const std::vector<Destination>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Destination& x, const Destination& y) {
    return x.endpoint == y.endpoint && x.node == y.node && x.share == y.share && x.codec == y.codec;
  });
}

// Whether workers started for stage `a` can run stage `b`: the same slice
// bytes, replicas, place in the group and input (a switch then keeps them,
// with no torch start, and at most gives them new destinations). The
// slice's path may differ (another plan directory with the same file).
bool same_computation(const StageSpec& a, const StageSpec& b) {
  return a.index == b.index && a.slice_sha256 == b.slice_sha256 && a.member == b.member && a.replicas == b.replicas &&
         a.threads == b.threads && a.memory_limit_bytes == b.memory_limit_bytes && a.time_factor == b.time_factor &&
         a.input_shape == b.input_shape && a.input_values == b.input_values && a.input_codec == b.input_codec;
}

bool same_targets(const StageSpec& a, const StageSpec& b) {
  return same_destinations(a.sends_to, b.sends_to) && a.next_destination == b.next_destination;
}

// The source role runs in its own thread (it paces windows in real time);
// its state is read by status requests from the loop.
class SourceRunner {
 public:
  SourceRunner(zmq::context_t& context, const NodeSpec& spec, const SourceOptions& options, bool wait_for_start,
               const DeploymentKeys* keys)
      : context_(context),
        spec_(spec),
        options_(options),
        wait_for_start_(wait_for_start),
        keys_(keys),
        control_(options.replay_windows) {}
  ~SourceRunner() { stop(); }

  void start_thread() {
    thread_ = std::thread([this] {
      try {
        while (wait_for_start_ && !start_requested_ && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (stop_) return;
        set_state("running");
        run_source(context_, spec_, options_, stats_, stop_, keys_, &control_);
        set_state("done");
      } catch (const Error& e) {
        set_state(std::string("failed: ") + e.what());
        diag::print_error(e);
      } catch (const std::exception& e) {
        set_state(std::string("failed: ") + e.what());
        diag::print_error_message(e.what());
      }
    });
  }
  void request_start() { start_requested_ = true; }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  SourceControl& control() { return control_; }
  // Still sending (or replaying); not waiting for "start", done or failed.
  bool running() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return state_ == "running";
  }
  SourceStatus status() const {
    SourceStatus s;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      s.state = state_;
    }
    // Every window sent: done, though the thread stays to replay the
    // unacknowledged ones if the node switches plans.
    if (s.state == "running" && stats_.done) s.state = "done";
    s.sent = stats_.sent.load();
    s.total = stats_.total.load();
    s.bytes = stats_.bytes.load();
    control_.fill(s);
    return s;
  }

 private:
  void set_state(std::string state) {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = std::move(state);
  }

  zmq::context_t& context_;
  const NodeSpec spec_;  // the plan it started with; a switch gives it new destinations through control_
  SourceOptions options_;
  bool wait_for_start_;
  const DeploymentKeys* keys_;  // the supervisor's; null under --insecure
  SourceControl control_;
  std::thread thread_;
  SourceStats stats_;
  std::atomic<bool> start_requested_{false};
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string state_ = "waiting";  // guarded by mutex_
};

class Supervisor {
 public:
  Supervisor(const NodeSpec& spec, const SupervisorOptions& options)
      : spec_(spec),
        options_(options),
        listen_(spec.listen),
        context_(2),
        // Two deployments may both have a node "gw": the run directory tells
        // them apart, so each gets cgroups of its own.
        cgroups_(spec.name + "-" + sha256_hex(options.run_dir).substr(0, 8)),
        start_ns_(now_ns()) {}

  int run() {
    if (spec_.source) check_source_files(options_.source);
    // Private before anything is bound or written in it (common/fs.h).
    make_private_dir(options_.run_dir);
    bind_public();
    control_.emplace(context_, control_endpoint(options_.run_dir, spec_.name),
                     ControlServer::Handlers{[this](bool footprint) {
                                               last_request_ns_ = now_ns();
                                               return status(footprint);
                                             },
                                             [this] {
                                               last_request_ns_ = now_ns();
                                               if (source_) source_->request_start();
                                             },
                                             [this] { stop_requested_ = true; },
                                             [this](const std::string& plan_dir) {
                                               last_request_ns_ = now_ns();
                                               return switch_plan(plan_dir);
                                             },
                                             [this](const SinkAck& ack) -> std::string {
                                               last_request_ns_ = now_ns();
                                               if (!source_) return fmt::format("node {} is not the source", spec_.name);
                                               source_->control().ack(ack);
                                               return "";
                                             },
                                             [this](bool pause) -> std::string {
                                               last_request_ns_ = now_ns();
                                               if (!source_) return fmt::format("node {} is not the source", spec_.name);
                                               if (pause) {
                                                 source_->control().pause(now_ns() +
                                                                          static_cast<int64_t>(kSourcePauseS * 1e9));
                                               } else {
                                                 source_->control().resume();
                                               }
                                               return "";
                                             }});
    try {
      if (spec_.stage) start_stage();
      if (spec_.sink) sink_.emplace(spec_.card, run_file(".predictions.jsonl"), options_.gap_wait);
      if (spec_.source) {
        source_ = std::make_unique<SourceRunner>(context_, spec_, options_.source, options_.wait_for_start,
                                                 options_.keys ? &*options_.keys : nullptr);
        source_->start_thread();
      }
      diag::note("node {} up: listening on {}, {}", spec_.name, spec_.listen, roles_text());
      loop();
    } catch (...) {
      // Whatever failed, while starting or running, the workers and the
      // source stop (and leave their cgroups) before the error is reported;
      // the summary is still written if it can be.
      try {
        shutdown();
      } catch (const std::exception&) {
      }
      throw;
    }
    shutdown();
    return diag::interrupted() ? static_cast<int>(ExitCode::interrupted) : 0;
  }

 private:
  std::string run_file(const std::string& suffix) const { return runtime::run_file(options_.run_dir, spec_.name, suffix); }

  std::string roles_text() const {
    if (!spec_.source && !spec_.stage && !spec_.sink) return "no roles (idle)";
    return fmt::format("roles{}{}{}", spec_.source ? " source" : "",
                       spec_.stage ? fmt::format(" stage {}{} ({} x {} threads, {}, {})", spec_.stage->index,
                                                 spec_.stage->group.size() > 1
                                                     ? fmt::format(" as member {} of its group [{}], share {}",
                                                                   spec_.stage->member + 1, join(spec_.stage->group, ", "),
                                                                   spec_.stage->share)
                                                     : "",
                                                 spec_.stage->replicas, spec_.stage->threads,
                                                 options_.process_per_replica || spec_.stage->replicas == 1
                                                     ? "one process per replica"
                                                     : "replicas as threads of one process",
                                                 cgroups_.mode())
                                   : "",
                       spec_.sink ? " sink" : "");
  }

  // Why the node cannot take `next` without restarting, or "".
  std::string unswitchable(const NodeSpec& next) const {
    std::vector<std::string> why;
    if (next.plan.source != spec_.plan.source || next.plan.sink != spec_.plan.sink) {
      why.push_back(fmt::format("its source and sink are {} and {}, this run's {} and {}: a switch keeps them on their "
                                "nodes",
                                next.plan.source, next.plan.sink, spec_.plan.source, spec_.plan.sink));
    }
    if (!next.listen.empty() && next.listen != listen_) {
      why.push_back(fmt::format("it gives node {} the address {}, but the node listens on {}: a switch keeps its port",
                                spec_.name, next.listen, listen_));
    }
    if (options_.keys) {
      for (const auto& node : next.plan.nodes) {
        if (options_.keys->peers.count(node.name) == 0) {
          why.push_back(fmt::format("its node {} has no key in this run's keys ({})", node.name, options_.keys_path));
        }
      }
    }
    return join(why, "; ");
  }

  // "switch <plan_dir>" (control.h): "" when the new roles are up, else
  // what failed, with the node back on its old plan.
  std::string switch_plan(const std::string& plan_dir) {
    NodeSpec next;
    try {
      next = load_node_spec(plan_dir, spec_.name, options_.local_addresses, /*idle_if_absent=*/true);
    } catch (const Error& e) {
      return fmt::format("switch to {}: {}; node {} keeps plan {}", plan_dir, e.what(), spec_.name, spec_.plan_dir);
    }
    if (const std::string why = unswitchable(next); !why.empty()) {
      return fmt::format("switch to {}: {}; node {} keeps plan {}", plan_dir, why, spec_.name, spec_.plan_dir);
    }
    const int64_t started_ns = now_ns();
    const bool keep_workers = pool_ && next.stage && same_computation(*spec_.stage, *next.stage);
    bool retargeted = keep_workers && !same_targets(*spec_.stage, *next.stage);
    NodeSpec previous = spec_;
    if (!keep_workers) stop_stage();
    // In place: the sink's model card and a kept launcher's stage refer into
    // spec_ (a kept worker that restarts gets the new destinations).
    spec_ = std::move(next);
    if (retargeted && !retarget_workers()) {
      diag::warning("node {}: not every worker took the new destinations: starting them again", spec_.name);
      retargeted = false;
      stop_stage();
    }
    if (!pool_ && spec_.stage) {
      try {
        start_stage();
        wait_until_ready();
      } catch (const Error& e) {
        const std::string failed = e.what();
        stop_stage();
        spec_ = std::move(previous);
        try {
          if (spec_.stage) start_stage();
        } catch (const Error& again) {
          return fmt::format("switch to {}: {}; and going back to plan {} failed too: {}", plan_dir, failed,
                             spec_.plan_dir, again.what());
        }
        return fmt::format("switch to {}: {}; node {} went back to plan {}", plan_dir, failed, spec_.name,
                           spec_.plan_dir);
      }
    }
    // Never smaller: connections made before the switch keep their limit anyway.
    port_->set_max_frame_bytes(std::max(port_->status().max_message_bytes, max_frame_bytes(spec_)));
    if (sink_) sink_->on_plan_switch(now_ns());
    ++plan_switches_;
    if (source_) {
      const uint64_t request = source_->control().request_switch(spec_.first_stage, spec_.plan_tag);
      // A source that waits for "start", or is done, takes it when (if) it sends again.
      const int64_t deadline = now_ns() + 5'000'000'000;
      while (source_->running() && !source_->control().switched(request) && now_ns() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (source_->running() && !source_->control().switched(request)) {
        return fmt::format("switch to {}: the source did not take the new first stage within 5 s", plan_dir);
      }
    }
    diag::note("node {}: switched to plan {} in {:.0f} ms ({}): {}", spec_.name, spec_.plan_dir,
               static_cast<double>(now_ns() - started_ns) / 1e6,
               !previous.stage && !spec_.stage ? "no workers"
               : retargeted                    ? "workers kept, sending to the new next hop"
               : keep_workers && pool_         ? "workers kept"
               : spec_.stage                   ? "workers replaced"
                                               : "workers stopped",
               roles_text());
    return "";
  }

  // Gives the running workers the new plan's destinations (WorkerTarget);
  // true once every live replica reports taking them, false if one did not
  // within 3 s (it missed the message: it is then restarted).
  bool retarget_workers() {
    WorkerTarget target;
    target.generation = ++target_generation_;
    const DestinationLists lists = to_lists(spec_.stage->sends_to);
    target.endpoints = lists.endpoints;
    target.nodes = lists.nodes;
    target.shares = lists.shares;
    target.codecs = lists.codecs;
    target.next_destination = spec_.stage->next_destination;
    targets_.send(zmq::buffer(record_line(target)), zmq::send_flags::dontwait);
    const int64_t deadline = now_ns() + 3'000'000'000;
    const auto all_took = [&] {
      const std::vector<WorkerStatus> replicas = pool_->status();
      return std::all_of(replicas.begin(), replicas.end(),
                         [&](const WorkerStatus& r) { return !r.alive || r.target >= target.generation; });
    };
    while (!all_took()) {
      if (now_ns() > deadline || diag::interrupted()) return false;
      port_->serve();
      drain_stats(64);
      pool_->reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  // The new stage's workers loaded and warmed up (or a failure naming why
  // not). The loop waits here: frames wait in their queues meanwhile.
  void wait_until_ready() {
    const int64_t deadline = now_ns() + static_cast<int64_t>(options_.switch_ready_timeout_s * 1e9);
    while (!pool_->ready()) {
      if (diag::interrupted()) throw failure("node {}: interrupted while its new workers started", spec_.name);
      if (now_ns() > deadline) {
        throw failure("node {}: stage {}'s workers were not ready within {:.0f} s", spec_.name, spec_.stage->index,
                      options_.switch_ready_timeout_s);
      }
      port_->serve();
      drain_stats(64);
      pool_->reap();
      if (pool_->alive() == 0) {
        throw failure("node {}: stage {} has no live worker: {}", spec_.name, spec_.stage->index, pool_->last_exit());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Stops the stage's workers (for a switch); windows still waiting for
  // them are dropped and counted: the source replays them.
  void stop_stage() {
    if (!pool_) return;
    // Briefly: a worker blocked on a lost node's full queue would otherwise
    // linger out its sends; what the workers held is replayed anyway.
    pool_->stop(std::chrono::milliseconds(300));
    drain_stats(1000);
    if (!backlog_.empty()) bad_["for a stage this node no longer runs"] += static_cast<long long>(backlog_.size());
    backlog_.clear();
    pool_.reset();
    launcher_.reset();
    dispatched_ = 0;
  }

  void bind_public() {
    DataPortOptions port;
    port.node = spec_.name;
    port.endpoint = spec_.listen;
    port.keys = options_.keys ? &*options_.keys : nullptr;
    port.receive_hwm = options_.receive_hwm;
    port.max_frame_bytes = max_frame_bytes(spec_);
    port.max_connections = options_.max_connections;
    port_.emplace(context_, port);
    if (!options_.keys) {
      diag::warning("node {} listens on {} with --insecure: its frames are neither authenticated nor encrypted, and "
                    "anyone who can reach that address can feed or stop this run",
                    spec_.name, spec_.listen);
    }
  }

  void start_stage() {
    const StageSpec& stage = *spec_.stage;
    if (stage.time_factor < 1.0) {
      diag::warning("node {}: its device is emulated {}x faster than this machine, which cannot be reproduced: it "
                    "runs at this machine's speed",
                    spec_.name, 1.0 / stage.time_factor);
    }
    const ProcessLauncher::Endpoints endpoints{ipc_endpoint(options_.run_dir, spec_.name, ".work"),
                                               ipc_endpoint(options_.run_dir, spec_.name, ".stats"),
                                               ipc_endpoint(options_.run_dir, spec_.name, ".targets")};
    // Bound once: a switch's new workers connect to the same sockets.
    if (!work_) {
      work_ = zmq::socket_t(context_, zmq::socket_type::push);
      work_.set(zmq::sockopt::linger, 0);
      bind_private_ipc(work_, endpoints.work);
      stats_ = zmq::socket_t(context_, zmq::socket_type::pull);
      stats_.set(zmq::sockopt::linger, 0);
      bind_private_ipc(stats_, endpoints.stats);
      targets_ = zmq::socket_t(context_, zmq::socket_type::pub);
      targets_.set(zmq::sockopt::linger, 0);
      bind_private_ipc(targets_, endpoints.targets);
    }
    work_.set(zmq::sockopt::sndhwm, 8 * stage.replicas);  // for the workers that connect from now on
    launcher_.emplace(spec_.name, stage, options_.worker_command, options_.cpu_offset, endpoints, cgroups_,
                      options_.keys_path);
    pool_.emplace(spec_.name, replica_groups(stage.replicas, options_.process_per_replica), *launcher_,
                  RestartPolicy{options_.max_restarts});
    pool_->start();
  }

  // A frame from the public socket (or released by the link emulator).
  void on_public(zmq::message_t& message, bool delayed) {
    const int64_t received = now_ns();
    FrameView frame;
    const DecodeError error = decode(message.data(), message.size(), frame);
    if (error != DecodeError::none) {
      count_bad(decode_error_name(error));
      return;
    }
    // Only frames the plan makes go on: a worker or the sink never sees one
    // it could not have been sent (an attacker's shape, a stray end of stream).
    if (const std::string why = unplanned_frame(spec_, frame.header); !why.empty()) {
      count_bad(why);
      return;
    }
    if (options_.emulate_links && !delayed) {
      const std::string sender = sender_of(spec_.plan, frame.header);
      const artifacts::PlanLink* link =
          sender.empty() || sender == spec_.name ? nullptr : spec_.plan.find_link(sender, spec_.name);
      if (link != nullptr) {
        const int64_t release = links_.delivery_ns(sender, EmulatedLink{link->bandwidth_mbps, link->latency_ms},
                                                   frame.payload_bytes, frame.header.send_ns);
        links_.hold(release, std::move(message));
        return;
      }
    }
    const uint16_t destination = frame.header.destination;
    if (spec_.stage && destination == spec_.stage->index) {
      ++dispatched_;
      // Straight to a worker when one can take it; else it waits in order.
      if (backlog_.empty() && work_.send(message, zmq::send_flags::dontwait)) return;
      backlog_.push_back(std::move(message));
      return;
    }
    if (sink_ && destination == kSinkDestination) sink_->on_frame(frame, received);
  }

  void count_bad(const std::string& kind) {
    if (bad_[kind]++ == 0) {
      diag::warning("node {}: dropped a bad frame ({}); further ones of this kind are only counted", spec_.name, kind);
    }
  }

  void on_stats(const zmq::message_t& message) {
    try {
      pool_->on_report(parse_record<WorkerReport>(message.to_string(), "a worker report"));
    } catch (const Error&) {
      count_bad("malformed worker report");
    }
  }

  // Read from /proc at most once a second while the workers stay as they
  // are: smaps_rollup walks a process's page tables, 1-3 ms for
  // a torch worker, and the deployer asks for the status up to 50 times a
  // second. A worker that starts, dies or becomes ready is measured at once.
  const NodeMemory& memory() {
    std::vector<int> workers;  // what the measurement is of: live pids, then whether all are ready
    if (pool_) {
      for (const WorkerProcess& p : pool_->processes()) {
        if (p.alive) workers.push_back(static_cast<int>(p.pid));
      }
      workers.push_back(pool_->ready() ? 1 : 0);
    }
    if (memory_ns_ != 0 && workers == memory_of_ && now_ns() - memory_ns_ < 1'000'000'000) return memory_;
    memory_ = NodeMemory{};
    if (const auto self = read_process_memory(getpid())) memory_.supervisor = *self;
    memory_.total = memory_.supervisor;
    if (pool_) {
      for (const WorkerProcess& p : pool_->processes()) {
        if (!p.alive) continue;
        // Gone since the pool last reaped: not counted.
        const auto measured = read_process_memory(p.pid);
        if (!measured) continue;
        memory_.workers.push_back(WorkerProcessMemory{static_cast<int>(p.pid), p.replicas, *measured, p.peak_rss_bytes});
        memory_.total += *measured;
      }
    }
    memory_ns_ = now_ns();
    memory_of_ = std::move(workers);
    return memory_;
  }

  NodeStatus status(bool footprint = false) {
    NodeStatus s;
    s.node = spec_.name;
    s.plan_dir = spec_.plan_dir;
    s.plan_switches = plan_switches_;
    s.uptime_s = static_cast<double>(now_ns() - start_ns_) / 1e9;
    s.memory = memory();
    if (footprint) {
      std::vector<pid_t> pids = {getpid()};
      for (const WorkerProcessMemory& worker : s.memory.workers) pids.push_back(worker.pid);
      s.memory.alone_bytes = alone_footprint_bytes(pids);
    }
    s.peak_rss_bytes = peak_resident_bytes() + (pool_ ? pool_->peak_rss_bytes() : 0);
    s.confinement = cgroups_.mode();
    s.bad_frames = bad_;
    s.data_port = port_->status();
    for (const auto& [kind, count] : bad_) s.bad_frames_total += count;
    s.ready = !pool_ || pool_->ready();
    if (source_) s.source = source_->status();
    if (pool_) {
      StageStatus stage;
      stage.index = spec_.stage->index;
      stage.group = spec_.stage->group;
      stage.member = spec_.stage->member;
      stage.share = spec_.stage->share;
      stage.dispatched = dispatched_;
      stage.processed = pool_->processed();
      stage.queue_depth = std::max(0LL, dispatched_ - stage.processed);
      stage.workers = pool_->status();
      s.stage = stage;
    }
    if (sink_) s.sink = sink_->summary();
    return s;
  }

  void loop() {
    while (true) {
      if (diag::interrupted() || stop_requested_) break;
      for (zmq::message_t& message : links_.take_due(now_ns())) on_public(message, true);
      std::vector<zmq::pollitem_t> items;
      items.push_back({control_->socket().handle(), 0, ZMQ_POLLIN, 0});
      // While windows wait for a free worker, stop taking new ones: the
      // upstream queue fills and its sender slows down (back-pressure).
      const bool accept = backlog_.empty() && links_.held() < static_cast<size_t>(options_.receive_hwm);
      items.push_back({port_->socket().handle(), 0, static_cast<short>(accept ? ZMQ_POLLIN : 0), 0});
      if (pool_) {
        items.push_back({work_.handle(), 0, static_cast<short>(backlog_.empty() ? 0 : ZMQ_POLLOUT), 0});
        items.push_back({stats_.handle(), 0, ZMQ_POLLIN, 0});
      }
      // Handshakes (ZAP) and connection events are served even while the
      // data socket is not read.
      port_->append_poll_items(items);
      long wait_ms = 20;
      if (const auto next = links_.next_release_ns()) wait_ms = std::clamp<long>((*next - now_ns()) / 1'000'000, 0, 20);
      // Spin briefly before sleeping (see transport.h), then block.
      const int64_t spin_until = now_ns() + 60'000;
      int ready = 0;
      do {
        ready = poll_interruptible(items.data(), items.size(), std::chrono::milliseconds(0));
      } while (ready == 0 && now_ns() < spin_until && !diag::interrupted());
      if (ready == 0) poll_interruptible(items.data(), items.size(), std::chrono::milliseconds(wait_ms));
      if (items[0].revents & ZMQ_POLLIN) control_->serve_pending();
      port_->serve();
      if (items[1].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 256 && backlog_.empty(); ++i) {
          zmq::message_t message;
          if (!port_->socket().recv(message, zmq::recv_flags::dontwait)) break;
          on_public(message, false);
        }
      }
      if (pool_) {
        while (!backlog_.empty()) {
          if (!work_.send(backlog_.front(), zmq::send_flags::dontwait)) break;
          backlog_.pop_front();
        }
        drain_stats(64);
        pool_->reap();
        if (pool_->alive() == 0) {
          throw failure("node {}: stage {} has no live worker: {}; see this node's log", spec_.name,
                        spec_.stage->index, pool_->last_exit());
        }
      }
      if (sink_) sink_->tick(now_ns());
      // Source and sink on this node: the sink acknowledges in-process (else
      // whoever watches relays "ack" from the sink's status to the source).
      if (sink_ && source_) source_->control().ack(sink_ack(sink_->summary()));
      check_lease();
    }
  }

  // SupervisorOptions::lease_s: no request for that long ends the node.
  void check_lease() const {
    if (options_.lease_s <= 0) return;
    const double silent_s = static_cast<double>(now_ns() - last_request_ns_) / 1e9;
    if (silent_s > options_.lease_s) {
      throw failure("node {}: its lease ran out: no request from the deploying process for {:.0f} s (--lease-s {}); "
                    "stopping, as hare-deploy would have",
                    spec_.name, silent_s, options_.lease_s)
          .with_hint("the deploying hare-deploy was stopped or lost its connection to this node");
    }
  }

  void drain_stats(int limit) {
    for (int i = 0; i < limit; ++i) {
      zmq::message_t message;
      if (!stats_.recv(message, zmq::recv_flags::dontwait)) break;
      on_stats(message);
    }
  }

  void shutdown() {
    diag::note("node {}: stopping", spec_.name);
    if (source_) source_->stop();
    if (pool_) {
      // Drain: let the workers finish what they hold (bounded).
      const int64_t deadline = now_ns() + 2'000'000'000;
      while (now_ns() < deadline && pool_->processed() < dispatched_ - static_cast<long long>(backlog_.size())) {
        drain_stats(64);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      pool_->stop(std::chrono::milliseconds(3000));
    }
    if (sink_) {
      if (!sink_->done()) sink_->finish();
      write_file_atomic(run_file(".summary.json"), record_line(sink_->summary()) + "\n", FileAccess::owner_only);
    }
  }

  NodeSpec spec_;  // the plan it runs now ("switch" replaces it)
  SupervisorOptions options_;
  std::string listen_;  // where the public port is bound: a switch keeps it
  int plan_switches_ = 0;
  zmq::context_t context_;
  Cgroups cgroups_;
  std::optional<DataPort> port_;
  zmq::socket_t work_, stats_;
  zmq::socket_t targets_;  // PUB: new destinations for kept workers (WorkerTarget)
  long long target_generation_ = 0;
  std::optional<ControlServer> control_;
  std::optional<ProcessLauncher> launcher_;
  std::optional<WorkerPool> pool_;
  LinkEmulator links_;
  std::deque<zmq::message_t> backlog_;  // windows for the stage, waiting for a free worker
  std::optional<Sink> sink_;
  std::unique_ptr<SourceRunner> source_;
  bool stop_requested_ = false;
  long long dispatched_ = 0;
  std::map<std::string, long long> bad_;
  int64_t start_ns_;
  int64_t last_request_ns_ = now_ns();  // the lease's last renewal
  NodeMemory memory_;                   // as of memory_ns_ (0: never measured), of memory_of_
  int64_t memory_ns_ = 0;
  std::vector<int> memory_of_;
};

}  // namespace

int run_supervisor(const NodeSpec& spec, const SupervisorOptions& options) {
  diag::install_interrupt_handler();
  signal(SIGPIPE, SIG_IGN);
  // Strangers' connections take descriptors: as many as this user may have
  // (the connection cap follows the limit; data_port.h).
  raise_descriptor_limit();
  Supervisor supervisor(spec, options);
  return supervisor.run();
}

}  // namespace hare::runtime
