#pragma once

// The torch side of a plan directory, run by hare-slice: cuts the model into
// the slices a draft plan.yaml names and checks them against the whole model
// on real windows, prepared exactly as the runtime's source will prepare
// them, and on random ones. Torch-free interface; links the model module.

#include "artifacts/slice_job.h"

namespace hare::artifacts {

// Writes every stage's slice under job.plan_dir and returns the check
// (passed or not: judging it is the planner's job). Throws an Error when the
// model, the card or the check data cannot be used.
model::EquivalenceReport run_slice_job(const SliceJob& job);

}  // namespace hare::artifacts
