#pragma once

// What the deployment benchmarks share (bench/edge_vs_cloud.cpp and its
// care-home workload, bench/care_home.cpp): running a helper program, the
// SSH test bed for the length of a benchmark, and a local run's twin on it.

#include <string>

#include "deploy/local.h"
#include "partition/problem.h"
#include "partition/solver.h"

namespace hare::bench {

// Today's date, UTC, as YYYY-MM-DD: when a result was made.
std::string today();

// Runs `command` by the shell with stdout and stderr into `log`; its exit code.
int run_command(const std::string& command, const std::string& log);

// The SSH test bed (tests/testbed/testbed.sh) up for the length of a
// benchmark: `hosts` hosts h1..hN at 10.77.0.11.., each at `mbps` and `ms`
// unless `per_host` ("h3:10:40 ...", the script's HARE_TESTBED_HOSTS) says
// otherwise. Torn down by the destructor, whatever happens. Throws a
// failure with the script's output when it does not come up.
class TestBed {
 public:
  TestBed(const std::string& bin_dir, const std::string& dir, int hosts, double mbps, double ms,
          const std::string& per_host);
  ~TestBed();
  TestBed(const TestBed&) = delete;
  TestBed& operator=(const TestBed&) = delete;

  // The test bed's address of host i (0-based): 10.77.0.(11 + i).
  static std::string address(int i);

 private:
  std::string script_;
  std::string dir_;
};

// The run `local` describes, over SSH on the test bed whose state is in
// `testbed_dir`, with the nodes of `cluster_path` (test-bed addresses, user
// haretest): hare-deploy run's path (deploy/remote.h).
deploy::LocalDeployResult deploy_on_testbed(const std::string& bin_dir, const std::string& testbed_dir,
                                            const deploy::LocalDeployOptions& local, const std::string& cluster_path);

// Writes the plan directory of `result`'s first plan at `out` (replacing
// what is there): slices, the equivalence check, plan.yaml, as
// hare-partition --out does.
void write_plan(const partition::PlanningInputs& inputs, const partition::SolveResult& result, const std::string& model,
                const std::string& cluster_path, partition::Objective objective, const std::string& out);

// Profiles `model` on this machine into <dir>/profiles/<device>/ by
// hare-profile in a process of its own: the profile is taken as an executor
// runs (OMP_WAIT_POLICY=ACTIVE, set by hare-profile before libgomp loads),
// which the benchmark, whose children inherit its environment, must not set.
void profile_here(const std::string& bin_dir, const std::string& dir, const std::string& model);

}  // namespace hare::bench
