#pragma once

// Writing a plan directory: slices, an equivalence check on real and random
// windows, plan.yaml, the model card, one file per node, the manifest; then
// an atomic move into place. Nothing is written where the user can see it
// unless the check passes. Torch-free: the slices are written and checked by
// hare-slice in its own process (see slice_job.h), so that a program linking
// the planner maps LibTorch only while that process runs.

#include <map>
#include <string>
#include <vector>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "data/model_card.h"
#include "model/slicing.h"
#include "partition/cluster.h"
#include "partition/cost_model.h"
#include "partition/solver.h"

namespace hare::artifacts {

struct WritePlanRequest {
  std::string model_path;
  std::string card_path;
  std::string cluster_path;
  const partition::ClusterConfig* cluster = nullptr;
  const partition::Problem* problem = nullptr;
  const partition::SolveResult* result = nullptr;  // plans.front() is written
  partition::Objective objective = partition::Objective::latency;
  bool expand = false;                    // as the profiles were made
  std::vector<std::string> check_data;    // "" = the card's validation_files
  int check_windows = 64;                 // real windows to check (at least 32 needed)
  int check_random = 16;
  std::string out;
  bool force = false;
  int base_port = 5550;                   // node i listens on base_port + i
  // A node's port instead of base_port + i: a re-plan of a running
  // deployment (hare-deploy watch) keeps each node's port, whatever the
  // nodes it lost did to the indices.
  std::map<std::string, int> ports;
  std::string slicer_path;                // "" = hare-slice next to this program
};

struct WritePlanResult {
  CommitResult commit = CommitResult::created;
  model::EquivalenceReport check;
};

WritePlanResult write_plan_dir(const WritePlanRequest& request);

// plan.yaml as the solver's first plan gives it, before the slices and the
// check: one stage per solver stage, each with its group of members and
// their figures; every member node has role "stage". (Exposed for tests.)
PlanDoc draft_plan(const WritePlanRequest& request, const data::ModelCard& card);

}  // namespace hare::artifacts
