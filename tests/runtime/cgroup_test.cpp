#include <catch2/catch.hpp>

#include "runtime/cgroup.h"

using namespace hare::runtime;

// The plan's memory_bytes is the stage's worker process with all its
// replicas (partition::stage_memory_bytes): the process that runs them as
// threads gets all of it, and so does each process under
// --process-per-replica, which pays the libraries and torch's state again.
TEST_CASE("a worker process's memory limit: the stage's memory, a quarter more, and 64 MiB", "[runtime]") {
  const int64_t mib = 1 << 20;
  CHECK(worker_memory_limit_bytes(100 * mib) == 100 * mib + 25 * mib + 64 * mib);
  CHECK(worker_memory_limit_bytes(400 * mib) == 400 * mib + 100 * mib + 64 * mib);
  // A plan without a memory figure still leaves the runtime its headroom.
  CHECK(worker_memory_limit_bytes(0) == 64 * mib);
}
