// `hare-deploy status` prints one JSON record per node, whatever the texts
// inside (SSH errors, log tails) contain.

#include <catch2/catch.hpp>

#include <sstream>

#include "common/json.h"
#include "deploy/remote.h"
#include "deploy/report.h"
#include "deploy/watch.h"
#include "test_util.h"

using namespace hare;

TEST_CASE("deploy status: every state survives JSON with quotes, backslashes and newlines", "[deploy]") {
  deploy::NodeDeployStatus dead;
  dead.state = "dead";
  dead.pid = 42;
  dead.log = "hare-node: error: \"$HOME\"/'hare/x' \\n not found\nsecond \"line\"\t\\\n\xff\xfe";
  deploy::NodeDeployStatus unreachable;
  unreachable.state = "unreachable";
  unreachable.error = "cannot connect to h2 (10.0.0.2:22): ssh \"$HOME\"\\x: Connection refused";
  deploy::NodeDeployStatus running;
  running.state = "running";
  running.plan = "plans/abc";
  running.pid = 7;
  running.node = runtime::NodeStatus{};
  running.node->node = "h1";
  running.node->ready = true;
  for (const auto& s : {dead, unreachable, running}) {
    const std::string line = record_line(deploy::DeployStatusLine{"h\"1\\", s});
    CHECK(line.find('\n') == std::string::npos);
    const auto back = parse_record<deploy::DeployStatusLine>(line, "test");
    CHECK(back.node == "h\"1\\");
    CHECK(back.status.state == s.state);
    CHECK(back.status.error == s.error);
    CHECK(back.status.pid == s.pid);
    CHECK(back.status.node.has_value() == s.node.has_value());
  }
  // Bytes that are not UTF-8 are replaced, the rest kept.
  const auto back = parse_record<deploy::DeployStatusLine>(record_line(deploy::DeployStatusLine{"h", dead}), "test");
  CHECK_THAT(back.status.log, Catch::StartsWith("hare-node: error: \"$HOME\"/'hare/x' \\n not found\nsecond \"line\"\t\\\n"));
  // The node's own fields sit beside the state, as the line's readers expect.
  const Json j = Json::parse(record_line(deploy::DeployStatusLine{"h1", running}));
  CHECK(j["status"]["state"] == "running");
  CHECK(j["status"]["ready"] == true);
}

namespace {

// Nodes a and b on a port where nothing listens, with the shipped profile's
// device (the plan only has to exist, not to run here): the plan of `pins`
// (YAML list items) in `out`, its config in <dir>/cluster.yaml.
void unreachable_plan(const test::TempDir& dir, const std::string& pins, const std::string& out) {
  test::write_text(dir.file("cluster.yaml"), R"(format: hare-cluster/1
name: nowhere
nodes:
  - {name: a, device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB, address: 127.0.0.1, ssh: {user: "no\"body", port: 1}}
  - {name: b, device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB, address: 127.0.0.1, ssh: {user: nobody, port: 1}}
links:
  default: {bandwidth_mbps: 100, latency_ms: 1}
source: a
sink: a
pins:
)" + pins);
  const auto partition = test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") +
                                   " --profiles " + test::source_path("profiles") + " --cluster " +
                                   dir.file("cluster.yaml") + " --out " + out);
  INFO(partition.err);
  REQUIRE(partition.exit_code == 0);
}

}  // namespace

TEST_CASE("deploy status: unreachable nodes are reported as JSON lines naming the error", "[deploy]") {
  test::TempDir dir;
  unreachable_plan(dir, "  - {layers: conv1..conv2, node: a}\n  - {layers: conv3..out, node: b}\n", dir.file("plan"));
  const auto status = test::run(test::tool_path("hare-deploy") + " status --plan " + dir.file("plan") + " --cluster " +
                                dir.file("cluster.yaml") + " --known-hosts " + dir.file("known_hosts"));
  INFO(status.err);
  CHECK(status.exit_code == 0);
  std::istringstream lines(status.out);
  std::string line;
  int nodes = 0;
  while (std::getline(lines, line)) {
    // The last line: the plan the deployment runs (no watch has logged).
    if (lines.peek() == EOF) {
      const auto plan = parse_record<deploy::DeployPlanLine>(line, "hare-deploy status");
      CHECK(plan.plan_dir == dir.file("plan"));
      CHECK(plan.placement == "conv1..conv2: a 1x1 → conv3..out: b 1x1");
      CHECK_FALSE(plan.last_decision);
      CHECK_FALSE(plan.last_window);
      break;
    }
    const auto parsed = parse_record<deploy::DeployStatusLine>(line, "hare-deploy status");
    CHECK(parsed.status.state == "unreachable");
    CHECK_FALSE(parsed.status.error.empty());
    ++nodes;
  }
  CHECK(nodes == 2);
}

TEST_CASE("deploy status: the plan the watch switched to, and its last decision, from the watch's log", "[deploy]") {
  test::TempDir dir;
  unreachable_plan(dir, "  - {layers: conv1..out, node: b}\n", dir.file("run/plans/plan-1"));
  // The watch switched from `plan` (which need not exist any more) to plan-1.
  deploy::Decision switched;
  switched.time_s = 12.5;
  switched.trigger = "node lost: c";
  switched.resolved = true;
  switched.switched = true;
  switched.outcome = "switched to " + dir.file("run/plans/plan-1") + " (conv1..out: b 1x1) in 1.20 s";
  switched.plan_dir = dir.file("run/plans/plan-1");
  deploy::Decision later = switched;
  later.time_s = 13.5;
  later.trigger.clear();
  later.resolved = false;
  later.switched = false;
  later.outcome.clear();
  test::write_text(dir.file("run/watch.jsonl"), record_line(switched) + "\n" + record_line(later) + "\n");
  const auto status = test::run(test::tool_path("hare-deploy") + " status --plan " + dir.file("run/plans/plan-1") +
                                " --cluster " + dir.file("cluster.yaml") + " --known-hosts " + dir.file("known_hosts") +
                                " --log " + dir.file("run/watch.jsonl"));
  INFO(status.err);
  REQUIRE(status.exit_code == 0);
  std::string last;
  std::istringstream lines(status.out);
  for (std::string line; std::getline(lines, line);) last = line;
  const auto plan = parse_record<deploy::DeployPlanLine>(last, "hare-deploy status");
  CHECK(plan.plan_dir == dir.file("run/plans/plan-1"));
  CHECK(plan.placement == "conv1..out: b 1x1");
  // The last decision is the switch; the last window, the one after it.
  REQUIRE(plan.last_decision);
  CHECK(plan.last_decision->time_s == 12.5);
  CHECK(plan.last_decision->outcome == switched.outcome);
  REQUIRE(plan.last_window);
  CHECK(plan.last_window->time_s == 13.5);
}

TEST_CASE("a dead node's cause is its log's last error line, not the hint after it", "[deploy]") {
  const std::string log =
      "hare-node: node e1 up: listening on tcp://127.0.0.1:5551\n"
      "hare-node: node e1: stopping\n"
      "hare-node: error: node e1: its lease ran out: no request from the deploying process for 2 s\n"
      "hare-node: note: the deploying hare-deploy was stopped or lost its connection to this node\n";
  CHECK(hare::deploy::last_error_line(log) ==
        "hare-node: error: node e1: its lease ran out: no request from the deploying process for 2 s");
  CHECK_FALSE(hare::deploy::last_error_line("hare-node: node e1 up\nhare-node: node e1: stopping\n"));
}
