#include "profile/memory_probe.h"

#include <algorithm>
#include <set>

namespace hare::profile {

MemoryProfile memory_profile_from(const ExecutorMemoryProbe& executor, const SupervisorMemoryProbe& supervisor) {
  MemoryProfile m;
  // Running the model touches more library code than one op did: the
  // file-backed pages of the loaded executor.
  m.executor_shared_bytes = executor.loaded.file_bytes;
  m.executor_private_bytes = executor.base.anon_bytes;
  m.model_bytes = std::max<int64_t>(0, executor.loaded.anon_bytes - executor.base.anon_bytes);
  m.replica_bytes = std::max<int64_t>(0, executor.two_replicas.anon_bytes - executor.loaded.anon_bytes);
  m.supervisor_private_bytes = supervisor.memory.anon_bytes;
  m.supervisor_file_bytes = supervisor.memory.file_bytes;
  const std::set<std::string> executor_files(executor.files.begin(), executor.files.end());
  for (const MappingMemory& mapping : supervisor.mappings) {
    if (mapping.name.empty() || mapping.name.front() != '/') continue;  // [heap], [stack], [anon]...
    if (executor_files.count(mapping.name) == 0) m.supervisor_shared_bytes += mapping.memory.file_bytes;
  }
  return m;
}

}  // namespace hare::profile
