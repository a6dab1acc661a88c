#pragma once

// The torch side of writing a plan directory, as a job for another process.
//
// hare-partition solves without LibTorch; only `--out` needs it, to cut the
// model into slices and prove them equivalent. So the planner writes the
// draft plan.yaml into its staging directory and runs hare-slice (next to
// it in bin/) on a SliceJob; hare-slice reads the plan, writes
// slices/stage-K.pt beside it and answers with a SliceOutcome: the
// equivalence report, or the error that stopped it. Both records cross the
// process boundary as JSON, with the one form defined here. Torch-free.

#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/slicing.h"

namespace hare::artifacts {

struct SliceJob {
  std::string plan_dir;    // holds plan.yaml; slices are written where its stages say
  std::string model_path;  // the whole model
  std::string card_path;   // its card: channels, window, normalization, validation files
  bool expand = false;     // the chain as the profiles were made
  std::vector<std::string> check_data;  // empty = the card's validation files
  int check_windows = 64;               // real windows to check (at least 32 needed)
  int check_random = 16;
};

struct SliceOutcome {
  std::optional<model::EquivalenceReport> check;  // when the slices were written and checked
  std::optional<Error> error;                     // otherwise, why not
};

std::string slice_job_to_json(const SliceJob& job);
// Throws an input Error for text that is not a SliceJob.
SliceJob parse_slice_job(const std::string& json_text);

std::string slice_outcome_to_json(const SliceOutcome& outcome);
// Throws a failure Error for text that is not a SliceOutcome.
SliceOutcome parse_slice_outcome(const std::string& json_text);

}  // namespace hare::artifacts
