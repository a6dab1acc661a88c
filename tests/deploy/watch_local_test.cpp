// hare-deploy local --watch on a real 3-node plan: a stage node's process
// killed mid-stream is replaced by a plan without it, and the stream
// completes with every window, as an unwatched run of the same plan
// predicted them.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "common/json.h"
#include "common/strings.h"
#include "deploy/watch.h"
#include "runtime/records.h"
#include "deploy/testbed_fixture.h"
#include "test_util.h"

using namespace hare;
using Catch::Matchers::Contains;

namespace {

long long received_so_far(const std::string& log) {
  try {
    const auto last = deploy::last_decision(log);
    return last ? last->received : 0;
  } catch (const Error&) {
    return 0;  // a line half written
  }
}

}  // namespace

TEST_CASE("local --watch: a stage node killed mid-stream is replaced by a plan without it, and no window is lost",
          "[deploy]") {
  test::TempDir dir;
  test::partition_plan(dir, test::three_stage_cluster());
  const std::string model = test::source_path("models/hare-cnn.pt");
  const std::string recording = test::source_path("data/mhealth/subject08.tsv.gz");
  const std::string deploy = test::tool_path("hare-deploy") + " local --plan " + dir.file("plan") + " --data " +
                             recording + " --limit 300 --timeout 240";
  // The reference: the same plan, unwatched, undisturbed.
  const auto reference = test::run(deploy + " --speed 0 --run-dir " + dir.file("ref"));
  INFO(reference.err);
  REQUIRE(reference.exit_code == 0);

  const std::string run = dir.file("run");
  test::RunResult watched;
  std::thread runner([&] {
    watched = test::run(deploy + " --speed 20 --replay-windows 1000 --run-dir " + run + " --watch --cluster " +
                        dir.file("plan.cluster.yaml") + " --model " + model + " --profiles " + test::source_path("profiles") +
                        " --window-s 0.5 --lost-after-s 1");
  });
  // Once windows flow, e1's node and its workers (one process group) die.
  const auto begun = std::chrono::steady_clock::now();
  bool killed = false;
  while (std::chrono::steady_clock::now() - begun < std::chrono::seconds(120)) {
    if (received_so_far(run + "/watch.jsonl") >= 40) {
      const auto pid = test::run("pgrep -f '[h]are-node run .*--node e1 --run-dir " + run + " '");
      REQUIRE(pid.exit_code == 0);
      killed = kill(-std::stoi(pid.out), SIGKILL) == 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  runner.join();
  INFO(watched.err);
  REQUIRE(killed);
  REQUIRE(watched.exit_code == 0);
  CHECK_THAT(watched.err, Contains("node e1 stopped while streaming") && Contains("node lost: e1"));
  CHECK_THAT(watched.out, Contains("windows: sent 300, received 300, lost 0"));
  CHECK_THAT(watched.out, Contains("1 switch(es), 0 rolled back") && Contains("0 pushed out unacknowledged"));
  std::smatch recovery;
  REQUIRE(std::regex_search(watched.out, recovery, std::regex("recovery ([0-9.]+) s")));
  WARN("recovery from the loss of e1: " << recovery[1] << " s");
  // The new plan does without e1, and its predictions are the old plan's.
  CHECK_THAT(watched.out, Contains("plans/plan-1"));
  for (const std::string_view line : split(watched.out, '\n')) {
    if (line.rfind("  stage", 0) == 0) CHECK(line.find(" e1 ") == std::string_view::npos);
  }
  const auto expected = test::predictions_by_sequence(dir.file("ref") + "/gw.predictions.jsonl");
  const auto got = test::predictions_by_sequence(run + "/gw.predictions.jsonl");
  REQUIRE(expected.size() == 300);
  CHECK(got == expected);
  const auto last = deploy::last_decision(run + "/watch.jsonl");
  REQUIRE(last);
  CHECK_THAT(last->plan_dir, Contains("plans/plan-1"));
}

TEST_CASE("local --watch: without --cluster, or with another model than the plan's, nothing starts (exit 2)",
          "[deploy]") {
  test::TempDir dir;
  const std::string recording = test::source_path("data/mhealth/subject08.tsv.gz");
  const auto no_cluster = test::run(test::tool_path("hare-deploy") + " local --plan " + dir.file("plan") + " --data " +
                                    recording + " --watch");
  CHECK(no_cluster.exit_code == 2);
  CHECK_THAT(no_cluster.err, Contains("--watch requires --cluster"));

  test::partition_plan(dir, R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
  - {name: e1, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5}
source: gw
)");
  const std::string deploy = test::tool_path("hare-deploy") + " local --plan " + dir.file("plan") + " --data " +
                             recording + " --run-dir " + dir.file("run") + " --watch --cluster " + dir.file("plan.cluster.yaml") +
                             " --profiles " + test::source_path("profiles");
  const auto other = test::run(deploy + " --model " + test::source_path("models/hare-cnn-ae.pt"));
  CHECK(other.exit_code == 2);
  CHECK_THAT(other.err, Contains("hare-cnn-ae.pt") && Contains("is not the model of plan"));
  const auto missing = test::run(deploy + " --model " + dir.file("nowhere.pt"));
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Contains("error: " + dir.file("nowhere.pt") + ": the plan's model is not here") &&
                              Contains("--model FILE"));
  CHECK_FALSE(std::filesystem::exists(dir.file("run/gw.log")));
}
