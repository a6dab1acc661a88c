// The watch loop (deploy/watch.h) against a fake deployment: nodes that
// answer or not, a sink whose counters the test drives, control requests
// recorded, a switch that can be made to fail; plans written by a fake.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <mutex>

#include "deploy/watch.h"
#include "test_util.h"

using namespace hare;
using namespace hare::deploy;
using Catch::Matchers::Contains;

namespace {

// gw (source, sink) -> e1 -> e2 -> gw; `links_mbps` on every link.
artifacts::PlanDoc plan_on(const std::vector<std::string>& stage_nodes, double link_mbps = 100.0) {
  artifacts::PlanDoc doc;
  doc.objective = "latency";
  doc.source = "gw";
  doc.sink = "gw";
  std::vector<std::string> names = {"gw"};
  for (size_t k = 0; k < stage_nodes.size(); ++k) {
    artifacts::PlanStage stage;
    stage.index = static_cast<int>(k + 1);
    stage.first_layer = stage.last_layer = static_cast<int>(k + 1);
    artifacts::PlanMember member;
    member.node = stage_nodes[k];
    member.compute_ms = 5.0;
    stage.members.push_back(member);
    doc.stages.push_back(stage);
    if (stage_nodes[k] != "gw") names.push_back(stage_nodes[k]);
  }
  for (const std::string& name : names) {
    artifacts::PlanNode node;
    node.name = name;
    doc.nodes.push_back(node);
  }
  for (const std::string& a : names) {
    for (const std::string& b : names) {
      if (a != b) doc.links.push_back(artifacts::PlanLink{a, b, link_mbps, 2.0});
    }
  }
  return doc;
}

partition::ClusterConfig cluster() {
  partition::ClusterConfig c;
  c.name = "fake";
  for (const char* name : {"gw", "e1", "e2"}) {
    partition::NodeConfig n;
    n.name = name;
    n.device = "d";
    n.cores = 1;
    c.nodes.push_back(n);
  }
  c.default_link = partition::LinkConfig{100.0, 2.0, Codec::float32};
  c.source = "gw";
  c.sink = "gw";
  return c;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Nodes that answer their status unless dead; the sink's counters as
// cumulative means, which feed() advances by one window's figures.
struct FakeTarget : WatchTarget {
  std::map<std::string, runtime::NodeStatus> nodes;
  std::set<std::string> dead;
  std::mutex mutex;                   // the watch asks nodes from several threads at once
  std::vector<std::string> requests;  // "<node>: <request>", under mutex
  std::vector<std::string> installed, uninstalled, started, stopped;
  std::string refuse;  // "<node>: <request>" answered with an error

  FakeTarget() {
    for (const char* name : {"gw", "e1", "e2"}) nodes[name].node = name;
    nodes["gw"].sink = runtime::SinkSummary{};
    nodes["gw"].sink->stages.resize(2);
    nodes["gw"].sink->stages[0].stage = 1;
    nodes["gw"].sink->stages[1].stage = 2;
    nodes["gw"].source = runtime::SourceStatus{};
  }

  // One window of `windows` windows at the sink, each with `transfer_ms` and
  // `bytes` into stage 1 (the link gw -> first stage).
  void feed(long long windows, double transfer_ms, double bytes) {
    runtime::SinkSummary& s = *nodes["gw"].sink;
    runtime::StageMeasurement& m = s.stages[0];
    const double n = static_cast<double>(m.windows), add = static_cast<double>(windows);
    m.transfer_in_ms_mean = (m.transfer_in_ms_mean * n + transfer_ms * add) / (n + add);
    m.bytes_in = (m.bytes_in * n + bytes * add) / (n + add);
    m.windows += windows;
    s.received += windows;
  }

  std::map<std::string, std::optional<runtime::NodeStatus>> status(const std::vector<std::string>& asked,
                                                                  double) override {
    std::map<std::string, std::optional<runtime::NodeStatus>> out;
    for (const std::string& node : asked) {
      if (dead.count(node) == 0 && nodes.count(node) > 0) {
        out[node] = nodes[node];
      } else {
        out[node] = std::nullopt;
      }
    }
    return out;
  }
  runtime::ControlReply control(const std::string& node, const std::string& request) override {
    const std::string what = node + ": " + request;
    {
      std::lock_guard<std::mutex> lock(mutex);
      requests.push_back(what);
    }
    if (what == refuse) return runtime::ControlReply{false, "refused by the test"};
    return runtime::ControlReply{dead.count(node) == 0, dead.count(node) == 0 ? "" : "no answer"};
  }
  std::map<std::string, std::string> install(const std::string& plan_dir, const std::vector<std::string>& to) override {
    installed.push_back(plan_dir);
    std::map<std::string, std::string> paths;
    for (const std::string& node : to) paths[node] = plan_dir;
    return paths;
  }
  void uninstall(const std::string& plan_dir) override { uninstalled.push_back(plan_dir); }
  std::string fail_start;  // a node that does not come up
  void start(const std::string& node, const std::string&) override {
    if (node == fail_start) throw failure("node {}: not healthy within 60 s", node);
    started.push_back(node);
  }
  void stop(const std::string& node) override { stopped.push_back(node); }

  std::vector<std::string> switches() const {
    std::vector<std::string> out;
    for (const std::string& r : requests) {
      if (r.find(": switch ") != std::string::npos) out.push_back(r);
    }
    return out;
  }
};

// Re-solves to the plan on the stage nodes that are left (e2 alone when e1
// is lost; gw alone when both are), predicted better than the running one.
struct FakePlanner {
  double current_ms = 20.0;
  double best_ms = 10.0;
  int written = 0;

  ReplannerFor replanner_for() {
    return [this](const artifacts::PlanDoc& running) -> Replanner {
      return [this, running](const partition::ClusterConfig& measured) {
        Replan r;
        bool runs = true;
        for (const auto& node : running.nodes) runs = runs && measured.find_node(node.name) != nullptr;
        if (runs) {
          r.current = partition::PlanMetrics{};
          r.current->valid = r.current->feasible = r.current->meets_window_rate = true;
          r.current->latency_ms = current_ms;
        }
        r.best = partition::Plan{};
        r.best_metrics.valid = r.best_metrics.feasible = r.best_metrics.meets_window_rate = true;
        r.best_metrics.latency_ms = best_ms;
        for (const auto& node : measured.nodes) r.placement += (r.placement.empty() ? "" : " ") + node.name;
        return r;
      };
    };
  }
  PlanWriter writer() {
    return [this](const partition::ClusterConfig& measured, const Replan&, int number) {
      ++written;
      std::vector<std::string> stages;
      for (const char* node : {"e1", "e2"}) {
        if (measured.find_node(node) != nullptr) stages.push_back(node);
      }
      if (stages.empty()) stages.push_back("gw");
      return NewPlan{"plan-" + std::to_string(number), plan_on(stages)};
    };
  }
};

WatchOptions options(const std::string& log = "") {
  WatchOptions o;
  o.window_s = 1.0;
  o.lost_after_s = 1.5;
  o.policy.hold_s = 5.0;
  o.policy.margin = 0.2;
  o.policy.drift_ratio = 0.5;
  o.log_path = log;
  return o;
}

std::map<std::string, std::string> paths_of(const std::string& dir) {
  return {{"gw", dir}, {"e1", dir}, {"e2", dir}};
}

std::vector<Decision> read_log(const std::string& path) {
  std::vector<Decision> out;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) out.push_back(parse_record<Decision>(line, path + ":" + std::to_string(++number)));
  return out;
}

}  // namespace

