#pragma once

// A stage's workers on one node: r replicas, run by hare-worker processes
// (the only processes that load torch). By default one process runs all r
// replicas as threads: torch's initialisation (~60 MB of private memory,
// docs/design.md "Workers") is paid once per node, not once per replica.
// With process_per_replica, each replica is a process of its own, so that
// one crashing does not take the others down. The pool starts the
// processes, takes their replicas' reports, reaps the ones that exit and
// restarts them (with all their replicas) under a bounded policy, and stops
// them. How a process is started is behind WorkerLauncher (ninja's
// CommandRunner seam): ProcessLauncher forks hare-worker into its cgroup;
// tests use a fake, so the restart policy is tested without torch.
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

// The replicas (0-based) each worker process runs: {{0, 1, 2}} when the
// replicas are threads of one process, {{0}, {1}, {2}} with one process each.
using ReplicaGroups = std::vector<std::vector<int>>;
ReplicaGroups replica_groups(int replicas, bool process_per_replica);

// "worker 0" for a process that runs one replica, "worker process of
// replicas 0,1,2" for one that runs several: how messages name a process.
std::string worker_process_name(const std::vector<int>& replicas);

class WorkerLauncher {
 public:
  virtual ~WorkerLauncher() = default;
  // Starts worker process `process` (0-based), which runs `replicas`;
  // returns its pid. Throws on failure.
  virtual pid_t launch(int process, const std::vector<int>& replicas) = 0;
  virtual void signal(pid_t pid, int sig) = 0;
  // The workers that exited since the last call: (pid, wait status).
  virtual std::vector<std::pair<pid_t, int>> reap() = 0;
};

// hare-worker processes: each replica thread pinned to its own t of the
// stage's cores from `cpu_offset` on, each process in its own cgroup (a
// quota of its replicas' cores, its replicas' share of the stage's memory),
// killed when the supervisor dies.
class ProcessLauncher : public WorkerLauncher {
 public:
  struct Endpoints {
    std::string work;   // PULL side of the supervisor's PUSH: windows in
    std::string stats;  // PUSH to the supervisor: WorkerReport lines
    std::string targets = "";  // SUB of the supervisor's PUB: WorkerTarget lines ("": none)
  };
  // `keys_path`: the node's key file (keys.h), which each worker reads
  // itself (a secret key is never put on a command line); "" = --insecure.
  ProcessLauncher(std::string node, const StageSpec& stage, std::vector<std::string> worker_command, int cpu_offset,
                  Endpoints endpoints, Cgroups& cgroups, std::string keys_path = "");
  pid_t launch(int process, const std::vector<int>& replicas) override;
  void signal(pid_t pid, int sig) override;
  std::vector<std::pair<pid_t, int>> reap() override;

  // The argv that starts a process running `replicas` (for tests and logs).
  std::vector<std::string> command(const std::vector<int>& replicas) const;

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
  int max_restarts = 5;  // per worker process; after that it stays down and the pool is degraded
};

// A worker process as the pool knows it.
struct WorkerProcess {
  pid_t pid = -1;
  bool alive = false;
  std::vector<int> replicas;
  int64_t peak_rss_bytes = 0;  // the largest VmHWM its replicas reported, over its incarnations
};

class WorkerPool {
 public:
  // `groups`: the replicas of each process (replica_groups); replica ids
  // are 0..r-1, each in exactly one group.
  WorkerPool(std::string node, ReplicaGroups groups, WorkerLauncher& launcher, RestartPolicy policy = {});

  // Launches every process.
  void start();
  // A replica's report; one from an earlier incarnation of its process
  // (another pid) is ignored.
  void on_report(const WorkerReport& report);
  // Reaps exited processes; restarts each (all its replicas) while the
  // policy allows (said on stderr either way). Unless stopping, call it
  // from the loop.
  void reap();
  // SIGTERM to every live process, up to `grace` for them to finish, then SIGKILL.
  void stop(std::chrono::milliseconds grace);

  bool ready() const;         // every replica reported since its process's latest start
  long long processed() const;  // windows, all incarnations
  int alive() const;          // live worker processes
  // Worker processes that are down for good (restarts used up).
  int given_up() const;
  int64_t peak_rss_bytes() const;  // sum over the processes' peaks
  // How the last process that exited ended, e.g. "worker 0 (pid 12) exited
  // with code 2"; "" if none has.
  const std::string& last_exit() const { return last_exit_; }
  std::vector<WorkerStatus> status() const;  // one per replica
  std::vector<WorkerProcess> processes() const;

 private:
  struct Replica {
    WorkerStatus status;
    long long windows_before = 0;  // by earlier incarnations
    bool ready = false;
    size_t process = 0;  // index into processes_
  };
  struct Process {
    WorkerProcess state;
    int index = 0;
    int restarts = 0;
    bool given_up = false;
  };
  void launch(Process& p);
  // Restarts p while the policy allows; false when its restarts are used up.
  bool restart(Process& p, const std::string& how);
  void mark_down(const Process& p);

  std::string node_;
  WorkerLauncher& launcher_;
  RestartPolicy policy_;
  std::vector<Process> processes_;
  std::vector<Replica> replicas_;  // by replica id
  bool stopping_ = false;
  std::string last_exit_;
};

}  // namespace hare::runtime
