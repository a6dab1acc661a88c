#include "deploy/watch_policy.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"
#include "partition/problem.h"
#include "partition/report.h"
#include "partition/solver.h"

namespace hare::deploy {

namespace {

// Beyond the threshold: off by more than `ratio` of the planned figure and
// by more than `floor` (a 0.2 ms LAN is not "doubled" by a scheduler's noise).
bool beyond(double planned, double measured, double ratio, double floor) {
  if (planned <= 0.0) return false;
  return std::abs(measured - planned) > std::max(ratio * planned, floor);
}

// How much better `candidate` is than `current` for the objective, as a
// fraction of the current value (positive = better).
double relative_gain(partition::Objective objective, double current, double candidate) {
  if (current == 0.0) return candidate == 0.0 ? 0.0 : (objective == partition::Objective::throughput ? 1.0 : -1.0);
  if (std::isinf(current)) return std::isinf(candidate) ? 0.0 : 1.0;
  const double change = (candidate - current) / std::abs(current);
  return objective == partition::Objective::throughput ? change : -change;
}

constexpr double kLatencyFloorMs = 1.0;
constexpr double kComputeFloorMs = 0.5;

bool meets_workload(const partition::PlanMetrics& m) { return m.feasible && m.meets_window_rate; }

}  // namespace

WatchPolicy::WatchPolicy(partition::ClusterConfig cluster, std::map<std::string, double> planned_compute_ms,
                         partition::Objective objective, WatchSettings settings, Replanner replanner)
    : planned_(cluster),
      measured_(std::move(cluster)),
      planned_compute_ms_(std::move(planned_compute_ms)),
      objective_(objective),
      settings_(settings),
      replanner_(std::move(replanner)) {}

partition::ClusterConfig WatchPolicy::measured_cluster() const {
  partition::ClusterConfig cluster = measured_;
  cluster.nodes.erase(std::remove_if(cluster.nodes.begin(), cluster.nodes.end(),
                                     [&](const partition::NodeConfig& n) { return lost_.count(n.name) > 0; }),
                      cluster.nodes.end());
  for (auto it = cluster.links.begin(); it != cluster.links.end();) {
    it = lost_.count(it->first.first) > 0 || lost_.count(it->first.second) > 0 ? cluster.links.erase(it) : std::next(it);
  }
  cluster.pins.erase(std::remove_if(cluster.pins.begin(), cluster.pins.end(),
                                    [&](const partition::PinConfig& p) { return lost_.count(p.node) > 0; }),
                     cluster.pins.end());
  return cluster;
}

void WatchPolicy::switched_to(std::map<std::string, double> planned_compute_ms) {
  planned_ = measured_;
  planned_compute_ms_ = std::move(planned_compute_ms);
  trackers_.clear();
}

bool WatchPolicy::drifting(const std::string& key, double planned, double measured, double floor, double now,
                           std::string& trigger) {
  Tracker& tracker = trackers_[key];
  if (!beyond(planned, measured, settings_.drift_ratio, floor)) {
    tracker.since_s.reset();
    return false;
  }
  if (!tracker.since_s) tracker.since_s = now;
  if (now - *tracker.since_s < settings_.hold_s) return false;
  if (trigger.empty()) {
    trigger = fmt::format("drift: {} {:.3g} against the plan's {:.3g} for {:.1f} s", key, measured, planned,
                          now - *tracker.since_s);
  }
  return true;
}

Decision WatchPolicy::observe(const Observation& observation) {
  Decision d;
  d.time_s = observation.time_s;
  d.observed = observation;
  const double now = observation.time_s;

  // Nodes lost and back.
  std::string lost_now;
  for (const std::string& node : observation.lost) {
    if (lost_.insert(node).second) lost_now += (lost_now.empty() ? "" : ", ") + node;
  }
  std::string back_now;
  for (const std::string& node : observation.alive) {
    if (lost_.erase(node) > 0) back_now += (back_now.empty() ? "" : ", ") + node;
  }

  // The measured figures replace the config's; drift is against the plan's.
  for (const LinkMeasurement& link : observation.links) {
    partition::LinkConfig measured = measured_.link(link.from, link.to);
    if (link.bandwidth_mbps > 0.0) measured.bandwidth_mbps = link.bandwidth_mbps;
    if (link.latency_ms >= 0.0) measured.latency_ms = link.latency_ms;
    measured_.links[{link.from, link.to}] = measured;
  }
  std::string trigger;
  bool drift = false;
  for (const LinkMeasurement& link : observation.links) {
    const partition::LinkConfig planned = planned_.link(link.from, link.to);
    drift |= drifting(fmt::format("link {}->{} bandwidth_mbps", link.from, link.to), planned.bandwidth_mbps,
                      link.bandwidth_mbps, 0.0, now, trigger);
    drift |= drifting(fmt::format("link {}->{} latency_ms", link.from, link.to), std::max(planned.latency_ms, 1e-3),
                      link.latency_ms, kLatencyFloorMs, now, trigger);
  }
  for (const ComputeMeasurement& c : observation.compute) {
    const auto planned = planned_compute_ms_.find(c.node);
    if (planned == planned_compute_ms_.end()) continue;
    drift |= drifting(fmt::format("compute on {} ms per window", c.node), planned->second, c.compute_ms,
                      kComputeFloorMs, now, trigger);
  }

  if (!lost_now.empty()) {
    d.trigger = "node lost: " + lost_now;
  } else if (!back_now.empty()) {
    d.trigger = "node back: " + back_now;
  } else if (drift) {
    if (last_switch_s_ && now - *last_switch_s_ < settings_.hold_s) {
      d.trigger = trigger;
      d.reason = fmt::format("the last switch was {:.1f} s ago, within the hold time ({} s)", now - *last_switch_s_,
                             settings_.hold_s);
      return d;
    }
    d.trigger = trigger;
  } else {
    return d;
  }

  d.resolved = true;
  const Replan replan = replanner_(measured_cluster());
  if (replan.current) d.current_objective = partition::objective_value(objective_, *replan.current);
  if (!replan.best) {
    d.reason = "no feasible plan on the cluster as measured: " + replan.error;
    return d;
  }
  d.new_objective = partition::objective_value(objective_, replan.best_metrics);
  d.new_placement = replan.placement;
  if (!replan.current) {
    d.switched = true;
    d.reason = "the running plan uses a node that is lost";
  } else if (!meets_workload(*replan.current) && meets_workload(replan.best_metrics)) {
    d.switched = true;
    d.reason = "the running plan no longer meets the workload as measured (" + replan.current->violation + ")";
  } else {
    const double gain = relative_gain(objective_, *d.current_objective, *d.new_objective);
    d.switched = gain > settings_.margin;
    d.reason = fmt::format("predicted gain {:.1f}% {} the margin {:.0f}%", 100.0 * gain,
                           d.switched ? "exceeds" : "is within", 100.0 * settings_.margin);
  }
  if (d.switched) last_switch_s_ = now;
  return d;
}

Replanner make_replanner(std::map<std::string, profile::Profile> profiles, double window_rate,
                         artifacts::PlanDoc running, partition::Objective objective) {
  return [profiles = std::move(profiles), window_rate, running = std::move(running),
          objective](const partition::ClusterConfig& cluster) {
    Replan r;
    partition::Problem problem;
    try {
      problem = partition::build_problem(cluster, profiles, window_rate);
    } catch (const Error& e) {
      r.error = e.what();
      return r;
    }
    // The running plan on this problem, by its nodes' names.
    partition::Plan current;
    bool runs = true;
    for (const artifacts::PlanStage& stage : running.stages) {
      partition::Stage s{stage.first_layer - 1, stage.last_layer - 1, {}};
      for (const artifacts::PlanMember& m : stage.members) {
        const int node = cluster.node_index(m.node);
        if (node < 0) runs = false;
        s.members.push_back(partition::Member{node, m.replicas, m.threads});
      }
      current.stages.push_back(s);
    }
    if (runs) r.current = partition::evaluate(problem, current);
    try {
      const partition::SolveResult solved = partition::solve(problem, partition::SolveOptions{objective, 1, 10});
      r.best = solved.plans.front();
      r.best_metrics = solved.metrics.front();
      r.placement = partition::placement_text(problem, *r.best);
    } catch (const Error& e) {
      r.error = e.what();
    }
    return r;
  };
}

std::map<std::string, double> planned_compute_ms(const artifacts::PlanDoc& plan) {
  std::map<std::string, double> out;
  for (const artifacts::PlanStage& stage : plan.stages) {
    for (const artifacts::PlanMember& m : stage.members) out[m.node] = m.compute_ms;
  }
  return out;
}

}  // namespace hare::deploy
