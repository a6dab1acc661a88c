// The watch's decisions (deploy/watch_policy.h) on observation sequences,
// with a replanner that reports what it was asked and answers as told.

#include <catch2/catch.hpp>

#include "deploy/watch_policy.h"
#include "partition/problem.h"

using namespace hare;
using namespace hare::deploy;
using Catch::Matchers::Contains;

namespace {

partition::ClusterConfig three_nodes() {
  partition::ClusterConfig c;
  c.name = "watched";
  for (const char* name : {"gateway", "edge1", "edge2"}) {
    partition::NodeConfig n;
    n.name = name;
    n.device = "local";
    n.cores = 2;
    c.nodes.push_back(n);
  }
  c.default_link = partition::LinkConfig{100.0, 2.0, Codec::float32};
  c.source = "gateway";
  c.sink = "gateway";
  return c;
}

partition::PlanMetrics metrics(double latency_ms, bool meets = true) {
  partition::PlanMetrics m;
  m.valid = true;
  m.feasible = meets;
  m.meets_window_rate = meets;
  if (!meets) m.violation = "throughput below the window rate";
  m.latency_ms = latency_ms;
  return m;
}

// Answers every re-solve with the running plan at `current_ms` (nothing if
// the cluster lacks `needs`) and a best plan at `best_ms`; remembers the
// clusters it was given.
struct FakeReplanner {
  double current_ms = 20.0;
  double best_ms = 10.0;
  bool current_meets = true;
  std::string needs = "edge1";
  std::vector<partition::ClusterConfig> asked;

  Replanner fn() {
    return [this](const partition::ClusterConfig& cluster) {
      asked.push_back(cluster);
      Replan r;
      if (cluster.find_node(needs) != nullptr) r.current = metrics(current_ms, current_meets);
      r.best = partition::Plan{};
      r.best_metrics = metrics(best_ms);
      r.placement = "best";
      return r;
    };
  }
};

Observation at(double t) {
  Observation o;
  o.time_s = t;
  o.alive = {"gateway", "edge1", "edge2"};
  return o;
}

Observation with_link(double t, double mbps) {
  Observation o = at(t);
  o.links.push_back(LinkMeasurement{"gateway", "edge1", mbps, 2.0});
  return o;
}

WatchSettings settings() {
  WatchSettings s;
  s.drift_ratio = 0.5;
  s.hold_s = 10.0;
  s.margin = 0.2;
  return s;
}

}  // namespace

TEST_CASE("the watch leaves a deployment alone while its figures are as planned") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {{"edge1", 5.0}}, partition::Objective::latency, settings(), fake.fn());
  for (int t = 0; t < 60; ++t) {
    Observation o = with_link(t, t % 2 == 0 ? 80.0 : 120.0);  // within 50% of 100 Mbit/s
    o.compute.push_back(ComputeMeasurement{"edge1", 6.0});
    const Decision d = policy.observe(o);
    CHECK_FALSE(d.resolved);
    CHECK(d.trigger.empty());
  }
  CHECK(fake.asked.empty());
}

TEST_CASE("a lost node makes the watch re-solve without it at once and switch") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  CHECK_FALSE(policy.observe(at(0)).resolved);
  Observation o = at(1);
  o.alive = {"gateway", "edge2"};
  o.lost = {"edge1"};
  const Decision d = policy.observe(o);
  CHECK(d.resolved);
  CHECK(d.switched);
  CHECK_THAT(d.trigger, Contains("node lost: edge1"));
  CHECK_THAT(d.reason, Contains("lost"));
  REQUIRE(fake.asked.size() == 1);
  CHECK(fake.asked[0].find_node("edge1") == nullptr);
  CHECK(fake.asked[0].find_node("edge2") != nullptr);
  // Still lost: nothing new to decide.
  CHECK_FALSE(policy.observe(o).resolved);
}

TEST_CASE("a lost node the running plan does not use changes nothing unless the new plan gains the margin") {
  FakeReplanner fake;
  fake.needs = "edge2";
  fake.best_ms = 19.0;  // 5% better: within the margin
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  Observation o = at(1);
  o.lost = {"edge1"};
  const Decision d = policy.observe(o);
  CHECK(d.resolved);
  CHECK_FALSE(d.switched);
  CHECK_THAT(d.reason, Contains("within the margin"));
}

TEST_CASE("a node that comes back is used again at the next re-solve, for the margin") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  Observation lost = at(1);
  lost.alive = {"gateway", "edge2"};
  lost.lost = {"edge1"};
  REQUIRE(policy.observe(lost).switched);
  // The new plan runs without edge1; with edge1 back the best plan is 40% better.
  fake.needs = "edge2";
  const Decision back = policy.observe(at(5));
  CHECK(back.resolved);
  CHECK_THAT(back.trigger, Contains("node back: edge1"));
  REQUIRE(fake.asked.size() == 2);
  CHECK(fake.asked[1].find_node("edge1") != nullptr);
  CHECK(back.switched);
}

