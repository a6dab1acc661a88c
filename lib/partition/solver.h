#pragma once

// The partition solver: slice points, placement, replicas and threads that
// optimize the cost model (cost_model.h) exactly. See solver.cpp for the
// formulation, the algorithm and its complexity.

#include <string>
#include <vector>

#include "partition/cost_model.h"

namespace hare::partition {

struct SolveOptions {
  Objective objective = Objective::latency;
  int top = 1;               // how many best plans to return
  int exact_node_limit = 8;  // above this many nodes, a heuristic with a proven bound
};

struct SolveResult {
  std::vector<Plan> plans;  // best first
  std::vector<PlanMetrics> metrics;
  bool exact = true;
  // For a heuristic result: a proven bound on the objective (a lower bound
  // on latency/cores, an upper bound on throughput) and the relative gap.
  double bound = 0.0;
  double gap = 0.0;
  std::string method;  // how it was solved, for the output
  // Maximizing throughput when every plan overloads a stage at the
  // workload's λ: the plans are the best without λ, and their metrics are
  // priced without queueing (latency = idle latency).
  bool unloaded = false;
  long long labels = 0;  // DP labels created (a measure of work)
};

// Throws an input Error naming the binding constraint when no plan is feasible.
SolveResult solve(const Problem& problem, const SolveOptions& options);

}  // namespace hare::partition
