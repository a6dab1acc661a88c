// The cost model's single definitions: the memory formula, the plan
// ranking and the objectives' names.

#include <catch2/catch.hpp>

#include "partition/cost_model.h"

using namespace hare;
using namespace hare::partition;

TEST_CASE("memory: shared pages once, one executor, parameters once, per replica a thread and two activations", "[partition]") {
  DeviceCosts device;
  device.memory = MemoryCosts{100000, 60000, 3000, 500, 7000};
  // 3 of 4 layers of a model whose code takes 3000: 2250 of it.
  CHECK(stage_memory_bytes(device, 1, 3, 4, 200, 30) == 100000 + 60000 + 2250 + 200 + 60);
  CHECK(stage_memory_bytes(device, 3, 3, 4, 200, 30) == 100000 + 60000 + 2250 + 200 + 2 * 500 + 3 * 60);
  CHECK(node_memory_bytes(device, 1000) == 8000);
  device.memory.supervisor_alone_bytes = 12000;  // no stage: its libraries are its own
  CHECK(node_memory_bytes(device, 0) == 12000);

  Problem p;
  p.out_bytes = {50, 30, 70, 10};  // input, then after each layer
  p.param_bytes = {1, 2, 4};
  p.devices = {device};
  p.nodes = {ProblemNode{"n", 0, 4, 1 << 20}};
  // Layers 2..3 read 30 and write 70 then 10: the largest is 70.
  CHECK(stage_memory_bytes(p, Stage{1, 2, {Member{0, 3, 1}}}, Member{0, 3, 1}) == 160000 + 2000 + 6 + 2 * 500 + 3 * 2 * 70);
  // Layer 1 alone reads the 50-byte input.
  CHECK(stage_memory_bytes(p, Stage{0, 0, {Member{0, 1, 1}}}, Member{0, 1, 1}) == 160000 + 1000 + 1 + 2 * 50);

  // The most replicas that fit: one needs 7000 + 162106 + 140 ... each more 500 + 140.
  const int64_t one = node_memory_bytes(device, stage_memory_bytes(device, 1, 2, 3, 6, 70));
  CHECK(max_replicas_by_memory(device, 2, 3, 6, 70, one - 1) == 0);
  CHECK(max_replicas_by_memory(device, 2, 3, 6, 70, one) == 1);
  CHECK(max_replicas_by_memory(device, 2, 3, 6, 70, one + 2 * 640) == 3);
  CHECK(node_memory_bytes(device, stage_memory_bytes(device, 3, 2, 3, 6, 70)) == one + 2 * 640);
}

TEST_CASE("ranking: the objective first, then latency, fewer cores, fewer stages", "[partition]") {
  const Rank base{100.0, 10.0, 4, 2};
  Rank faster = base;
  faster.latency_ms = 9.0;
  Rank leaner = base;
  leaner.cores = 3;
  Rank shorter = base;
  shorter.stages = 1;
  Rank higher = base;
  higher.throughput = 200.0;
  higher.latency_ms = 20.0;

  CHECK(better(Objective::latency, faster, base));
  CHECK_FALSE(better(Objective::latency, base, faster));
  CHECK(better(Objective::latency, leaner, base));
  CHECK(better(Objective::latency, shorter, base));
  CHECK_FALSE(better(Objective::latency, base, base));
  // Latency within a relative 1e-9 is a tie, decided by cores.
  Rank almost = leaner;
  almost.latency_ms = 10.0 * (1 + 1e-12);
  CHECK(better(Objective::latency, almost, base));

  CHECK(better(Objective::throughput, higher, base));
  CHECK_FALSE(better(Objective::latency, higher, base));
  Rank slow_but_lean = base;
  slow_but_lean.latency_ms = 50.0;
  slow_but_lean.cores = 1;
  CHECK(better(Objective::resources, slow_but_lean, base));
  CHECK_FALSE(better(Objective::latency, slow_but_lean, base));
}

TEST_CASE("objective names parse back, and nothing else does", "[partition]") {
  for (Objective o : {Objective::latency, Objective::throughput, Objective::resources}) {
    CHECK(parse_objective(objective_name(o)) == o);
  }
  CHECK_FALSE(parse_objective("Latency"));
  CHECK_FALSE(parse_objective(""));
}
