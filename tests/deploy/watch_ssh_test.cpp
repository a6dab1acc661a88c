// hare-deploy run --watch over SSH on the 3-host test bed ([ssh]: root):
// a real deployment, watched as a child process, disturbed mid-stream (a
// node killed, an interface down and up, a link's rate cut with tc or made
// to oscillate); its JSON-line log read back as deploy::Decision records.

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "artifacts/plan.h"
#include "common/json.h"
#include "deploy/testbed_fixture.h"
#include "deploy/watch.h"
#include "test_util.h"

using namespace hare;
using Catch::Matchers::Contains;

namespace {

const std::string kRecording = "data/mhealth/subject08.tsv.gz";

// Every decision of a watch log so far (a line still being written ends it).
std::vector<deploy::Decision> decisions(const std::string& log) {
  std::vector<deploy::Decision> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    try {
      out.push_back(parse_record<deploy::Decision>(line, log));
    } catch (const Error&) {
      break;
    }
  }
  return out;
}

// The last `count` decisions as their JSON lines, for a failure's message.
std::string log_tail(const std::vector<deploy::Decision>& all, size_t count) {
  std::string out;
  for (size_t k = all.size() > count ? all.size() - count : 0; k < all.size(); ++k) out += record_line(all[k]) + "\n";
  return out;
}

std::vector<deploy::Decision> switches(const std::vector<deploy::Decision>& all) {
  std::vector<deploy::Decision> out;
  for (const deploy::Decision& d : all) {
    if (d.outcome.rfind("switched", 0) == 0) out.push_back(d);
  }
  return out;
}

// `hare-deploy run --watch` of the bed's plan in a thread: `limit` windows
// at `speed`, one observation every half second.
class WatchedRun {
 public:
  WatchedRun(const test::Bed& bed, long long limit, double speed, const std::string& watch_options)
      : log_(bed.dir.file("watch.jsonl")) {
    const std::string command = test::tool_path("hare-deploy") + " run --watch" + bed.options + " --data " +
                                test::source_path(kRecording) + " --speed " + std::to_string(speed) + " --limit " +
                                std::to_string(limit) + " --run-timeout 300 --model " +
                                test::source_path("models/hare-cnn.pt") + " --profiles " + bed.dir.file("profiles") +
                                " --log " + log_ + " --window-s 0.5 --replay-windows 2000 " +
                                (watch_options.find("--lost-after-s") == std::string::npos ? "--lost-after-s 1 " : "") +
                                watch_options;
    thread_ = std::thread([this, command] {
      result_ = test::run(command);
      done_ = true;
    });
  }
  ~WatchedRun() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits (up to `seconds`) until the log's last decision satisfies `ready`;
  // false at once if the run has ended without it.
  bool wait_for(const std::function<bool(const std::vector<deploy::Decision>&)>& ready, double seconds) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      const bool ended = done_;
      const auto all = decisions(log_);
      if (!all.empty() && ready(all)) return true;
      if (ended) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // Why a wait failed: the run's exit, stderr and last decisions. Ends the
  // run first if it is still going (SIGTERM to its hare-deploy).
  std::string failure_report() {
    if (!done_) test::run("pkill -TERM -f -- '--log " + log_ + "'");
    thread_.join();
    return "hare-deploy run --watch: exit " + std::to_string(result_.exit_code) + "\nstderr:\n" + result_.err +
           "\nlast decisions:\n" + log_tail(decisions(log_), 6);
  }
  bool wait_received(long long windows, double seconds) const {
    return wait_for([&](const auto& all) { return all.back().received >= windows; }, seconds);
  }
  // Fails the test, with failure_report, unless `windows` arrive within `seconds`.
  void require_received(long long windows, double seconds) {
    if (!wait_received(windows, seconds)) FAIL(failure_report());
  }
  const test::RunResult& finish() {
    thread_.join();
    return result_;
  }
  std::vector<deploy::Decision> log() const { return decisions(log_); }

 private:
  std::string log_;
  std::thread thread_;
  test::RunResult result_;
  std::atomic<bool> done_{false};
};

// The predictions of an unwatched local run of the bed's plan: the whole model's.
std::map<uint64_t, std::string> reference_predictions(const test::Bed& bed, long long limit) {
  const auto local = test::run(test::tool_path("hare-deploy") + " local --plan " + bed.plan + " --data " +
                               test::source_path(kRecording) + " --speed 0 --limit " + std::to_string(limit) +
                               " --run-dir " + bed.dir.file("reference"));
  INFO(local.err);
  REQUIRE(local.exit_code == 0);
  return test::predictions_by_sequence(bed.dir.file("reference/h1.predictions.jsonl"));
}

