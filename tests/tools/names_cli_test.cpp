// Black-box tests of names and paths that would become commands or file
// paths (issue 12): hostile node names in a cluster config or a plan stop
// hare-partition and hare-deploy at read, with file:line:col and exit 2,
// before anything reaches a node; command-line names and --remote-dir are
// usage errors.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/fs.h"
#include "fixtures/sample_plan.h"
#include "cli_checks.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

namespace {

const char* const kProbe = "/tmp/hareprobe-PWNED";

// The issue's cluster: one node name is a shell command, one a way up.
const char* const kHostileCluster = R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}
  - {name: 'x;touch /tmp/hareprobe-PWNED;y', device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB}
  - {name: ../victim, device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 10, latency_ms: 1}
source: gw
)";

using test::first_line;

// A plan directory as hare-partition writes it, from the shared sample plan.
std::string write_plan_dir(const test::TempDir& dir, const artifacts::PlanDoc& plan) {
  const std::string out = dir.file("plan");
  write_file_atomic(out + "/plan.yaml", artifacts::plan_to_yaml(plan));
  write_file_atomic(out + "/model.yaml", "opaque here");
  write_file_atomic(out + "/slices/stage-1.pt", "slice 1");
  write_file_atomic(out + "/slices/stage-2.pt", "slice 2");
  artifacts::seal_plan_dir(out);
  return out;
}

}  // namespace

TEST_CASE("hare-partition: the issue's node names are refused at file:line:col, exit 2", "[tools]") {
  test::TempDir dir;
  test::write_text(dir.file("c.yaml"), kHostileCluster);
  const auto result = test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") +
                                " --profiles " + test::source_path("profiles") + " --cluster " + dir.file("c.yaml") +
                                " --out " + dir.file("plan"));
  INFO(result.err);
  CHECK(result.exit_code == 2);
  const std::string f = dir.file("c.yaml");
  CHECK_THAT(result.err, Catch::Contains(f + ":4:12: node name 'x;touch /tmp/hareprobe-PWNED;y' is not a valid name: "
                                             "it contains ';'"));
  CHECK_THAT(result.err, Catch::Contains(f + ":5:12: node name '../victim' is not a valid name: it contains '/'"));
  CHECK_THAT(result.err, Catch::Contains("a name is 1 to 64 letters, digits"));
  CHECK_FALSE(fs::exists(dir.file("plan")));
}

TEST_CASE("hare-deploy: hostile node names in the cluster or the plan stop it before any node is reached", "[tools]") {
  test::TempDir dir;
  ::unlink(kProbe);
  const std::string plan = write_plan_dir(dir, test::sample_plan());
  test::write_text(dir.file("c.yaml"), kHostileCluster);
  const std::string deploy = test::tool_path("hare-deploy");
  for (const char* command : {"status", "undeploy"}) {
    INFO(command);
    const auto result = test::run(deploy + " " + command + " --plan " + plan + " --cluster " + dir.file("c.yaml"));
    INFO(result.err);
    CHECK(result.exit_code == 2);
    CHECK_THAT(result.err, Catch::Contains(dir.file("c.yaml") + ":4:12: node name 'x;touch /tmp/hareprobe-PWNED;y'"));
    CHECK_THAT(result.err, Catch::Contains(dir.file("c.yaml") + ":5:12: node name '../victim'"));
  }
  // The same names in a plan (written by hand, with its manifest made anew).
  artifacts::PlanDoc hostile = test::sample_plan();
  hostile.nodes[1].name = "../victim";
  hostile.stages[1].members[0].node = "../victim";
  const std::string bad_plan = write_plan_dir(dir, hostile);
  test::write_text(dir.file("c.yaml"), test::replaced(kHostileCluster, "'x;touch /tmp/hareprobe-PWNED;y'", "edge"));
  const auto result = test::run(deploy + " status --plan " + bad_plan + " --cluster " + dir.file("c.yaml"));
  INFO(result.err);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains(bad_plan + "/plan.yaml:71:12: node name '../victim' is not a valid name"));
  CHECK_FALSE(fs::exists(kProbe));
}

TEST_CASE("command-line names and the remote directory are usage errors when they could leave their place", "[tools]") {
  auto check_usage = [](const std::string& command, const std::string& line) {
    const auto result = test::run(command);
    INFO(result.err);
    CHECK(result.exit_code == 2);
    CHECK(first_line(result.err) == line);
  };
  const std::string rule = " (a name is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit, "
                           "without '..')";
  check_usage(test::tool_path("hare-node") + " run --plan p --node ../victim",
              "hare-node: error: --node: node name '../victim' is not a valid name: it contains '/'" + rule);
  check_usage(test::tool_path("hare-node") + " status --run-dir r --node 'x;touch /tmp/hareprobe-PWNED;y'",
              "hare-node: error: --node: node name 'x;touch /tmp/hareprobe-PWNED;y' is not a valid name: it contains ';'" +
                  rule);
  check_usage(test::tool_path("hare-train") + " --name ../../etc/m",
              "hare-train: error: --name: model name '../../etc/m' is not a valid name: it contains '/'" + rule);
  check_usage(test::tool_path("hare-profile") + " --model m.pt --device-id /tmp/x",
              "hare-profile: error: --device-id: device id '/tmp/x' is not a valid name: it contains '/'" + rule);
  for (const char* remote_dir : {"../victim", "/etc", "''", "hare/../.."}) {
    INFO(remote_dir);
    const auto result = test::run(test::tool_path("hare-deploy") + " status --plan p --cluster c --remote-dir " + std::string(remote_dir));
    CHECK(result.exit_code == 2);
    CHECK_THAT(first_line(result.err), Catch::StartsWith("hare-deploy: error: --remote-dir: ") &&
                                           Catch::Contains("must be a relative path that stays inside the login directory"));
  }
}
