#pragma once

// The solver's answer as hare-partition reports it (`--format yaml|json`):
// the best plans with their predicted metrics, one record with one JSON form
// (common/json.h) and a YAML rendering of the same fields, so scripts can
// read either. See docs/design.md "Records".

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/json.h"
#include "partition/solver.h"

namespace hare::partition {

// One node of a stage (cost_model.h MemberMetrics).
struct MemberReport {
  std::string node;
  int replicas = 1;
  int threads = 1;
  double share = 1.0;         // of the stage's windows, by capacity
  double compute_ms = 0.0;    // per window, one replica
  double queue_ms = 0.0;      // mean wait for a replica at the workload's rate
  double latency_ms = 0.0;    // idle: compute + the runtime's wake-up and hops
  double loaded_latency_ms = 0.0;  // + queue
  int64_t memory_bytes = 0;   // its worker process, all replicas
};

// A stage; node, replicas, threads, compute_ms and memory_bytes are its
// first member's (all of a single-node stage), `members` has every one.
struct StageReport {
  std::string first_layer;
  std::string last_layer;
  std::string node;
  int replicas = 1;
  int threads = 1;
  double compute_ms = 0.0;    // per window, one replica
  int64_t out_bytes = 0;      // what leaves the stage per window, on the wire
  double transfer_ms = 0.0;   // to the next stage, or to the sink for the last (the worst pair of members)
  int64_t memory_bytes = 0;   // all replicas
  double capacity = 0.0;      // windows/s, Σ over members
  std::vector<MemberReport> members;
};

struct PlanReport {
  double latency_ms = 0.0;          // under load: with the queues at the workload's rate
  double idle_latency_ms = 0.0;     // a lone window
  double utilization = 0.0;         // the workload's rate / the busiest stage's capacity
  double throughput = 0.0;          // windows/s
  int cores = 0;                    // Σ replicas · threads
  int64_t bytes_leaving_source = 0; // per window, on the wire
  int64_t in_bytes = 0;             // the raw window's bytes
  std::vector<StageReport> stages;
};

struct SolveReport {
  std::string objective;  // latency | throughput | resources
  bool exact = true;
  std::string method;
  double window_rate = 0.0;  // windows/s the plans were made for
  std::vector<PlanReport> plans;  // best first
};

SolveReport make_solve_report(const Problem& problem, const SolveResult& result, Objective objective);

// A plan on one line, for logs and benchmark tables: each stage's layers
// and its node(s) with replicas x threads, a group in braces, e.g.
// "conv1..conv4: gw 2x1 → lstm..out: {e1 1x1 + e2 1x1}".
std::string placement_text(const Problem& problem, const Plan& plan);

// The YAML form: the JSON form's fields, in declaration order (the same
// field list, HARE_DEFINE_RECORD below, makes both).
void emit_yaml(YAML::Emitter& out, const SolveReport& report);

HARE_DEFINE_RECORD(MemberReport, node, replicas, threads, share, compute_ms, queue_ms, latency_ms, loaded_latency_ms,
                   memory_bytes)
HARE_DEFINE_RECORD(StageReport, first_layer, last_layer, node, replicas, threads, compute_ms, out_bytes, transfer_ms,
                   memory_bytes, capacity, members)
HARE_DEFINE_RECORD(PlanReport, latency_ms, idle_latency_ms, utilization, throughput, cores, bytes_leaving_source, in_bytes, stages)
HARE_DEFINE_RECORD(SolveReport, objective, exact, method, window_rate, plans)

}  // namespace hare::partition
