#pragma once

// What hare-deploy watch decides, apart from how it observes and how it
// switches (issue 17; docs/design.md "Keeping a deployment right"): given
// one observation window at a time — which nodes answer, what each plan link
// and each stage measured — when to re-solve and whether to switch to the
// new plan. Torch-free and clock-free (times are the observation's), so
// every rule is tested without a deployment.
//
// The rules:
//   - A node that stops answering is lost: re-solve without it at once; the
//     old plan cannot run, so any feasible new plan is taken.
//   - A lost node that answers again is back: re-solve with it, and switch
//     only for the margin (as for drift).
//   - Drift: a link's bandwidth or latency, or a stage's compute time per
//     window, beyond (1 ± drift_ratio) times the figure the running plan was
//     made with, in every observation for hold_s. Then re-solve with the
//     measured figures and switch only when the new plan's predicted
//     objective beats the running plan's, under the same measured figures,
//     by the margin (relative), or the running plan no longer meets the
//     workload (window rate or SLO) and the new one does.
//   - After a switch, no drift switch for hold_s: a figure that oscillates
//     around its threshold switches at most once per hold time.
// Every observation window yields one Decision, logged as a JSON line.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "artifacts/plan.h"
#include "common/json.h"
#include "partition/cluster.h"
#include "partition/cost_model.h"
#include "profile/profile.h"

namespace hare::deploy {

// A plan link as measured over the window: one-way latency and bandwidth.
struct LinkMeasurement {
  std::string from;
  std::string to;
  double bandwidth_mbps = 0.0;
  double latency_ms = 0.0;
};
HARE_DEFINE_RECORD(LinkMeasurement, from, to, bandwidth_mbps, latency_ms)

// A stage member's compute time per window, back to back, as measured.
struct ComputeMeasurement {
  std::string node;
  double compute_ms = 0.0;
};
HARE_DEFINE_RECORD(ComputeMeasurement, node, compute_ms)

struct Observation {
  double time_s = 0.0;             // since the watch began
  std::vector<std::string> lost;   // nodes that missed their heartbeats
  std::vector<std::string> alive;  // nodes that answered (a lost node here is back)
  std::vector<LinkMeasurement> links;
  std::vector<ComputeMeasurement> compute;
};
HARE_DEFINE_RECORD(Observation, time_s, lost, alive, links, compute)

struct WatchSettings {
  double drift_ratio = 0.5;  // a figure beyond (1 ± this) × the planned one drifts
  double hold_s = 10.0;      // ... for this long before a re-solve
  double margin = 0.2;       // the relative predicted gain a switch needs
};

// A re-solve: the running plan and the solver's best under the same figures.
struct Replan {
  // The running plan evaluated on the cluster as now measured; nothing when
  // it uses a node that is lost.
  std::optional<partition::PlanMetrics> current;
  // The solver's best plan, or why there is none.
  std::optional<partition::Plan> best;
  partition::PlanMetrics best_metrics;
  std::string placement;  // the best plan, readable
  std::string error;
};

// Re-solves the workload on `cluster` (the config as now measured, lost
// nodes removed) for the running plan's objective.
using Replanner = std::function<Replan(const partition::ClusterConfig& cluster)>;

// One observation window's outcome: one line of the watch's JSON log.
struct Decision {
  double time_s = 0.0;
  std::string trigger;  // "" when nothing called for a re-solve
  Observation observed;
  bool resolved = false;
  bool switched = false;
  std::string reason;
  std::optional<double> current_objective;  // predicted under the measured figures
  std::optional<double> new_objective;
  std::string new_placement;
  // Filled in by the watch (watch.h), which carries the decision out:
  std::string outcome;     // a switch: "switched to ..." or why it was rolled back; else ""
  std::string plan_dir;    // the plan running after this window
  long long received = 0;  // windows the sink had received by this window
};
HARE_DEFINE_RECORD(Decision, time_s, trigger, observed, resolved, switched, reason, current_objective, new_objective,
                   new_placement, outcome, plan_dir, received)

// The replanner of a running plan: builds the problem from `cluster` (as
// measured) and the profiles the plan was made from, at `window_rate`
// windows/s; evaluates `running` on it by its nodes' names (nothing when one
// is gone) and solves for `objective`.
Replanner make_replanner(std::map<std::string, profile::Profile> profiles, double window_rate,
                         artifacts::PlanDoc running, partition::Objective objective);

// The stage compute times a plan was made with, per member node: what a
// stage's drift is measured from.
std::map<std::string, double> planned_compute_ms(const artifacts::PlanDoc& plan);

class WatchPolicy {
 public:
  // `cluster`: the config the running plan was made with; its links and
  // the plan's stage compute times are the figures drift is measured from.
  WatchPolicy(partition::ClusterConfig cluster, std::map<std::string, double> planned_compute_ms,
              partition::Objective objective, WatchSettings settings, Replanner replanner);

  Decision observe(const Observation& observation);

  // After a switch the watch carried out: the new plan's compute figures
  // become the planned ones (its links are the measured config already).
  void switched_to(std::map<std::string, double> planned_compute_ms);
  // After a switch the watch could not carry out (rolled back), when it is
  // to be tried again: the lost nodes are forgotten, so that the next
  // window that still misses them re-solves again, instead of running on a
  // plan that cannot run.
  void switch_failed() { lost_.clear(); }

  // The cluster as last measured, lost nodes removed: what a re-solve uses.
  partition::ClusterConfig measured_cluster() const;
  const std::set<std::string>& lost() const { return lost_; }

 private:
  struct Tracker {
    std::optional<double> since_s;  // beyond the threshold in every window since
  };
  // Whether figure `key` has been beyond its threshold for hold_s (and then
  // names it in `trigger`, if nothing did yet).
  bool drifting(const std::string& key, double planned, double measured, double floor, double now,
                std::string& trigger);

  partition::ClusterConfig planned_;   // the running plan's figures
  partition::ClusterConfig measured_;  // the latest measured figures
  std::map<std::string, double> planned_compute_ms_;
  partition::Objective objective_;
  WatchSettings settings_;
  Replanner replanner_;
  std::set<std::string> lost_;
  std::map<std::string, Tracker> trackers_;
  std::optional<double> last_switch_s_;
};

}  // namespace hare::deploy