TEST_CASE("watch: a lost stage node makes one switch, to a plan without it, all at once or receivers first",
          "[deploy]") {
  test::TempDir dir;
  FakeTarget target;
  // The source's node pauses its source (then every node switches at
  // once), or it cannot (then one by one).
  const bool pausable = GENERATE(true, false);
  if (!pausable) target.refuse = "gw: pause";
  FakePlanner planner;
  Watch watch(target, "plan-0", plan_on({"e1", "e2"}), paths_of("plan-0"), cluster(), planner.replanner_for(),
              planner.writer(), options(dir.file("watch.jsonl")));
  // 1 kB a window over a 2 ms link: 2.08 ms, as planned.
  for (int t = 0; t < 3; ++t) {
    target.feed(10, 2.08, 1000.0);
    CHECK_FALSE(watch.step(t).resolved);
  }
  target.dead.insert("e1");
  // Silent for 1 s: not yet lost; 2 s: lost, and the switch follows at once.
  CHECK_FALSE(watch.step(3).resolved);
  const Decision d = watch.step(4);
  CHECK_THAT(d.trigger, Contains("node lost: e1"));
  CHECK(d.switched);
  CHECK_THAT(d.outcome, Contains("switched to plan-1"));
  CHECK(d.plan_dir == "plan-1");
  CHECK(watch.plan_dir() == "plan-1");
  // Paused: e2 and gw at once, between "pause" and "resume". Else the
  // stages from the last, then the source's node (gw, the sink too), whose
  // replay starts when it switches. e1 is not asked.
  if (pausable) {
    REQUIRE(target.requests.size() == 4);
    CHECK(target.requests.front() == "gw: pause");
    CHECK(target.requests.back() == "gw: resume");
    CHECK(sorted(target.switches()) == std::vector<std::string>{"e2: switch plan-1", "gw: switch plan-1"});
  } else {
    // "resume" all the same: the pause may have taken and its reply been lost.
    CHECK(target.requests ==
          std::vector<std::string>{"gw: pause", "e2: switch plan-1", "gw: switch plan-1", "gw: resume"});
  }
  // The sink's windows flow again two windows later: the recovery is from
  // the last window before the loss (t = 2) to the first after (t = 6).
  CHECK_FALSE(watch.step(5).switched);
  for (int t = 6; t < 30; ++t) {
    target.feed(10, 2.08, 1000.0);
    CHECK_FALSE(watch.step(t).switched);
  }
  CHECK(planner.written == 1);
  CHECK(target.switches().size() == 2);
  REQUIRE(watch.summary().recovery_s);
  CHECK(*watch.summary().recovery_s == Approx(4.0));
  CHECK(watch.summary().switches == 1);
  CHECK(watch.lost() == std::set<std::string>{"e1"});
  // Every window is one line of the log, each a Decision.
  const std::vector<Decision> log = read_log(dir.file("watch.jsonl"));
  REQUIRE(log.size() == 30);
  CHECK(log[4].switched);
  CHECK(log[4].observed.lost == std::vector<std::string>{"e1"});
  CHECK(log[29].plan_dir == "plan-1");
  CHECK(log[29].received == 270);
  REQUIRE(last_decision(dir.file("watch.jsonl")));
  CHECK(last_decision(dir.file("watch.jsonl"))->time_s == 29.0);
}