TEST_CASE("a link that drifts re-solves only after the hold time, with the measured figures") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  int resolved_at = -1;
  for (int t = 0; t <= 20 && resolved_at < 0; ++t) {
    const Decision d = policy.observe(with_link(t, t < 3 ? 100.0 : 5.0));
    if (d.resolved) resolved_at = t;
  }
  CHECK(resolved_at == 13);  // beyond from t = 3, for 10 s
  REQUIRE(fake.asked.size() == 1);
  CHECK(fake.asked[0].link("gateway", "edge1").bandwidth_mbps == 5.0);
  CHECK(fake.asked[0].link("gateway", "edge2").bandwidth_mbps == 100.0);
}

TEST_CASE("a switch needs the margin unless the running plan no longer meets the workload") {
  FakeReplanner fake;
  fake.best_ms = 18.0;  // 10% better than 20 ms: within a 20% margin
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  Decision d;
  for (int t = 0; t <= 10; ++t) d = policy.observe(with_link(t, 5.0));
  REQUIRE(d.resolved);
  CHECK_FALSE(d.switched);
  CHECK(d.current_objective == 20.0);
  CHECK(d.new_objective == 18.0);

  fake.current_meets = false;  // the measured link no longer carries the window rate
  d = policy.observe(with_link(11, 5.0));
  REQUIRE(d.resolved);
  CHECK(d.switched);
  CHECK_THAT(d.reason, Contains("no longer meets the workload"));
}

TEST_CASE("after a switch, drift is measured against the new plan: restoring the link switches back once") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  int switches = 0;
  for (int t = 0; t < 120; ++t) {
    const Decision d = policy.observe(with_link(t, t < 40 ? 5.0 : 100.0));
    if (d.switched) {
      ++switches;
      policy.switched_to({});
    }
  }
  CHECK(switches == 2);  // to the plan for 5 Mbit/s, and back for 100
}

TEST_CASE("a link that oscillates around its threshold switches at most once per hold time") {
  FakeReplanner fake;  // every re-solve offers a 50% gain
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  std::vector<double> switch_times;
  for (int t = 0; t < 300; ++t) {
    // Five seconds beyond, five within: never held for 10 s.
    const Decision d = policy.observe(with_link(t, (t / 5) % 2 == 0 ? 40.0 : 60.0));
    if (d.switched) switch_times.push_back(t);
  }
  CHECK(switch_times.empty());
  // Beyond for good, then oscillating around the new plan's figure: the
  // switches keep the hold time apart.
  for (int t = 300; t < 600; ++t) {
    const Decision d = policy.observe(with_link(t, (t / 11) % 2 == 0 ? 5.0 : 100.0));
    if (d.switched) {
      switch_times.push_back(t);
      policy.switched_to({});
    }
  }
  for (size_t i = 1; i < switch_times.size(); ++i) CHECK(switch_times[i] - switch_times[i - 1] >= 10.0);
  CHECK(switch_times.size() <= 300 / 10);
}

TEST_CASE("a stage whose compute drifts past the threshold for the hold time re-solves") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {{"edge1", 5.0}}, partition::Objective::latency, settings(), fake.fn());
  Decision d;
  for (int t = 0; t <= 10; ++t) {
    Observation o = at(t);
    o.compute.push_back(ComputeMeasurement{"edge1", 12.0});
    d = policy.observe(o);
  }
  CHECK(d.resolved);
  CHECK_THAT(d.trigger, Contains("compute on edge1"));
}

TEST_CASE("every decision is one JSON record with what was measured and decided") {
  FakeReplanner fake;
  WatchPolicy policy(three_nodes(), {}, partition::Objective::latency, settings(), fake.fn());
  Observation o = at(3);
  o.lost = {"edge1"};
  const std::string line = record_line(policy.observe(o));
  const Decision back = parse_record<Decision>(line, "test");
  CHECK(back.switched);
  CHECK(back.observed.lost == std::vector<std::string>{"edge1"});
  CHECK(back.new_objective == 10.0);
  CHECK(line.find('\n') == std::string::npos);
}