// Kills a host's hare-node and its workers (one process group).
void kill_node(const std::string& host) {
  const auto pid = test::run("cat /home/haretest/hare-test/" + host + "/run/" + host + ".pid");
  REQUIRE(pid.exit_code == 0);
  REQUIRE(::kill(-std::stoi(pid.out), SIGKILL) == 0);
}

// The end report's recovery time, seconds.
double recovery_s(const std::string& out) {
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("recovery ([0-9.]+) s")));
  return std::stod(m[1]);
}

bool uses(const std::string& plan_dir, const std::string& node) {
  return artifacts::read_plan(plan_dir + "/plan.yaml").find_node(node) != nullptr;
}

// The stream's end as the watched run reports it: every window, none lost,
// the whole model's predictions.
void check_complete(const test::RunResult& run, const test::Bed& bed, long long limit) {
  CHECK_THAT(run.out, Contains("windows: sent " + std::to_string(limit) + ", received " + std::to_string(limit) +
                               ", lost 0"));
  CHECK_THAT(run.out, Contains("0 pushed out unacknowledged"));
  const auto expected = reference_predictions(bed, limit);
  const auto got = test::predictions_by_sequence("/home/haretest/hare-test/h1/run/h1.predictions.jsonl");
  REQUIRE(expected.size() == static_cast<size_t>(limit));
  CHECK(got == expected);
}

}  // namespace

TEST_CASE("watch over SSH: a stage host's hare-node killed mid-stream: the stream resumes on a plan without it, none lost",
          "[deploy][ssh][watch-ssh]") {
  test::Bed bed;
  const long long limit = 300;
  WatchedRun run(bed, limit, 20, "");
  run.require_received(40, 120);
  kill_node("h2");
  const auto& result = run.finish();
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.err, Contains("node lost: h2"));
  CHECK_THAT(result.out, Contains("1 switch(es), 0 rolled back"));
  const auto switched = switches(run.log());
  REQUIRE(switched.size() == 1);
  CHECK(switched[0].trigger == "node lost: h2");
  CHECK_FALSE(uses(switched[0].plan_dir, "h2"));
  // Where the recovery went: the windows around the loss.
  for (const deploy::Decision& d : run.log()) {
    if (d.time_s >= switched[0].time_s - 3) {
      WARN(d.time_s << " s: received " << d.received << ", lost " << d.observed.lost.size() << " " << d.trigger << " "
                    << d.outcome);
      if (d.time_s > switched[0].time_s + 8) break;
    }
  }
  for (const char* host : {"h1", "h3"}) {  // each node's own account of its switch
    const auto notes = test::run(std::string("grep -h 'switched to plan\\|workers' /home/haretest/hare-test/") + host +
                                 "/run/" + host + ".log");
    WARN(host << ": " << notes.out);
  }
  const double recovery = recovery_s(result.out);
  WARN("recovery from the loss of h2's hare-node over SSH: " << recovery << " s");
  CHECK(recovery < 10.0);
  check_complete(result, bed, limit);
  CHECK_FALSE(test::test_bed_processes_running());
}

// The windows stuck on the cut-off host outlive the sink's gap wait when
// the outage is long: its ack keeps them in the source's replay buffer
// (missing), and the switch's replay brings them, late.
TEST_CASE("watch over SSH: a host's interface down, then up: the stream resumes without it, and a later re-plan uses it",
          "[deploy][ssh][watch-ssh]") {
  test::Bed bed;
  const long long limit = 600;
  WatchedRun run(bed, limit, 20, "");
  run.require_received(40, 120);
  // h3 runs the last stage (pinned there): cut off, the plan does without it.
  REQUIRE(test::run("ip netns exec hare-h3 ip link set eth0 down").exit_code == 0);
  const bool replaced = run.wait_for([](const auto& all) { return switches(all).size() == 1; }, 30);
  REQUIRE(test::run("ip netns exec hare-h3 ip link set eth0 up").exit_code == 0);
  REQUIRE(replaced);
  // Back (it answers again): then h2 goes, and the plan without h2 needs h3 again.
  REQUIRE(run.wait_for(
      [](const auto& all) { return std::any_of(all.begin(), all.end(), [](const deploy::Decision& d) {
                                 return d.trigger == "node back: h3";
                               }); },
      30));
  kill_node("h2");
  const auto& result = run.finish();
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const auto switched = switches(run.log());
  REQUIRE(switched.size() >= 2);
  CHECK(switched.front().trigger == "node lost: h3");
  CHECK_FALSE(uses(switched.front().plan_dir, "h3"));
  CHECK(switched.back().trigger == "node lost: h2");
  CHECK(uses(switched.back().plan_dir, "h3"));
  CHECK_FALSE(uses(switched.back().plan_dir, "h2"));
  WARN("recovery after h3's interface went down, then h2's node: " << recovery_s(result.out) << " s (the last loss)");
  check_complete(result, bed, limit);
}