TEST_CASE("watch: a link's bandwidth over each window comes from the sink's counters, not since the start",
          "[deploy]") {
  FakeTarget target;
  FakePlanner planner;
  Watch watch(target, "plan-0", plan_on({"e1", "e2"}), paths_of("plan-0"), cluster(), planner.replanner_for(),
              planner.writer(), options());
  // 100 kB a window at 100 Mbit/s: 8 ms + 2 ms latency.
  target.feed(1000, 10.0, 100000.0);
  watch.step(0);  // the baseline
  target.feed(10, 10.0, 100000.0);
  Decision d = watch.step(1);
  REQUIRE(d.observed.links.size() == 1);
  CHECK(d.observed.links[0].from == "gw");
  CHECK(d.observed.links[0].to == "e1");
  CHECK(d.observed.links[0].bandwidth_mbps == Approx(100.0));
  // 10 windows at 20 Mbit/s after 1010 at 100: this window says 20.
  target.feed(10, 42.0, 100000.0);
  d = watch.step(2);
  REQUIRE(d.observed.links.size() == 1);
  CHECK(d.observed.links[0].bandwidth_mbps == Approx(20.0));
}

TEST_CASE("watch: a link that oscillates around its threshold switches at most once per hold time", "[deploy]") {
  FakeTarget target;
  FakePlanner planner;
  Watch watch(target, "plan-0", plan_on({"e1", "e2"}), paths_of("plan-0"), cluster(), planner.replanner_for(),
              planner.writer(), options());
  std::vector<double> switched_at;
  for (int t = 0; t < 120; ++t) {
    // 20 Mbit/s (drifting) for 7 windows, 100 for 2, and again: every
    // spell past the threshold is longer than the hold time (5 s).
    const bool slow = t % 9 < 7;
    target.feed(10, slow ? 42.0 : 10.0, 100000.0);
    const Decision d = watch.step(t);
    if (d.switched) {
      CHECK_THAT(d.outcome, Contains("switched"));
      switched_at.push_back(t);
    }
  }
  REQUIRE_FALSE(switched_at.empty());
  for (size_t i = 1; i < switched_at.size(); ++i) CHECK(switched_at[i] - switched_at[i - 1] >= 5.0);
}