namespace {

// Three layers, 2 ms each on one thread, on every node of the cluster text.
profile::Profile three_layers() {
  profile::Profile p;
  p.threads = {1};
  p.in_bytes = 3072;
  for (int i = 0; i < 3; ++i) {
    profile::LayerProfile layer;
    layer.index = i + 1;
    layer.name = "l" + std::to_string(i + 1);
    layer.out_bytes = 512;
    layer.latency[1].median_ms = 2.0;
    p.layers.push_back(layer);
  }
  return p;
}

partition::ClusterConfig lan_cluster() {
  return partition::parse_cluster("format: hare-cluster/1\n"
                                  "nodes:\n"
                                  "  - {name: gw, device: d, cores: 1, mem_bytes: 1GiB}\n"
                                  "  - {name: edge1, device: d, cores: 2, mem_bytes: 1GiB}\n"
                                  "  - {name: edge2, device: d, cores: 2, mem_bytes: 1GiB}\n"
                                  "links:\n"
                                  "  default: {bandwidth_mbps: 100, latency_ms: 1}\n"
                                  "source: gw\n",
                                  "lan.yaml");
}

// The whole model on edge1.
artifacts::PlanDoc on_edge1() {
  artifacts::PlanDoc doc;
  doc.objective = "latency";
  artifacts::PlanStage stage;
  stage.index = 1;
  stage.first_layer = 1;
  stage.last_layer = 3;
  stage.layers = {"l1", "l2", "l3"};
  artifacts::PlanMember member;
  member.node = "edge1";
  member.compute_ms = 6.0;
  stage.members.push_back(member);
  doc.stages.push_back(stage);
  return doc;
}

}  // namespace

TEST_CASE("the real replanner evaluates the running plan by its nodes' names and solves without a lost node") {
  const Replanner replanner = make_replanner({{"d", three_layers()}}, 10.0, on_edge1(), partition::Objective::latency);
  const Replan all = replanner(lan_cluster());
  REQUIRE(all.current);
  CHECK(all.current->valid);
  CHECK(all.current->idle_latency_ms > 6.0);
  REQUIRE(all.best);

  WatchPolicy policy(lan_cluster(), planned_compute_ms(on_edge1()), partition::Objective::latency, settings(), replanner);
  CHECK(policy.observe(Observation{0.0, {}, {"gw", "edge1", "edge2"}, {}, {}}).trigger.empty());
  const Decision d = policy.observe(Observation{1.0, {"edge1"}, {"gw", "edge2"}, {}, {}});
  CHECK(d.resolved);
  CHECK(d.switched);
  CHECK_FALSE(d.current_objective);
  REQUIRE(d.new_objective);
  CHECK_THAT(d.new_placement, !Contains("edge1"));
  CHECK_THAT(d.new_placement, Contains("l1..l3"));
}

// Seen on a loaded machine: every node's poll late, all lost, then the
// edges back before the gateway. A measured cluster without its source
// used to reach the solver with source index -1 and crash hare-deploy.
TEST_CASE("the real replanner names a lost source or sink instead of solving without it") {
  const Replanner replanner = make_replanner({{"d", three_layers()}}, 10.0, on_edge1(), partition::Objective::latency);
  WatchPolicy policy(lan_cluster(), planned_compute_ms(on_edge1()), partition::Objective::latency, settings(), replanner);
  CHECK(policy.observe(Observation{0.0, {}, {"gw", "edge1", "edge2"}, {}, {}}).trigger.empty());
  const Decision all_lost = policy.observe(Observation{1.0, {"gw", "edge1", "edge2"}, {}, {}, {}});
  CHECK(all_lost.resolved);
  CHECK_FALSE(all_lost.switched);
  CHECK_THAT(all_lost.reason, Contains("no feasible plan"));
  const Decision edges_back = policy.observe(Observation{2.0, {}, {"edge1", "edge2"}, {}, {}});
  CHECK(edges_back.trigger == "node back: edge1, edge2");
  CHECK_FALSE(edges_back.switched);
  CHECK_THAT(edges_back.reason, Contains("the source node 'gw' is not among the cluster's nodes"));
  const Decision gateway_back = policy.observe(Observation{3.0, {}, {"gw", "edge1", "edge2"}, {}, {}});
  CHECK(gateway_back.trigger == "node back: gw");
  CHECK(gateway_back.current_objective);  // solved again, the running plan evaluated
  CHECK(gateway_back.new_objective);
}

TEST_CASE("build_problem refuses a cluster whose source or sink is not one of its nodes") {
  partition::ClusterConfig cluster = lan_cluster();
  cluster.nodes.erase(cluster.nodes.begin());  // gw: the source and, by default, the sink
  CHECK_THROWS_WITH(partition::build_problem(cluster, {{"d", three_layers()}}, 10.0),
                    Contains("lan.yaml") && Contains("the source node 'gw' is not among the cluster's nodes"));
  cluster = lan_cluster();
  cluster.sink = "edge3";
  CHECK_THROWS_WITH(partition::build_problem(cluster, {{"d", three_layers()}}, 10.0),
                    Contains("the sink node 'edge3' is not among the cluster's nodes"));
}
