#include "runtime/worker_pool.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "common/diag.h"
#include "common/error.h"
#include "common/process.h"
#include "runtime/fanout.h"

namespace hare::runtime {

ProcessLauncher::ProcessLauncher(std::string node, const StageSpec& stage, std::vector<std::string> worker_command,
                                 int cpu_offset, Endpoints endpoints, Cgroups& cgroups, std::string keys_path)
    : node_(std::move(node)),
      stage_(stage),
      worker_command_(std::move(worker_command)),
      cpu_offset_(cpu_offset),
      endpoints_(std::move(endpoints)),
      cgroups_(cgroups),
      keys_path_(std::move(keys_path)) {}

ReplicaGroups replica_groups(int replicas, bool process_per_replica) {
  ReplicaGroups groups;
  for (int r = 0; r < std::max(1, replicas); ++r) {
    if (process_per_replica || groups.empty()) groups.emplace_back();
    groups.back().push_back(r);
  }
  return groups;
}

std::string worker_process_name(const std::vector<int>& replicas) {
  if (replicas.size() == 1) return fmt::format("worker {}", replicas[0]);
  return fmt::format("worker process of replicas {}", fmt::join(replicas, ","));
}

std::vector<std::string> ProcessLauncher::command(const std::vector<int>& replicas) const {
  const int machine_cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  // Replica i's t cores, in replica order: the worker pins each replica
  // thread to its own t of them.
  // cpu_offset < 0: not pinned (the node's cores are shared with others).
  std::vector<int> cpus;
  for (int replica : replicas) {
    for (int c = 0; c < stage_.threads && cpu_offset_ >= 0; ++c) {
      cpus.push_back((cpu_offset_ + replica * stage_.threads + c) % machine_cores);
    }
  }
  // The next hop's group as parallel lists (fanout.h); for one float32
  // destination, the command line of a stage before groups.
  const DestinationLists to = to_lists(stage_.sends_to);
  std::vector<std::string> args = worker_command_;
  args.insert(args.end(), {"--slice", stage_.slice_path, "--slice-sha256", stage_.slice_sha256, "--stage", std::to_string(stage_.index), "--replicas",
                           fmt::format("{}", fmt::join(replicas, ",")), "--threads", std::to_string(stage_.threads),
                           "--work", endpoints_.work, "--stats", endpoints_.stats, "--downstream", fmt::format("{}", fmt::join(to.endpoints, ",")),
                           "--next", std::to_string(stage_.next_destination)});
  if (!cpus.empty()) args.insert(args.end(), {"--cpus", fmt::format("{}", fmt::join(cpus, ","))});
  if (!endpoints_.targets.empty()) args.insert(args.end(), {"--targets", endpoints_.targets});
  if (to.endpoints.size() > 1) args.insert(args.end(), {"--shares", fmt::format("{}", fmt::join(to.shares, ","))});
  if (stage_.member > 0) args.insert(args.end(), {"--member", std::to_string(stage_.member)});
  if (!keys_path_.empty()) {
    args.insert(args.end(), {"--node", node_, "--keys", keys_path_, "--downstream-node", fmt::format("{}", fmt::join(to.nodes, ","))});
  }
  const bool all_float32 = std::all_of(stage_.sends_to.begin(), stage_.sends_to.end(),
                                       [](const Destination& d) { return d.codec == Codec::float32; });
  if (!all_float32) args.insert(args.end(), {"--codec", fmt::format("{}", fmt::join(to.codecs, ","))});
  if (stage_.time_factor > 1.0) {
    args.insert(args.end(), {"--time-factor", fmt::format("{}", stage_.time_factor)});
    if (stage_.predicted_compute_ms > 0.0) args.insert(args.end(), {"--device-ms", fmt::format("{}", stage_.predicted_compute_ms)});
  }
  if (!stage_.input_shape.empty()) {
    args.insert(args.end(), {"--warmup-shape", fmt::format("{}", fmt::join(stage_.input_shape, ","))});
  }
  return args;
}

pid_t ProcessLauncher::launch(int process, const std::vector<int>& replicas) {
  SpawnOptions options;
  options.argv = command(replicas);
  options.die_with_parent = true;  // a worker never outlives its supervisor
  const pid_t pid = spawn_process(options);
  // CPU: t cores per replica, plus a fifth of a core for the process's
  // transport I/O thread, which the cost model does not count.
  const double cores = static_cast<double>(replicas.size()) * stage_.threads + 0.2;
  cgroups_.confine(pid, fmt::format("w{}", process), cores, worker_memory_limit_bytes(stage_.memory_limit_bytes));
  return pid;
}

void ProcessLauncher::signal(pid_t pid, int sig) { ::kill(pid, sig); }

std::vector<std::pair<pid_t, int>> ProcessLauncher::reap() {
  std::vector<std::pair<pid_t, int>> exited;
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) exited.emplace_back(pid, status);
  return exited;
}

WorkerPool::WorkerPool(std::string node, ReplicaGroups groups, WorkerLauncher& launcher, RestartPolicy policy)
    : node_(std::move(node)), launcher_(launcher), policy_(policy) {
  size_t replicas = 0;
  for (const auto& group : groups) replicas += group.size();
  replicas_.resize(replicas);
  for (size_t p = 0; p < groups.size(); ++p) {
    Process process;
    process.index = static_cast<int>(p);
    process.state.replicas = groups[p];
    for (int r : groups[p]) {
      if (r < 0 || static_cast<size_t>(r) >= replicas) throw failure("replica {} is not one of 0..{}", r, replicas - 1);
      replicas_[static_cast<size_t>(r)].status.id = r;
      replicas_[static_cast<size_t>(r)].process = p;
    }
    processes_.push_back(std::move(process));
  }
}