TEST_CASE("watch: a switch a node refuses is rolled back on every node that took it, and logged", "[deploy]") {
  test::TempDir dir;
  FakeTarget target;
  FakePlanner planner;
  Watch watch(target, "plan-0", plan_on({"e1", "e2"}), paths_of("plan-0"), cluster(), planner.replanner_for(),
              planner.writer(), options(dir.file("watch.jsonl")));
  // Both switch at once (the source paused); gw refuses, e2 has taken the plan.
  target.refuse = "gw: switch plan-1";
  watch.step(0);
  target.dead.insert("e1");
  watch.step(1);
  const Decision d = watch.step(2);
  CHECK(d.switched);
  CHECK_THAT(d.outcome, Contains("rolled back to plan-0") && Contains("node gw refused 'switch plan-1'"));
  CHECK(d.plan_dir == "plan-0");
  CHECK(watch.plan_dir() == "plan-0");
  const std::vector<std::string> switched = target.switches();
  REQUIRE(switched.size() == 4);
  CHECK(sorted({switched[0], switched[1]}) == std::vector<std::string>{"e2: switch plan-1", "gw: switch plan-1"});
  CHECK(switched[2] == "e2: switch plan-0");
  CHECK(switched[3] == "gw: switch plan-0");
  CHECK(target.requests.back() == "gw: resume");  // after the roll back
  CHECK(target.uninstalled == std::vector<std::string>{"plan-1"});
  CHECK(watch.summary().rollbacks == 1);
  // The plan that cannot run is tried again after the hold time (5 s), from
  // the directory written for it; now e2 takes it.
  target.refuse.clear();
  for (int t = 3; t < 7; ++t) CHECK_FALSE(watch.step(t).resolved);
  const Decision again = watch.step(7);
  CHECK_THAT(again.trigger, Contains("node lost: e1"));
  CHECK_THAT(again.outcome, Contains("switched to plan-1"));
  CHECK(planner.written == 1);
  const std::vector<Decision> log = read_log(dir.file("watch.jsonl"));
  REQUIRE(log.size() == 8);
  CHECK_THAT(log[2].outcome, Contains("rolled back"));
  CHECK_THAT(log[7].outcome, Contains("switched"));
}

TEST_CASE("watch: a node the new plan uses that does not run is started on it, and stopped if the switch fails",
          "[deploy]") {
  FakeTarget target;
  FakePlanner planner;
  // Running on e1 alone; e2 has no process yet (the watch does not ask it).
  target.dead.insert("e2");
  Watch watch(target, "plan-0", plan_on({"e1"}), {{"gw", "plan-0"}, {"e1", "plan-0"}}, cluster(),
              planner.replanner_for(), planner.writer(), options());
  watch.step(0);
  target.dead.insert("e1");
  target.refuse = "gw: switch plan-1";
  watch.step(1);
  Decision d = watch.step(2);
  CHECK(target.started == std::vector<std::string>{"e2"});
  CHECK(target.stopped == std::vector<std::string>{"e2"});
  CHECK_THAT(d.outcome, Contains("rolled back"));
  target.refuse.clear();
  for (int t = 3; t < 7; ++t) watch.step(t);
  d = watch.step(7);
  CHECK_THAT(d.outcome, Contains("switched to plan-1") && Contains("started e2"));
  CHECK(target.started == std::vector<std::string>{"e2", "e2"});
}