namespace {

// The test bed with a slow gateway (h1: source and sink, 50x this machine's
// time per window) and no pins: the plan puts the model on one of the fast
// hosts, h2 or h3, which are alike, so that a link of the one in use can be
// made slow and the other is the way out.
const char* const kDriftTestbed = R"(format: hare-cluster/1
name: testbed-drift
devices:
  slow-gateway: {profile: local, time_factor: 50.0}
nodes:
  - {name: h1, device: slow-gateway, cores: 1, mem_bytes: 1GiB, address: 10.77.0.11, ssh: {user: haretest}}
  - {name: h2, device: local, cores: 1, mem_bytes: 1GiB, address: 10.77.0.12, ssh: {user: haretest}}
  - {name: h3, device: local, cores: 1, mem_bytes: 1GiB, address: 10.77.0.13, ssh: {user: haretest}}
links:
  default: {bandwidth_mbps: 100, latency_ms: 5}
source: h1
sink: h1
)";

// The host of the plan's stages other than the gateway (the first such).
std::string offload_host(const std::string& plan_dir) {
  for (const auto& stage : artifacts::read_plan(plan_dir + "/plan.yaml").stages) {
    for (const auto& member : stage.members) {
      if (member.node != "h1") return member.node;
    }
  }
  return "";
}

// The rate of a test bed host's link into it (testbed.sh's tbf on the
// bridge's side), changed; its way out keeps its rate, so the status polls'
// answers still come back in time. A cut rate comes with a burst of one
// packet: a window's few KB then take their time at that rate, as on a
// slow link (testbed.sh's 32 kbit burst would let them through at once
// while the link is not saturated).
void set_rate(const std::string& host, double mbit) {
  const std::string burst = mbit < 100 ? "1600b" : "32kbit";
  REQUIRE(test::run("tc qdisc change dev hare-" + host + " root tbf rate " + std::to_string(static_cast<int>(mbit * 1000)) +
                    "kbit burst " + burst + " latency 400ms")
              .exit_code == 0);
}

// The stages of a plan directory, as "first..last@node+node" each.
std::vector<std::string> stage_layout(const std::string& plan_yaml) {
  std::vector<std::string> out;
  for (const auto& stage : artifacts::read_plan(plan_yaml).stages) {
    std::string nodes;
    for (const auto& member : stage.members) nodes += (nodes.empty() ? "" : "+") + member.node;
    out.push_back(std::to_string(stage.first_layer) + ".." + std::to_string(stage.last_layer) + "@" + nodes);
  }
  return out;
}

// What hare-partition makes of the bed's cluster with the links as the
// watch measured them up to `until` (each link's latest figure): the plan
// the solver gives for the measured figures.
std::vector<std::string> solved_for_measured(const test::Bed& bed, const std::vector<deploy::Decision>& log,
                                             double until_s) {
  std::map<std::pair<std::string, std::string>, deploy::LinkMeasurement> latest;
  for (const deploy::Decision& d : log) {
    if (d.time_s > until_s) break;
    for (const deploy::LinkMeasurement& link : d.observed.links) latest[{link.from, link.to}] = link;
  }
  YAML::Node cluster = YAML::LoadFile(bed.cluster);
  for (const auto& [pair, link] : latest) {
    YAML::Node entry;
    entry["from"] = link.from;
    entry["to"] = link.to;
    entry["bandwidth_mbps"] = link.bandwidth_mbps;
    entry["latency_ms"] = link.latency_ms;
    entry["symmetric"] = false;
    cluster["links"]["pairs"].push_back(entry);
  }
  const std::string measured = bed.dir.file("measured.yaml");
  std::ofstream(measured) << cluster;
  const std::string out = bed.dir.file("measured-plan");
  const auto partition = test::run(test::tool_path("hare-partition") + " --model " +
                                   test::source_path("models/hare-cnn.pt") + " --profiles " + bed.dir.file("profiles") +
                                   " --cluster " + measured + " --check-data " + test::source_path(kRecording) +
                                   " --out " + out + " --force");
  INFO(partition.err);
  REQUIRE(partition.exit_code == 0);
  return stage_layout(out + "/plan.yaml");
}

}  // namespace

