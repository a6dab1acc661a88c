#pragma once

// The end-of-run report: what the sink measured, beside what the plan
// predicted, stage by stage and hop by hop.

#include <string>

#include "deploy/local.h"

namespace hare::deploy {

std::string format_report(const std::string& plan_dir, const LocalDeployResult& result);

}  // namespace hare::deploy
