#pragma once

// The 3-host SSH test bed (tests/testbed/testbed.sh) as a fixture for the
// [ssh] tests of hare-deploy: hosts up, this machine profiled, a plan for
// them; everything deployed undone and the hosts torn down at the end.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deploy/remote.h"
#include "test_util.h"

namespace hare::test {

struct Bed {
  TempDir dir;
  std::string script = source_path("tests/testbed/testbed.sh");
  std::string cluster;  // the plan's cluster config
  std::string plan;
  std::string options;  // --plan, --cluster and the SSH options of hare-deploy
  // With `grouped`: a 2-stage plan whose stage 2 is a group of h2 and h3.
  // `cluster_text`: the plan's cluster config instead of configs/testbed.yaml.
  explicit Bed(bool grouped = false, const std::string& cluster_text = "");
  ~Bed();
  Bed(const Bed&) = delete;
  Bed& operator=(const Bed&) = delete;
  RunResult deploy(const std::string& command) const;
};

// Whether a `hare-deploy status` line is its last one, the plan running
// (a DeployPlanLine, checked as one), not a node's.
bool is_plan_line(const std::string& line);

// `hare-deploy status`'s lines, by node; every line but the plan's must be
// one DeployStatusLine.
std::map<std::string, deploy::NodeDeployStatus> status_lines(const std::string& out);

// hare-node processes of this deployment on the test bed's hosts (their
// paths are under the test user's home; other tests' local nodes, under
// /tmp/hare-test-*, may run in parallel and do not count).
bool test_bed_processes_running();

// A predictions file's lines without their latency (which differs run to run).
std::vector<std::string> predictions_without_latency(const std::string& jsonl);

// Sequence -> predicted class, from a sink's predictions file; each
// sequence at most once (a Catch check).
std::map<uint64_t, std::string> predictions_by_sequence(const std::string& path);

}  // namespace hare::test
