#include "deploy/testbed_fixture.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/json.h"
#include "deploy/report.h"
#include "fixtures/sample_plan.h"
#include "runtime/records.h"

namespace hare::test {

namespace {

// The test bed's cluster with two stages, conv1..conv2 on h1 and conv3..out
// on h2: the plan that group_plan() turns into a group of h2 and h3.
const char* const kTwoStageTestbed = R"(format: hare-cluster/1
name: testbed
nodes:
  - {name: h1, device: local, cores: 1, mem_bytes: 1GiB, address: 10.77.0.11, ssh: {user: haretest}}
  - {name: h2, device: local, cores: 1, mem_bytes: 1GiB, address: 10.77.0.12, ssh: {user: haretest}}
  - {name: h3, device: local, cores: 1, mem_bytes: 1GiB, address: 10.77.0.13, ssh: {user: haretest}}
links:
  default: {bandwidth_mbps: 100, latency_ms: 5}
source: h1
sink: h1
pins:
  - {layers: conv1..conv2, node: h1}
  - {layers: conv3..out, node: h2}
)";

// Stage 2 of `plan` (on h2) becomes a group: h3 joins it with half the
// windows, sealed again.
void group_plan(const std::string& plan) {
  const std::string path = plan + "/plan.yaml";
  artifacts::PlanDoc doc = artifacts::read_plan(path);
  REQUIRE(doc.stages.size() == 2);
  join_group(doc, "h2", "h3", "10.77.0.13", doc.find_node("h2")->port, 0.5);
  artifacts::write_plan(path, doc);
  artifacts::seal_plan_dir(plan);
}

}  // namespace

Bed::Bed(bool grouped, const std::string& cluster_text) {
  cluster = source_path("configs/testbed.yaml");
  if (!cluster_text.empty()) {
    cluster = dir.file("cluster.yaml");
    write_text(cluster, cluster_text);
  }
  if (grouped) {
    cluster = dir.file("testbed-2.yaml");
    write_text(cluster, kTwoStageTestbed);
  }
  REQUIRE(::geteuid() == 0);
  // The links configs/testbed.yaml declares: 100 Mbit/s, 5 ms one-way.
  const auto up = run("HARE_NETDELAY=" + tool_path("hare-netdelay") + " " + script + " up " + dir.path() + " 3 100 5");
  if (up.exit_code != 0) FAIL("testbed: " + up.err);
  // This machine's profile, then the plan for the test bed's three hosts.
  const auto profile = run("cd " + dir.path() + " && " + tool_path("hare-profile") + " --model " +
                           source_path("models/hare-cnn.pt") + " --runs 100 -q");
  if (profile.exit_code != 0) FAIL("profile: " + profile.err);
  plan = dir.file("plan");
  const auto partition = run(tool_path("hare-partition") + " --model " + source_path("models/hare-cnn.pt") +
                             " --profiles " + dir.file("profiles") + " --cluster " + cluster + " --check-data " +
                             source_path("data/mhealth/subject08.tsv.gz") + " --out " + plan);
  if (partition.exit_code != 0) FAIL("partition: " + partition.err);
  if (grouped) group_plan(plan);
  options = " --plan " + plan + " --cluster " + cluster + " --known-hosts " + dir.file("known_hosts") +
            " --ssh-config " + dir.file("ssh_config") + " --remote-dir hare-test";
}

Bed::~Bed() {
  run(tool_path("hare-deploy") + " undeploy" + options);
  run(script + " down " + dir.path());
}

RunResult Bed::deploy(const std::string& command) const {
  return run(tool_path("hare-deploy") + " " + command + options);
}

bool is_plan_line(const std::string& line) {
  if (Json::parse(line).contains("node")) return false;
  parse_record<deploy::DeployPlanLine>(line, "hare-deploy status");
  return true;
}

std::map<std::string, deploy::NodeDeployStatus> status_lines(const std::string& out) {
  std::map<std::string, deploy::NodeDeployStatus> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (is_plan_line(line)) continue;
    auto parsed = parse_record<deploy::DeployStatusLine>(line, "hare-deploy status");
    lines[parsed.node] = std::move(parsed.status);
  }
  return lines;
}

bool test_bed_processes_running() { return run("pgrep -f '[h]are-node .*/home/haretest/hare-test/'").exit_code == 0; }

std::vector<std::string> predictions_without_latency(const std::string& jsonl) {
  std::vector<std::string> out;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    Json prediction = Json::parse(line);
    prediction.erase("latency_ms");
    out.push_back(prediction.dump());
  }
  return out;
}

std::map<uint64_t, std::string> predictions_by_sequence(const std::string& path) {
  std::map<uint64_t, std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto p = parse_record<runtime::Prediction>(line, path);
    INFO("sequence " << p.sequence);
    CHECK(out.emplace(p.sequence, p.predicted).second);
  }
  return out;
}

}  // namespace hare::test
