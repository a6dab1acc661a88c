#pragma once

// A stage's workers on one node: r replicas, each a hare-worker process
// (the only processes that load torch). The pool starts them, takes their
// reports, reaps the ones that exit and restarts them under a bounded
// policy, and stops them. How a worker is started is behind WorkerLauncher
// (ninja's CommandRunner seam): ProcessLauncher forks hare-worker into its
// cgroup; tests use a fake, so the restart policy is tested without torch.
//
// Not thread-safe: the supervisor's poll loop owns the pool.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cgroup.h"
#include "runtime/node_spec.h"
#include "runtime/records.h"

namespace hare::runtime {

class WorkerLauncher {
 public:
  virtual ~WorkerLauncher() = default;
  // Starts replica `worker` (0-based); returns its pid. Throws on failure.
  virtual pid_t launch(int worker) = 0;
  virtual void signal(pid_t pid, int sig) = 0;
  // The workers that exited since the last call: (pid, wait status).
  virtual std::vector<std::pair<pid_t, int>> reap() = 0;
};

// hare-worker processes: pinned to the stage's cores from `cpu_offset` on,
// each in its own cgroup, killed when the supervisor dies.
class ProcessLauncher : public WorkerLauncher {
 public:
  struct Endpoints {
    std::string work;   // PULL side of the supervisor's PUSH: windows in
    std::string stats;  // PUSH to the supervisor: WorkerReport lines
  };
  // `keys_path`: the node's key file (keys.h), which each worker reads
  // itself (a secret key is never put on a command line); "" = --insecure.
  ProcessLauncher(std::string node, const StageSpec& stage, std::vector<std::string> worker_command, int cpu_offset,
                  Endpoints endpoints, Cgroups& cgroups, std::string keys_path = "");
  pid_t launch(int worker) override;
  void signal(pid_t pid, int sig) override;
  std::vector<std::pair<pid_t, int>> reap() override;

  // The argv that starts replica `worker` (for tests and logs).
  std::vector<std::string> command(int worker) const;

 private:
  std::string node_;
  const StageSpec& stage_;
  std::vector<std::string> worker_command_;
  int cpu_offset_;
  Endpoints endpoints_;
  Cgroups& cgroups_;
  std::string keys_path_;
};

struct RestartPolicy {
  int max_restarts = 5;  // per worker; after that it stays down and the pool is degraded
};

class WorkerPool {
 public:
  WorkerPool(std::string node, int replicas, WorkerLauncher& launcher, RestartPolicy policy = {});

  // Launches every replica.
  void start();
  // A worker's report; one from an earlier incarnation (another pid) is ignored.
  void on_report(const WorkerReport& report);
  // Reaps exited workers; restarts each while the policy allows (said on
  // stderr either way). Unless stopping, call it from the loop.
  void reap();
  // SIGTERM to every live worker, up to `grace` for them to finish, then SIGKILL.
  void stop(std::chrono::milliseconds grace);

  bool ready() const;         // every replica reported since its latest start
  long long processed() const;  // windows, all incarnations
  int alive() const;
  // Workers that are down for good (restarts used up).
  int given_up() const;
  int64_t peak_rss_bytes() const;  // sum over the workers' peaks
  // How the last worker that exited ended, e.g. "worker 0 (pid 12) exited
  // with code 2"; "" if none has.
  const std::string& last_exit() const { return last_exit_; }
  std::vector<WorkerStatus> status() const;

 private:
  struct Worker {
    WorkerStatus status;
    long long windows_before = 0;  // by earlier incarnations
    bool ready = false;
    bool given_up = false;
  };
  void launch(Worker& w);
  // Restarts w while the policy allows; false when its restarts are used up.
  bool restart(Worker& w, const std::string& how);

  std::string node_;
  WorkerLauncher& launcher_;
  RestartPolicy policy_;
  std::vector<Worker> workers_;
  bool stopping_ = false;
  std::string last_exit_;
};

}  // namespace hare::runtime
