// The queueing term (partition/queueing.h) against closed forms, and the
// cost model's stage groups under load against figures worked by hand.

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "partition/cluster.h"
#include "partition/cost_model.h"
#include "partition/problem.h"
#include "partition/queueing.h"
#include "partition/solver.h"

using namespace hare;
using namespace hare::partition;

TEST_CASE("Erlang C and the Allen-Cunneen wait match M/M/c's closed forms", "[partition]") {
  // M/M/1: Wq = ρ·S/(1−ρ); 10 ms at 50/s is ρ = 0.5, a 10 ms wait.
  CHECK(erlang_c(1, 0.5) == Approx(0.5));
  CHECK(allen_cunneen_wait_ms(1, 50.0, 10.0, 1.0, 1.0) == Approx(10.0));
  // M/M/2 at a = 1 (ρ = 0.5): C = (a²/2!)·2/(2−a) / (1 + a + (a²/2!)·2/(2−a)) = 1/3.
  CHECK(erlang_c(2, 0.5) == Approx(1.0 / 3.0));
  CHECK(allen_cunneen_wait_ms(2, 100.0, 10.0, 1.0, 1.0) == Approx(1.0 / 3.0 * 10.0 / (2 * 0.5)));
  // Kingman's scaling: half the variability, half the wait; none for D/D/1.
  CHECK(allen_cunneen_wait_ms(1, 50.0, 10.0, 0.5, 0.5) == Approx(5.0));
  CHECK(allen_cunneen_wait_ms(1, 50.0, 10.0, 0.0, 0.0) == 0.0);
  // No load, no wait; at or above capacity no steady state.
  CHECK(allen_cunneen_wait_ms(4, 0.0, 10.0, 1.0, 1.0) == 0.0);
  CHECK(std::isinf(allen_cunneen_wait_ms(1, 100.0, 10.0, 1.0, 1.0)));
  CHECK(std::isinf(allen_cunneen_wait_ms(2, 250.0, 10.0, 1.0, 1.0)));
  // Many servers: the recursion stays a probability where factorials overflow.
  const double many = erlang_c(500, 0.95);
  CHECK(many > 0.0);
  CHECK(many < 1.0);
  CHECK(erlang_c(500, 0.5) < 1e-12);
}

TEST_CASE("N periodic streams of random phase: gaps with ca² = (N−1)/(N+1)", "[partition]") {
  CHECK(periodic_streams_arrival_cv2(1) == 0.0);
  CHECK(periodic_streams_arrival_cv2(3) == Approx(0.5));
  // Simulated: 10 streams of period 1 with uniform phases, the gaps between
  // consecutive windows of the merged stream.
  std::mt19937 rng(16);
  std::uniform_real_distribution<double> phase(0.0, 1.0);
  double sum = 0.0;
  double sum2 = 0.0;
  long n = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::vector<double> t(10);
    for (double& x : t) x = phase(rng);
    std::sort(t.begin(), t.end());
    for (size_t i = 0; i < t.size(); ++i) {
      const double gap = i + 1 < t.size() ? t[i + 1] - t[i] : t[0] + 1.0 - t[i];
      sum += gap;
      sum2 += gap * gap;
      ++n;
    }
  }
  const double mean = sum / n;
  const double cv2 = (sum2 / n - mean * mean) / (mean * mean);
  CHECK(cv2 == Approx(periodic_streams_arrival_cv2(10)).epsilon(0.02));
}

namespace {

// One layer; a (1 ms, the source and sink) and b (2 ms), one core each, a
// 1 ms link between them. λ = 1200/s overloads a alone (1000/s).
Problem group_problem() {
  Problem p;
  p.layer_names = {"all"};
  p.out_bytes = {1000, 10};
  p.param_bytes = {0};
  p.devices = {DeviceCosts{"fast", {1}, {{1.0}}, MemoryCosts{0, 1000, 0, 1000, 0}, 0.0, {}, {}},
               DeviceCosts{"slow", {1}, {{2.0}}, MemoryCosts{0, 1000, 0, 1000, 0}, 0.0, {}, {}}};
  p.nodes = {ProblemNode{"a", 0, 1, 1 << 20}, ProblemNode{"b", 1, 1, 1 << 20}};
  p.links = {{Link{1000.0, 0.0}, Link{1000.0, 1.0}}, {Link{1000.0, 1.0}, Link{1000.0, 0.0}}};
  p.window_rate = 1200.0;
  p.arrival_cv2 = 0.5;
  return p;
}

}  // namespace

