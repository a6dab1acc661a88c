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

// The memory limit of one of a stage's worker processes, which runs
// `process_replicas` of the stage's `replicas`: their share of the stage's
// memory (the plan's memory_limit_bytes, partition::stage_memory_bytes, for
// all replicas), with headroom for what the cost model does not count (the
// TorchScript runtime's own allocations when a module is loaded). A process
// that runs every replica as a thread gets the whole stage's memory, plus
// the headroom once.
int64_t worker_memory_limit_bytes(int64_t stage_memory_bytes, int replicas, int process_replicas = 1);

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
