#include <catch2/catch.hpp>

#include "runtime/cgroup.h"

using namespace hare::runtime;

TEST_CASE("a worker's memory limit: its share of the stage, a quarter more, and 64 MiB", "[runtime]") {
  const int64_t mib = 1 << 20;
  CHECK(worker_memory_limit_bytes(400 * mib, 2) == 200 * mib + 50 * mib + 64 * mib);
  CHECK(worker_memory_limit_bytes(100 * mib, 1) == 100 * mib + 25 * mib + 64 * mib);
  // A stage the plan gives no replicas is taken as one.
  CHECK(worker_memory_limit_bytes(100 * mib, 0) == worker_memory_limit_bytes(100 * mib, 1));
}

TEST_CASE("a worker process that runs several replicas gets their shares, and the headroom once", "[runtime]") {
  const int64_t mib = 1 << 20;
  // All 3 replicas as threads of one process: the whole stage.
  CHECK(worker_memory_limit_bytes(300 * mib, 3, 3) == 300 * mib + 75 * mib + 64 * mib);
  CHECK(worker_memory_limit_bytes(300 * mib, 3, 2) == 200 * mib + 50 * mib + 64 * mib);
  // One replica per process: as before.
  CHECK(worker_memory_limit_bytes(300 * mib, 3, 1) == worker_memory_limit_bytes(300 * mib, 3));
  // More replicas than the stage has are taken as all of them.
  CHECK(worker_memory_limit_bytes(300 * mib, 3, 7) == worker_memory_limit_bytes(300 * mib, 3, 3));
}
