// hare-slice: the torch side of `hare-partition --out`, in its own process so
// that hare-partition never maps LibTorch (started by hare-partition, not by
// hand). Reads a slicing job (JSON, artifacts/slice_job.h), writes the slices
// of the draft plan in the job's directory, checks them against the whole
// model, and prints the outcome (JSON) on stdout: the check's figures, or
// the error, which hare-partition reports as its own.

#include <CLI/CLI.hpp>

#include <iostream>

#include "artifacts/slicer.h"
#include "common/diag.h"
#include "tool_common.h"

using namespace hare;

int main(int argc, char** argv) {
  // Sharing the machine with whoever runs hare-partition: OpenMP threads sleep.
  tools::use_openmp_wait_policy(argv, "", "PASSIVE");
  return diag::run_main("hare-slice", [&] {
    CLI::App app{"(internal) Write and check the slices of a draft plan for hare-partition --out."};
    std::string job_text;
    app.add_option("--job", job_text, "The slicing job (JSON)")->required();
    if (auto code = tools::parse(app, argc, argv)) return *code;

    artifacts::SliceOutcome outcome;
    try {
      outcome.check = artifacts::run_slice_job(artifacts::parse_slice_job(job_text));
    } catch (const Error& error) {
      outcome.error = error;
    } catch (const std::exception& error) {
      outcome.error = failure("slicing the model failed: {}", error.what());
    }
    std::cout << artifacts::slice_outcome_to_json(outcome) << "\n";
    return outcome.error ? static_cast<int>(outcome.error->exit_code()) : 0;
  });
}