TEST_CASE("watch: the last decision of a log, none for a missing or empty one, an error naming a bad line",
          "[deploy]") {
  test::TempDir dir;
  CHECK_FALSE(last_decision(dir.file("none.jsonl")));
  test::write_text(dir.file("empty.jsonl"), "");
  CHECK_FALSE(last_decision(dir.file("empty.jsonl")));
  Decision d;
  d.time_s = 4.0;
  d.trigger = "node lost: e1";
  d.outcome = "switched to plan-1 (e2)";
  test::write_text(dir.file("w.jsonl"), record_line(Decision{}) + "\n" + record_line(d) + "\n");
  REQUIRE(last_decision(dir.file("w.jsonl")));
  CHECK(last_decision(dir.file("w.jsonl"))->outcome == d.outcome);
  test::write_text(dir.file("bad.jsonl"), record_line(d) + "\n{\"time_s\": 1}\n");
  CHECK_THROWS_WITH(last_decision(dir.file("bad.jsonl")), Contains(dir.file("bad.jsonl") + ":2"));
}

TEST_CASE("watch: the sink's contiguous-through sequence is relayed to a source on another node", "[deploy]") {
  FakeTarget target;
  FakePlanner planner;
  artifacts::PlanDoc plan = plan_on({"e1"});
  plan.sink = "e2";
  plan.nodes.push_back(artifacts::PlanNode{});
  plan.nodes.back().name = "e2";
  target.nodes["e2"].sink = runtime::SinkSummary{};
  target.nodes["e2"].sink->next_sequence = 40;
  Watch watch(target, "plan-0", plan, paths_of("plan-0"), cluster(), planner.replanner_for(), planner.writer(),
              options());
  watch.step(0);
  CHECK(target.requests == std::vector<std::string>{"gw: ack 40"});
  // Acknowledged: not sent again until the sink moves on.
  target.nodes["gw"].source->acked_through = 40;
  watch.step(1);
  CHECK(target.requests.size() == 1);
  target.nodes["e2"].sink->next_sequence = 55;
  watch.step(2);
  CHECK(target.requests.back() == "gw: ack 55");
}

TEST_CASE("watch: a node that does not start is lost for the retry, which re-solves without it", "[deploy]") {
  FakeTarget target;
  FakePlanner planner;
  target.dead.insert("e2");
  target.fail_start = "e2";
  Watch watch(target, "plan-0", plan_on({"e1"}), {{"gw", "plan-0"}, {"e1", "plan-0"}}, cluster(),
              planner.replanner_for(), planner.writer(), options());
  watch.step(0);
  target.dead.insert("e1");
  watch.step(1);
  const Decision failed = watch.step(2);
  CHECK_THAT(failed.outcome, Contains("rolled back") && Contains("node e2 did not start"));
  CHECK(target.switches().empty());  // nothing was switched: the start came first
  // The next window misses e2 too: a node lost, re-solved at once, without
  // e2 (gw alone), so a new plan rather than plan-1 again.
  const Decision retry = watch.step(3);
  CHECK_THAT(retry.trigger, Contains("node lost: e2"));
  CHECK(retry.observed.lost == std::vector<std::string>{"e1", "e2"});
  CHECK_THAT(retry.outcome, Contains("switched to plan-2"));
  CHECK(planner.written == 2);
  // Switched: the retry of the failed switch is off.
  for (int t = 4; t < 20; ++t) CHECK_FALSE(watch.step(t).resolved);
  CHECK(planner.written == 2);
}
