#pragma once

// The end-of-run report: what the sink measured, beside what the plan
// predicted, stage by stage and hop by hop.

#include <string>

#include <optional>

#include "artifacts/plan.h"
#include "common/json.h"
#include "deploy/local.h"
#include "deploy/watch_policy.h"

namespace hare::deploy {

std::string format_report(const std::string& plan_dir, const LocalDeployResult& result);

// A plan's stages and nodes in one line, as partition::placement_text
// gives a solver's plan ("conv1..pool: gw 1x1 → fc1..out: e2 1x1").
std::string plan_placement(const artifacts::PlanDoc& plan);

// The last line of `hare-deploy status`: the plan the deployment runs (the
// watch's latest, from its log, else the one given), the watch's last
// decision (the last window that re-solved) and its last window.
struct DeployPlanLine {
  std::string plan_dir;
  std::string placement;
  std::optional<Decision> last_decision;
  std::optional<Decision> last_window;
};
HARE_DEFINE_RECORD(DeployPlanLine, plan_dir, placement, last_decision, last_window)

// The line for plan `plan_dir` and the watch log `watch_log` (which need
// not exist).
DeployPlanLine deploy_plan_line(const std::string& plan_dir, const std::string& watch_log);

}  // namespace hare::deploy