TEST_CASE("watch over SSH: a link's rate cut mid-stream switches once, to the solver's plan for it, and restored, at most "
          "once back",
          "[deploy][ssh][watch-ssh]") {
  test::Bed bed(false, kDriftTestbed);
  const std::string host = offload_host(bed.plan);
  REQUIRE((host == "h2" || host == "h3"));
  const double hold_s = 3.0;
  const long long limit = 600;
  // This machine runs every host's workers on 2 cores: a stage's compute
  // is several times its profile's (a fraction of a millisecond), which is
  // not the drift this test is about. The status polls share the slow link.
  WatchedRun run(bed, limit, 20, "--hold-s 3 --drift-ratio 6 --lost-after-s 4");
  run.require_received(60, 120);
  REQUIRE(switches(run.log()).empty());
  set_rate(host, 0.5);
  const bool switched = run.wait_for([](const auto& all) { return !switches(all).empty(); }, 6 * hold_s);
  const auto cut = run.log();
  // A while on the new plan, then the rate back.
  std::this_thread::sleep_for(std::chrono::duration<double>(2 * hold_s));
  const size_t before_restore = switches(run.log()).size();
  set_rate(host, 100);
  const auto& result = run.finish();
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  INFO(log_tail(cut, 6));
  REQUIRE(switched);
  CHECK(before_restore == 1);
  const auto all = switches(run.log());
  CHECK(all.size() <= 2);  // the one for the cut, and at most one back
  const deploy::Decision& first = all.front();
  CHECK_THAT(first.trigger, Contains("drift: link") && Contains(host));
  CHECK_FALSE(uses(first.plan_dir, host));
  CHECK(stage_layout(first.plan_dir + "/plan.yaml") == solved_for_measured(bed, cut, first.time_s));
  for (const deploy::Decision& d : all) WARN(d.time_s << " s: " << d.trigger << " -> " << d.new_placement);
  check_complete(result, bed, limit);
}

TEST_CASE("watch over SSH: a link oscillating around the threshold switches at most once per hold time",
          "[deploy][ssh][watch-ssh]") {
  test::Bed bed(false, kDriftTestbed);
  const std::string host = offload_host(bed.plan);
  REQUIRE((host == "h2" || host == "h3"));
  const double hold_s = 3.0;
  const long long limit = 450;
  WatchedRun run(bed, limit, 20, "--hold-s 3 --drift-ratio 6 --lost-after-s 4");  // as above
  run.require_received(60, 120);
  // The rate toggles every hold/3 s, for five hold times.
  bool slow = false;
  for (int i = 0; i < 15; ++i) {
    slow = !slow;
    set_rate(host, slow ? 0.5 : 100);
    std::this_thread::sleep_for(std::chrono::duration<double>(hold_s / 3));
  }
  set_rate(host, 100);
  const auto& result = run.finish();
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  // The link into the host crossed the threshold (7 x its planned 5 ms)
  // again and again: what the hold time is there to absorb.
  int crossings = 0, beyond_windows = 0;
  bool beyond_before = false;
  for (const deploy::Decision& d : run.log()) {
    bool beyond = false;
    for (const deploy::LinkMeasurement& link : d.observed.links) {
      if (link.from == "h1" && link.to == host && link.latency_ms > 7 * 5.0) beyond = true;
    }
    if (beyond && !beyond_before) ++crossings;
    if (beyond) ++beyond_windows;
    beyond_before = beyond;
  }
  CHECK(crossings >= 2);
  const auto all = switches(run.log());
  for (size_t k = 1; k < all.size(); ++k) CHECK(all[k].time_s - all[k - 1].time_s >= hold_s);
  CHECK(all.size() <= 2);
  WARN(all.size() << " switch(es) while the link oscillated for " << 5 * hold_s << " s (hold " << hold_s
                  << " s): it was beyond its threshold in " << beyond_windows << " windows, " << crossings
                  << " times from below");
  check_complete(result, bed, limit);
}
