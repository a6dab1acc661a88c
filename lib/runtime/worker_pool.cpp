#include "runtime/worker_pool.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "common/diag.h"
#include "common/process.h"

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

std::vector<std::string> ProcessLauncher::command(int worker) const {
  const int machine_cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  std::vector<int> cpus;
  for (int c = 0; c < stage_.threads; ++c) cpus.push_back((cpu_offset_ + worker * stage_.threads + c) % machine_cores);
  std::vector<std::string> args = worker_command_;
  args.insert(args.end(), {"--slice", stage_.slice_path, "--slice-sha256", stage_.slice_sha256, "--stage", std::to_string(stage_.index), "--worker",
                           std::to_string(worker), "--threads", std::to_string(stage_.threads), "--cpus", fmt::format("{}", fmt::join(cpus, ",")),
                           "--work", endpoints_.work, "--stats", endpoints_.stats, "--downstream", stage_.sends_to,
                           "--next", std::to_string(stage_.next_destination)});
  if (!keys_path_.empty()) {
    args.insert(args.end(), {"--node", node_, "--keys", keys_path_, "--downstream-node", stage_.sends_to_node});
  }
  if (stage_.sends_codec != Codec::float32) args.insert(args.end(), {"--codec", codec_name(stage_.sends_codec)});
  if (stage_.time_factor > 1.0) args.insert(args.end(), {"--time-factor", fmt::format("{}", stage_.time_factor)});
  if (!stage_.input_shape.empty()) {
    args.insert(args.end(), {"--warmup-shape", fmt::format("{}", fmt::join(stage_.input_shape, ","))});
  }
  return args;
}

pid_t ProcessLauncher::launch(int worker) {
  SpawnOptions options;
  options.argv = command(worker);
  options.die_with_parent = true;  // a worker never outlives its supervisor
  const pid_t pid = spawn_process(options);
  // CPU: the stage's t cores, plus a fifth of a core for the worker's
  // transport I/O thread, which the cost model does not count.
  cgroups_.confine(pid, fmt::format("w{}", worker), stage_.threads + 0.2,
                   worker_memory_limit_bytes(stage_.memory_limit_bytes, stage_.replicas));
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

WorkerPool::WorkerPool(std::string node, int replicas, WorkerLauncher& launcher, RestartPolicy policy)
    : node_(std::move(node)), launcher_(launcher), policy_(policy), workers_(static_cast<size_t>(replicas)) {
  for (size_t i = 0; i < workers_.size(); ++i) workers_[i].status.id = static_cast<int>(i);
}

void WorkerPool::launch(Worker& w) {
  w.windows_before += w.status.windows;
  w.status.windows = 0;
  w.ready = false;
  w.status.pid = launcher_.launch(w.status.id);
  w.status.alive = true;
}

bool WorkerPool::restart(Worker& w, const std::string& how) {
  // A start that fails (fork, exec) uses a restart like a crash does.
  while (w.status.restarts < policy_.max_restarts) {
    ++w.status.restarts;
    diag::warning("node {}: worker {} {}; restarting it ({}/{})", node_, w.status.id, how, w.status.restarts,
                  policy_.max_restarts);
    try {
      launch(w);
      return true;
    } catch (const Error& e) {
      last_exit_ = fmt::format("worker {} could not be started: {}", w.status.id, e.message());
    }
  }
  return false;
}

void WorkerPool::start() {
  for (Worker& w : workers_) launch(w);
}

void WorkerPool::on_report(const WorkerReport& report) {
  if (report.worker < 0 || static_cast<size_t>(report.worker) >= workers_.size()) return;
  Worker& w = workers_[static_cast<size_t>(report.worker)];
  // A report sent before that incarnation died (a restarted one has another pid).
  if (report.pid != w.status.pid || !w.status.alive) return;
  w.status.windows = report.windows;
  w.status.compute_ms_p50 = report.compute_ms_p50;
  w.status.compute_ms_p95 = report.compute_ms_p95;
  w.status.rss_bytes = report.rss_bytes;
  w.status.peak_rss_bytes = std::max(w.status.peak_rss_bytes, report.peak_rss_bytes);
  w.status.bad_frames = report.bad_frames;
  w.ready = report.ready;
}

void WorkerPool::reap() {
  // Every exit is recorded before anything restarts, so that a failed
  // restart cannot leave a reaped pid looking alive.
  std::vector<std::pair<Worker*, std::string>> exited;
  for (const auto& [pid, wait_status] : launcher_.reap()) {
    for (Worker& w : workers_) {
      if (w.status.pid != pid || !w.status.alive) continue;
      w.status.alive = false;
      w.ready = false;
      const std::string how = fmt::format("(pid {}) {}", pid, describe_exit(wait_status));
      last_exit_ = fmt::format("worker {} {}", w.status.id, how);
      exited.emplace_back(&w, how);
    }
  }
  if (stopping_) return;
  for (auto& [w, how] : exited) {
    if (restart(*w, how)) continue;
    w->given_up = true;
    last_exit_ += fmt::format(", restarted {} times already", w->status.restarts);
    diag::warning("node {}: worker {} {}; restarted {} times already, giving up on it", node_, w->status.id, how,
                  w->status.restarts);
  }
}

void WorkerPool::stop(std::chrono::milliseconds grace) {
  stopping_ = true;
  for (const Worker& w : workers_) {
    if (w.status.alive) launcher_.signal(w.status.pid, SIGTERM);
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
  for (const Worker& w : workers_) {
    if (w.status.alive) launcher_.signal(w.status.pid, SIGKILL);
  }
  wait_all(std::chrono::milliseconds(2000));
}

bool WorkerPool::ready() const {
  return std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) { return w.ready; });
}

long long WorkerPool::processed() const {
  long long total = 0;
  for (const Worker& w : workers_) total += w.windows_before + w.status.windows;
  return total;
}

int WorkerPool::alive() const {
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(), [](const Worker& w) { return w.status.alive; }));
}

int WorkerPool::given_up() const {
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(), [](const Worker& w) { return w.given_up; }));
}

int64_t WorkerPool::peak_rss_bytes() const {
  int64_t total = 0;
  for (const Worker& w : workers_) total += w.status.peak_rss_bytes;
  return total;
}

std::vector<WorkerStatus> WorkerPool::status() const {
  std::vector<WorkerStatus> out;
  for (const Worker& w : workers_) {
    WorkerStatus s = w.status;
    s.windows = w.windows_before + w.status.windows;
    out.push_back(s);
  }
  return out;
}

}  // namespace hare::runtime
