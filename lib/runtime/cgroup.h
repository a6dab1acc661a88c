#pragma once

// Confining a worker: its own cgroup with a CPU quota of `cores` cores and a
// memory limit. cgroup v2 where the unified hierarchy is writable (Raspberry
// Pi OS, Ubuntu), v1 (cpu + memory controllers) where that is what there is,
// and unconfined — said once — where neither can be written (no root, or a
// container without delegation).

#include <cstdint>
#include <string>
#include <sys/types.h>

#include <vector>

namespace hare::runtime {

// The memory limit of a stage's worker process: the stage's memory as the
// plan predicts it (memory_limit_bytes, partition::stage_memory_bytes: one
// worker process running all the stage's replicas as threads), with
// headroom for what the cost model does not count (the TorchScript
// runtime's own allocations when a module is loaded). Under
// --process-per-replica each process gets as much: each pays the libraries
// and torch's state again, which are nearly all of it (a replica thread
// adds under 1 MB; bench/memory_bench).
int64_t worker_memory_limit_bytes(int64_t stage_memory_bytes);

class Cgroups {
 public:
  // `group` names this node's directory under hare/ (e.g. "gateway").
  explicit Cgroups(std::string group);
  ~Cgroups();  // removes the directories it created
  Cgroups(const Cgroups&) = delete;
  Cgroups& operator=(const Cgroups&) = delete;

  // Puts `pid` into its own cgroup <group>/<name>; false (and one warning
  // overall) when confinement is not available.
  bool confine(pid_t pid, const std::string& name, double cores, int64_t memory_bytes);
  // "cgroup v2", "cgroup v1", or "unconfined (<why>)".
  const std::string& mode() const { return mode_; }

 private:
  std::string group_;
  std::string mode_;
  int version_ = 0;  // 0 = unconfined
  std::vector<std::string> created_;
};

}  // namespace hare::runtime