TEST_CASE("a stage group: shares by capacity, one queue per member, the worst member's latency", "[partition]") {
  const Problem p = group_problem();
  const PlanMetrics alone = evaluate(p, Plan{{Stage{0, 0, {Member{0, 1, 1}}}}});
  CHECK_FALSE(alone.feasible);
  CHECK(alone.violation == "stage 1 is overloaded: 1200.0 windows/s against a capacity of 1000.0");

  const PlanMetrics m = evaluate(p, Plan{{Stage{0, 0, {Member{0, 1, 1}, Member{1, 1, 1}}}}});
  REQUIRE(m.feasible);
  CHECK(m.throughput == Approx(1500.0));
  CHECK(m.utilization == Approx(0.8));
  REQUIRE(m.stage.size() == 1);
  REQUIRE(m.stage[0].member.size() == 2);
  const MemberMetrics& a = m.stage[0].member[0];
  const MemberMetrics& b = m.stage[0].member[1];
  CHECK(a.share == Approx(2.0 / 3.0));
  CHECK(b.share == Approx(1.0 / 3.0));
  // ρ = 0.8 for both; no measured spread: cs² = 1; ca² = share · 0.5.
  // a: 0.8 · 1/(1 − 0.8) · (1/3 + 1)/2; b: 0.8 · 2/(1 − 0.8) · (1/6 + 1)/2.
  CHECK(a.queue_ms == Approx(4.0 * (1.0 / 3.0 + 1.0) / 2.0));
  CHECK(b.queue_ms == Approx(8.0 * (1.0 / 6.0 + 1.0) / 2.0));
  CHECK(b.loaded_latency_ms == Approx(2.0 + 8.0 * (7.0 / 6.0) / 2.0));
  // Into the group from a: the worst link is a -> b, 1 ms + 8000 bits at 1 Gbit/s;
  // out to a: b -> a, 1 ms + 80 bits.
  const double in_ms = 1.0 + 8000.0 / 1e6;
  const double out_ms = 1.0 + 80.0 / 1e6;
  CHECK(m.xfer_in_ms == Approx(in_ms));
  CHECK(m.stage[0].xfer_out_ms == Approx(out_ms));
  CHECK(m.idle_latency_ms == Approx(in_ms + 2.0 + out_ms));
  // The plan's latency is its 95th percentile: per member, a window waits
  // with probability C = ρ = 0.8 (one replica), then an exponential time of
  // mean Wq / C; no measured spread adds no service term.
  CHECK(a.p95_latency_ms == Approx(1.0 + a.queue_ms / 0.8 * std::log(0.8 / 0.05)));
  CHECK(b.p95_latency_ms == Approx(2.0 + b.queue_ms / 0.8 * std::log(0.8 / 0.05)));
  CHECK(m.latency_ms == Approx(in_ms + b.p95_latency_ms + out_ms));
  // A window's mean: members by share, links by the pair's share (a -> a
  // and back cost nothing).
  CHECK(m.mean_latency_ms == Approx(a.share * a.loaded_latency_ms + b.share * (in_ms + b.loaded_latency_ms + out_ms) +
                                    m.sink_hop_ms));
  // On average 1/3 of the windows cross to b: 1000/3 bytes leave a.
  CHECK(bytes_leaving_source(p, Plan{{Stage{0, 0, {Member{0, 1, 1}, Member{1, 1, 1}}}}}) == 333);

  // A measured spread of 0 and one stream's even arrivals: no queue at all.
  Problem even = p;
  even.arrival_cv2 = 0.0;
  even.devices[0].latency_sd_ms = {{0.0}};
  even.devices[1].latency_sd_ms = {{0.0}};
  const PlanMetrics calm = evaluate(even, Plan{{Stage{0, 0, {Member{0, 1, 1}, Member{1, 1, 1}}}}});
  CHECK(calm.latency_ms == Approx(calm.idle_latency_ms));
}

TEST_CASE("a workload no single node carries is planned on a stage group", "[partition]") {
  const Problem p = group_problem();
  for (Objective objective : {Objective::latency, Objective::throughput, Objective::resources}) {
    const SolveResult result = solve(p, SolveOptions{objective, 1, 8});
    REQUIRE(result.plans.size() == 1);
    INFO(objective_name(objective));
    REQUIRE(result.plans.front().stages.size() == 1);
    CHECK(result.plans.front().stages.front().members.size() == 2);
    CHECK(result.metrics.front().feasible);
  }
  // Without the load, a alone is the fastest.
  Problem idle = p;
  idle.window_rate = 0.0;
  const SolveResult alone = solve(idle, SolveOptions{Objective::latency, 1, 8});
  CHECK(alone.plans.front().stages.front().members == std::vector<Member>{Member{0, 1, 1}});
}

TEST_CASE("infeasible under load: the queues are named when the plans carry λ unloaded", "[partition]") {
  Problem p = group_problem();
  // The group carries 1200/s, but its queues (6.7 ms at b) break a 5 ms SLO.
  p.slo_latency_ms = 5.0;
  CHECK_THROWS_WITH(solve(p, SolveOptions{}),
                    "infeasible: at the workload's 1200.0 windows/s every plan overloads a stage or queues past the 5 "
                    "ms SLO (without queueing the best plan reaches 1500.0 windows/s)");
}