void WorkerPool::launch(Process& p) {
  const pid_t pid = launcher_.launch(p.index, p.state.replicas);
  p.state.pid = pid;
  p.state.alive = true;
  for (int r : p.state.replicas) {
    Replica& replica = replicas_[static_cast<size_t>(r)];
    replica.windows_before += replica.status.windows;
    replica.status.windows = 0;
    replica.ready = false;
    replica.status.pid = pid;
    replica.status.alive = true;
    replica.status.restarts = p.restarts;
  }
}

void WorkerPool::mark_down(const Process& p) {
  for (int r : p.state.replicas) {
    Replica& replica = replicas_[static_cast<size_t>(r)];
    replica.status.alive = false;
    replica.status.restarts = p.restarts;
    replica.ready = false;
  }
}

bool WorkerPool::restart(Process& p, const std::string& how) {
  const std::string name = worker_process_name(p.state.replicas);
  // A start that fails (fork, exec) uses a restart like a crash does.
  while (p.restarts < policy_.max_restarts) {
    ++p.restarts;
    diag::warning("node {}: {} {}; restarting it ({}/{})", node_, name, how, p.restarts, policy_.max_restarts);
    try {
      launch(p);
      return true;
    } catch (const Error& e) {
      last_exit_ = fmt::format("{} could not be started: {}", name, e.message());
    }
  }
  mark_down(p);
  return false;
}

void WorkerPool::start() {
  for (Process& p : processes_) launch(p);
}

void WorkerPool::on_report(const WorkerReport& report) {
  if (report.worker < 0 || static_cast<size_t>(report.worker) >= replicas_.size()) return;
  Replica& replica = replicas_[static_cast<size_t>(report.worker)];
  Process& process = processes_[replica.process];
  // A report sent before that incarnation died (a restarted one has another pid).
  if (report.pid != process.state.pid || !process.state.alive) return;
  replica.status.windows = report.windows;
  replica.status.compute_ms_p50 = report.compute_ms_p50;
  replica.status.compute_ms_p95 = report.compute_ms_p95;
  replica.status.bad_frames = report.bad_frames;
  replica.status.target = report.target;
  replica.ready = report.ready;
  process.state.peak_rss_bytes = std::max(process.state.peak_rss_bytes, report.peak_rss_bytes);
}

void WorkerPool::reap() {
  // Every exit is recorded before anything restarts, so that a failed
  // restart cannot leave a reaped pid looking alive.
  std::vector<std::pair<Process*, std::string>> exited;
  for (const auto& [pid, wait_status] : launcher_.reap()) {
    for (Process& p : processes_) {
      if (p.state.pid != pid || !p.state.alive) continue;
      p.state.alive = false;
      mark_down(p);
      const std::string how = fmt::format("(pid {}) {}", pid, describe_exit(wait_status));
      last_exit_ = fmt::format("{} {}", worker_process_name(p.state.replicas), how);
      exited.emplace_back(&p, how);
    }
  }
  if (stopping_) return;
  for (auto& [p, how] : exited) {
    if (restart(*p, how)) continue;
    p->given_up = true;
    last_exit_ += fmt::format(", restarted {} times already", p->restarts);
    diag::warning("node {}: {} {}; restarted {} times already, giving up on it", node_,
                  worker_process_name(p->state.replicas), how, p->restarts);
  }
}

void WorkerPool::stop(std::chrono::milliseconds grace) {
  stopping_ = true;
  for (const Process& p : processes_) {
    if (p.state.alive) launcher_.signal(p.state.pid, SIGTERM);
  }
  const auto wait_all = [&](std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (alive() > 0 && std::chrono::steady_clock::now() < deadline) {
      reap();
      if (alive() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  wait_all(grace);
  if (alive() == 0) return;
  for (const Process& p : processes_) {
    if (p.state.alive) launcher_.signal(p.state.pid, SIGKILL);
  }
  wait_all(std::chrono::milliseconds(2000));
}

bool WorkerPool::ready() const {
  return std::all_of(replicas_.begin(), replicas_.end(), [](const Replica& r) { return r.ready; });
}

long long WorkerPool::processed() const {
  long long total = 0;
  for (const Replica& r : replicas_) total += r.windows_before + r.status.windows;
  return total;
}

int WorkerPool::alive() const {
  return static_cast<int>(
      std::count_if(processes_.begin(), processes_.end(), [](const Process& p) { return p.state.alive; }));
}

int WorkerPool::given_up() const {
  return static_cast<int>(
      std::count_if(processes_.begin(), processes_.end(), [](const Process& p) { return p.given_up; }));
}

int64_t WorkerPool::peak_rss_bytes() const {
  int64_t total = 0;
  for (const Process& p : processes_) total += p.state.peak_rss_bytes;
  return total;
}

std::vector<WorkerStatus> WorkerPool::status() const {
  std::vector<WorkerStatus> out;
  for (const Replica& r : replicas_) {
    WorkerStatus s = r.status;
    s.windows = r.windows_before + r.status.windows;
    out.push_back(s);
  }
  return out;
}

std::vector<WorkerProcess> WorkerPool::processes() const {
  std::vector<WorkerProcess> out;
  for (const Process& p : processes_) out.push_back(p.state);
  return out;
}

}  // namespace hare::runtime
