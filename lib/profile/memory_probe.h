#pragma once

// The memory probes hare-profile runs on a device, and how their figures
// become the profile's MemoryProfile (profile.h). Torch-free records: the
// executor probe (hare-profile internal-rss-probe, torch) and the supervisor
// probe (hare-node internal-memory-probe) each print one JSON line.
//
// Executor: a fresh process initializes torch as a worker does (allocator
// settings, threads, one op) -> `base`; loads the whole model and runs the
// worker's 20 warm-up windows -> `loaded`; then a second thread runs the
// model as a second replica would -> `two_replicas`.
// Supervisor: a fresh hare-node with its transport up -> `memory`, and its
// mappings, so that the pages of files no executor maps (its own program)
// are told from the libraries both map (counted once on a node).

#include <string>
#include <vector>

#include "common/json.h"
#include "common/memory.h"
#include "profile/profile.h"

namespace hare::profile {

struct ExecutorMemoryProbe {
  ProcessMemory base;
  ProcessMemory loaded;
  ProcessMemory two_replicas;
  std::vector<std::string> files;  // files it maps (absolute paths), at `two_replicas`
};
HARE_DEFINE_RECORD(ExecutorMemoryProbe, base, loaded, two_replicas, files)

struct SupervisorMemoryProbe {
  ProcessMemory memory;
  std::vector<MappingMemory> mappings;
};
HARE_DEFINE_RECORD(SupervisorMemoryProbe, memory, mappings)

// shared = the loaded executor's file-backed pages; private = its anonymous ones at base;
// model = loaded - base; replica = two_replicas - loaded (anonymous, not
// below 0); the supervisor's private part is its anonymous pages, its
// shared part the file-backed pages of files the executor does not map, its
// file part all its file-backed pages.
MemoryProfile memory_profile_from(const ExecutorMemoryProbe& executor, const SupervisorMemoryProbe& supervisor);

}  // namespace hare::profile
