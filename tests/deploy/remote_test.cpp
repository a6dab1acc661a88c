// hare-deploy over SSH on the 3-host test bed ([ssh]: root): push, start,
// stream, compare with a local run, stop; and the failure paths.

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/json.h"
#include "deploy/remote.h"
#include "deploy/report.h"
#include "deploy/shell.h"
#include "fixtures/sample_plan.h"
#include "deploy/testbed_fixture.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;


TEST_CASE("deploy over SSH: push, start, stream, same predictions as locally, stop, nothing left", "[ssh]") {
  test::Bed bed;
  const auto start = std::chrono::steady_clock::now();
  const auto push = bed.deploy("push");
  INFO(push.err);
  REQUIRE(push.exit_code == 0);
  CHECK_THAT(push.out, Catch::Contains("h2: uploaded 4 of 4 files"));
  const auto again = bed.deploy("push");
  CHECK_THAT(again.out, Catch::Contains("nothing changed"));

  const auto started = bed.deploy("start --data " + test::source_path("data/mhealth/subject08.tsv.gz") + " --speed 0 --limit 150");
  INFO(started.err);
  REQUIRE(started.exit_code == 0);
  WARN("push + re-push + start: " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
  // Wait for the sink (on h1) to account for every window.
  YAML::Node sink;
  for (int i = 0; i < 200; ++i) {
    const auto status = bed.deploy("status");
    std::istringstream lines(status.out);
    std::string line;
    while (std::getline(lines, line)) {
      if (test::is_plan_line(line)) continue;
      const YAML::Node s = YAML::Load(line);
      CHECK(s["status"]["state"].as<std::string>() == "running");
      if (s["node"].as<std::string>() == "h1" && s["status"]["sink"]) sink = s["status"]["sink"];
    }
    if (sink && sink["done"].as<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(sink);
  CHECK(sink["received"].as<int>() == 150);
  CHECK(sink["lost"].as<int>() == 0);
  const auto remote = test::run("cat /home/haretest/hare-test/h1/run/h1.predictions.jsonl");

  // The same plan, locally.
  const auto local = test::run(test::tool_path("hare-deploy") + " local --plan " + bed.plan + " --data " +
                               test::source_path("data/mhealth/subject08.tsv.gz") + " --speed 0 --limit 150 --run-dir " +
                               bed.dir.file("local-run"));
  REQUIRE(local.exit_code == 0);
  std::ifstream local_file(bed.dir.file("local-run/h1.predictions.jsonl"));
  const std::string local_lines((std::istreambuf_iterator<char>(local_file)), {});
  const auto a = test::predictions_without_latency(remote.out);
  CHECK(a.size() == 150);
  CHECK(a == test::predictions_without_latency(local_lines));

  CHECK(bed.deploy("stop").exit_code == 0);
  CHECK_FALSE(test::test_bed_processes_running());
  for (const auto& [node, status] : test::status_lines(bed.deploy("status").out)) CHECK(status.state == "not running");
}

TEST_CASE("deploy over SSH: a node that dies after start shows as dead", "[ssh]") {
  test::Bed bed;
  REQUIRE(bed.deploy("push").exit_code == 0);
  REQUIRE(bed.deploy("start --data " + test::source_path("data/mhealth/subject08.tsv.gz") + " --speed 1").exit_code == 0);
  const auto pid = test::run("cat /home/haretest/hare-test/h2/run/h2.pid");
  REQUIRE(::kill(std::stoi(pid.out), SIGKILL) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(test::status_lines(bed.deploy("status").out).at("h2").state == "dead");
  CHECK(bed.deploy("stop").exit_code == 0);
  CHECK_FALSE(test::test_bed_processes_running());
}

TEST_CASE("deploy over SSH: a corrupted upload is refused and nothing switches", "[ssh]") {
  test::Bed bed;
  const auto push = test::run("HARE_FAULT_CORRUPT_UPLOAD=stage-2.pt " + test::tool_path("hare-deploy") + " push" + bed.options);
  CHECK(push.exit_code == 1);
  CHECK_THAT(push.err, Catch::Contains("hare-deploy: error: node h2: checksum mismatch after upload: slices/stage-2.pt: FAILED"));
  // Every node was reverted: no current plan anywhere.
  for (const char* node : {"h1", "h2", "h3"}) {
    CHECK_FALSE(fs::exists(std::string("/home/haretest/hare-test/") + node + "/current"));
  }
}

TEST_CASE("deploy over SSH: a wrong host key is refused with both fingerprints", "[ssh]") {
  test::Bed bed;
  // h3's key recorded for h2's address.
  std::ifstream h3(bed.dir.file("h3/host_key.pub"));
  std::string type, key;
  h3 >> type >> key;
  std::ifstream in(bed.dir.file("known_hosts"));
  std::string known((std::istreambuf_iterator<char>(in)), {});
  const size_t at = known.find("10.77.0.12 ");
  known.replace(at, known.find('\n', at) - at, "10.77.0.12 " + type + " " + key);
  test::write_text(bed.dir.file("known_hosts"), known);
  const auto push = bed.deploy("push");
  CHECK(push.exit_code == 1);
  CHECK_THAT(push.err, Catch::Contains("node h2 (10.77.0.12:22): HOST KEY CHANGED: known_hosts has SHA256:"));
  CHECK_THAT(push.err, Catch::Contains("the host offers SHA256:"));
  CHECK_FALSE(fs::exists("/home/haretest/hare-test/h1/current"));  // the other nodes were reverted
}

TEST_CASE("deploy over SSH: an unreachable host fails the push, naming it, and leaves nothing anywhere", "[ssh]") {
  test::Bed bed;
  // The same plan's cluster with h3 moved to an address nobody answers.
  std::ifstream in(test::source_path("configs/testbed.yaml"));
  std::string config((std::istreambuf_iterator<char>(in)), {});
  config.replace(config.find("10.77.0.13"), 10, "10.77.0.99");
  test::write_text(bed.dir.file("broken.yaml"), config);
  const auto push = test::run(test::tool_path("hare-deploy") + " push --plan " + bed.plan + " --cluster " +
                              bed.dir.file("broken.yaml") + " --known-hosts " + bed.dir.file("known_hosts") +
                              " --ssh-config " + bed.dir.file("ssh_config") + " --remote-dir hare-test");
  CHECK(push.exit_code == 1);
  CHECK_THAT(push.err, Catch::Contains("node h3 (10.77.0.99:22): cannot connect"));
  CHECK_FALSE(fs::exists("/home/haretest/hare-test/h1/current"));
  CHECK_FALSE(fs::exists("/home/haretest/hare-test/h2/current"));
  CHECK_FALSE(test::test_bed_processes_running());
}

TEST_CASE("deploy over SSH: a second plan can be rolled back to the first", "[ssh]") {
  test::Bed bed;
  REQUIRE(bed.deploy("push").exit_code == 0);
  const auto first = test::run("readlink /home/haretest/hare-test/h2/current");
  // The same cluster, another plan (other ports).
  const std::string second = bed.dir.file("plan2");
  REQUIRE(test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") + " --profiles " +
                    bed.dir.file("profiles") + " --cluster " + test::source_path("configs/testbed.yaml") + " --check-data " +
                    test::source_path("data/mhealth/subject08.tsv.gz") + " --base-port 6100 --out " + second)
              .exit_code == 0);
  std::string options = bed.options;
  options.replace(options.find(bed.plan), bed.plan.size(), second);
  REQUIRE(test::run(test::tool_path("hare-deploy") + " push" + options).exit_code == 0);
  CHECK(test::run("readlink /home/haretest/hare-test/h2/current").out != first.out);
  const auto rolled = test::run(test::tool_path("hare-deploy") + " rollback" + options);
  INFO(rolled.err);
  CHECK(rolled.exit_code == 0);
  CHECK(test::run("readlink /home/haretest/hare-test/h2/current").out == first.out);
}

TEST_CASE("deploy over SSH: shell syntax in the remote directory, the tools' path and a recording's name stays literal",
          "[ssh]") {
  test::Bed bed;
  const std::string payload = test::kShellPayload;
  REQUIRE(test::shell_payload_traces().empty());
  const std::string remote_dir = "hare-test/odd " + payload;
  // The tools, reached through a directory named with the payload.
  const std::string bin = "/tmp/hare-bin-" + std::to_string(::getpid()) + " " + payload;
  fs::create_directory_symlink(fs::path(test::tool_path("hare-node")).parent_path(), bin);
  struct Unlink {
    std::string path;
    ~Unlink() { fs::remove(path); }
  } unlink_bin{bin};
  const std::string data = bed.dir.file("rec " + payload + ".tsv.gz");
  fs::copy_file(test::source_path("data/mhealth/subject08.tsv.gz"), data);
  const std::string options = " --plan " + bed.plan + " --cluster " + test::source_path("configs/testbed.yaml") +
                              " --known-hosts " + bed.dir.file("known_hosts") + " --ssh-config " +
                              bed.dir.file("ssh_config") + " --remote-dir " + hare::deploy::shell_quote(remote_dir) +
                              " --remote-bin " + hare::deploy::shell_quote(bin);
  auto deploy = [&](const std::string& command) { return test::run(test::tool_path("hare-deploy") + " " + command + options); };
  struct Undeploy {  // whatever fails, nothing stays on the test bed's hosts
    std::function<void()> run;
    ~Undeploy() { run(); }
  } undeploy_at_end{[&] { deploy("undeploy"); }};

  const auto push = deploy("push");
  INFO(push.err);
  REQUIRE(push.exit_code == 0);
  CHECK(fs::is_symlink("/home/haretest/" + remote_dir + "/h2/current"));
  const auto started = deploy("start --data " + hare::deploy::shell_quote(data) + " --speed 0 --limit 150");
  INFO(started.err);
  REQUIRE(started.exit_code == 0);
  std::optional<hare::runtime::SinkSummary> sink;
  for (int i = 0; i < 200 && !(sink && sink->done); ++i) {
    for (const auto& [node, status] : test::status_lines(deploy("status").out)) {
      CHECK(status.state == "running");
      if (status.node && status.node->sink) sink = status.node->sink;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(sink);
  CHECK(sink->received == 150);
  CHECK(sink->lost == 0);
  CHECK(deploy("stop").exit_code == 0);
  CHECK_FALSE(test::test_bed_processes_running());
  const auto rollback = deploy("rollback");
  CHECK(rollback.exit_code == 1);
  CHECK_THAT(rollback.err, Catch::Contains("nothing to roll back to"));
  CHECK(deploy("undeploy").exit_code == 0);
  CHECK_FALSE(fs::exists("/home/haretest/" + remote_dir));
  CHECK(test::shell_payload_traces().empty());
}

namespace {

// Runs `hare-deploy <command>` in the background with stderr to `err_path`: its pid.
int deploy_in_background(const test::Bed& bed, const std::string& command, const std::string& err_path) {
  const auto started = test::run(test::tool_path("hare-deploy") + " " + command + bed.options + " >/dev/null 2>" +
                                 err_path + " & echo $!");
  return std::stoi(started.out);
}

// Waits (up to `seconds`) until every node of the test bed runs and the
// source streams: true if it happened.
bool wait_streaming(const test::Bed& bed, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto lines = test::status_lines(bed.deploy("status").out);
    bool streaming = lines.size() == 3;
    for (const auto& [node, status] : lines) {
      streaming = streaming && status.state == "running";
      if (status.node && status.node->source) streaming = streaming && status.node->source->state == "running";
    }
    if (streaming) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Waits for a background process to end (up to `seconds`): whether it did.
bool wait_gone(int pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return ::kill(pid, 0) != 0;
}

}  // namespace

TEST_CASE("deploy over SSH: hare-deploy run ends at once naming a failed source or a dead node, and stops the rest",
          "[ssh]") {
  test::Bed bed;
  // A recording shorter than one window: the source on h1 fails at once.
  const auto head = test::run("zcat " + test::source_path("data/mhealth/subject08.tsv.gz") + " | head -n 20");
  test::write_text(bed.dir.file("short.tsv"), head.out);
  // Its spec as a file of the user's (uploaded with the recording).
  fs::copy_file(test::source_path("configs/datasets/mhealth-tsv.yaml"), bed.dir.file("my spec.yaml"));
  auto started = std::chrono::steady_clock::now();
  const auto failed = bed.deploy("run --spec '" + bed.dir.file("my spec.yaml") + "' --data " + bed.dir.file("short.tsv") +
                                 " --run-timeout 600");
  const double failed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(failed.err);
  CHECK(failed.exit_code == 1);
  CHECK_THAT(failed.err, Catch::Contains("hare-deploy: error: the source on node h1 failed: ") &&
                             Catch::Contains("its log, on that node: ~/hare-test/h1/run/h1.log"));
  CHECK(failed_s < 60.0);  // not the run's timeout
  CHECK(fs::exists("/home/haretest/hare-test/h1/data/dataset-spec-my spec.yaml"));
  CHECK_FALSE(test::test_bed_processes_running());

  // A stage node that dies mid-run: named, with its log's last line.
  const std::string err = bed.dir.file("run.err");
  const int deployer = deploy_in_background(
      bed, "run --data " + test::source_path("data/mhealth/subject08.tsv.gz") + " --speed 1 --run-timeout 600", err);
  REQUIRE(wait_streaming(bed, 120));
  const auto pid = test::run("cat /home/haretest/hare-test/h2/run/h2.pid");
  REQUIRE(::kill(std::stoi(pid.out), SIGKILL) == 0);
  started = std::chrono::steady_clock::now();
  CHECK(wait_gone(deployer, 60));
  const double noticed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  WARN("a dead node ended hare-deploy run after " << noticed_s << " s");
  CHECK_THAT(read_file(err), Catch::Contains("hare-deploy: error: node h2 stopped while streaming"));
  CHECK_FALSE(test::test_bed_processes_running());
}

TEST_CASE("deploy over SSH: the nodes of a hare-deploy run killed with SIGKILL stop when their lease runs out",
          "[ssh]") {
  test::Bed bed;
  const std::string err = bed.dir.file("run.err");
  const int deployer = deploy_in_background(
      bed, "run --data " + test::source_path("data/mhealth/subject08.tsv.gz") + " --speed 1 --lease-s 5", err);
  REQUIRE(wait_streaming(bed, 120));
  REQUIRE(::kill(deployer, SIGKILL) == 0);
  const auto killed = std::chrono::steady_clock::now();
  // The test's own status polls renew the lease too: none from here on.
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() - killed < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gone = !test::test_bed_processes_running();
  }
  const double gone_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  WARN("the nodes stopped " << gone_s << " s after their deployer was killed (lease 5 s)");
  CHECK(gone);
  CHECK(gone_s >= 3.0);  // they waited for the lease, not less
  CHECK_THAT(read_file("/home/haretest/hare-test/h2/run/h2.log"), Catch::Contains("node h2: its lease ran out"));
}

TEST_CASE("deploy over SSH: a stage group of two hosts runs every window once, in order, each member its share",
          "[ssh]") {
  test::Bed bed(/*grouped=*/true);
  const auto push = bed.deploy("push");
  INFO(push.err);
  REQUIRE(push.exit_code == 0);
  // Both members get the stage's one slice.
  CHECK_THAT(push.out, Catch::Contains("h2: uploaded 4 of 4 files") && Catch::Contains("h3: uploaded 4 of 4 files"));
  const auto run = bed.deploy("run --data " + test::source_path("data/mhealth/subject08.tsv.gz") +
                              " --speed 50 --limit 150 --run-timeout 600");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("windows: sent 150, received 150, lost 0, duplicated 0") &&
                          Catch::Contains("-> stage 2 on h2|h3") && Catch::Contains("stage 2 on h2         1 x 1: 75 windows") &&
                          Catch::Contains("stage 2 on h3         1 x 1: 75 windows"));
  const auto remote = test::run("cat /home/haretest/hare-test/h1/run/h1.predictions.jsonl");
  const auto lines = test::predictions_without_latency(remote.out);
  REQUIRE(lines.size() == 150);
  for (size_t i = 0; i < lines.size(); ++i) CHECK(Json::parse(lines[i])["sequence"].get<size_t>() == i);
  CHECK_FALSE(test::test_bed_processes_running());
}
