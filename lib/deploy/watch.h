#pragma once

// The watch loop of hare-deploy watch (issue 17; DESIGN.md "Deploy and
// keeping a deployment right"): watch_policy.h decides, this observes and
// acts. Each observation window it
//   1. asks every node it expects to run for its status (a heartbeat: a node
//      that has not answered for lost_after_s is lost);
//   2. derives what each plan link and each stage member did over THIS
//      window, from the differences of the sink's and the nodes' counters
//      between two windows (never the figures since the start, which a
//      change reaches only slowly);
//   3. asks the policy, logs its Decision as one JSON line;
//   4. relays the sink's contiguous-through sequence to the source
//      ("ack <n>"), which frees the source's replay buffer up to it;
//   5. on a switch: writes the new plan directory, puts it on the nodes,
//      starts the nodes it uses that do not run, and sends "switch <plan>"
//      to every node (downstream first). Any failure switches every node
//      back to the old plan, and the Decision's outcome says so.
// The deployment is reached through WatchTarget (local processes, SSH
// nodes, or a fake in the tests), the new plan is written through a
// PlanWriter (hare-slice, or a fake), so every rule of the loop is tested
// without torch or a network.

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "artifacts/plan.h"
#include "deploy/watch_policy.h"
#include "partition/cluster.h"
#include "profile/profile.h"
#include "runtime/records.h"

namespace hare::deploy {

// What the watch does to a running deployment.
class WatchTarget {
 public:
  virtual ~WatchTarget() = default;
  // Each node's status, asked in parallel; nothing for a node that did not
  // answer within about `timeout_s`.
  virtual std::map<std::string, std::optional<runtime::NodeStatus>> status(const std::vector<std::string>& nodes,
                                                                          double timeout_s) = 0;
  // One control request ("switch <plan>", "ack <sequence> [<missing> ...]",
  // "pause", "resume"; runtime/control.h); an error reply (ok false, the
  // cause) when the node did not answer. Called from several threads at
  // once for different nodes (a switch asks every node together).
  virtual runtime::ControlReply control(const std::string& node, const std::string& request) = 0;
  // Puts plan directory `plan_dir` on `nodes` (its plan's, and running
  // nodes it does not use, which idle on it); returns where each of them
  // finds it (what "switch" names). Throws, having undone what it did, on
  // any failure.
  virtual std::map<std::string, std::string> install(const std::string& plan_dir,
                                                     const std::vector<std::string>& nodes) = 0;
  // Undoes a successful install (best effort; a switch that failed).
  virtual void uninstall(const std::string& plan_dir) = 0;
  // Starts `node`, which does not run, on the plan `plan_path` (as install
  // returned it); returns once it answers with its workers ready. Throws,
  // naming the node, when it does not come up.
  virtual void start(const std::string& node, const std::string& plan_path) = 0;
  // Stops a node start() started (a switch that failed after it).
  virtual void stop(const std::string& node) = 0;
};

// A re-solved plan as a plan directory.
struct NewPlan {
  std::string dir;
  artifacts::PlanDoc plan;
};
// Writes the plan directory of `replan.best` on `cluster` (the config as
// measured, lost nodes removed); `number` counts the watch's plans from 1.
// Throws when it cannot (the slices' check failed, say).
using PlanWriter = std::function<NewPlan(const partition::ClusterConfig& cluster, const Replan& replan, int number)>;
// The replanner of a running plan (make_replanner, bound to everything but
// the plan): the watch makes one for each plan it switches to.
using ReplannerFor = std::function<Replanner(const artifacts::PlanDoc& running)>;

struct WatchOptions {
  double window_s = 1.0;       // one observation, one decision
  double lost_after_s = 1.5;   // a node silent this long is lost
  WatchSettings policy;
  std::string log_path;        // the decisions, one JSON line each ("" = none)
};

// The last decision of a watch log (with `resolved_only`, the last that
// re-solved: most windows decide nothing), or nothing when there is none
// (no file, or empty). A line that is not a Decision is an error naming
// file:line.
std::optional<Decision> last_decision(const std::string& log_path, bool resolved_only = false);

// What the watch saw of the run, for its end report.
struct WatchSummary {
  int windows = 0;
  int switches = 0;
  int rollbacks = 0;
  // From a lost node's last window at the sink to the first window the sink
  // received after the switch that replaced it (window granularity: one
  // observation); nothing while windows have not flowed again.
  std::optional<double> recovery_s;
  std::string plan_dir;  // the plan running at the end
  long long evicted_unacked = 0;  // the source's windows dropped from its full replay buffer
  long long replayed = 0;
};
HARE_DEFINE_RECORD(WatchSummary, windows, switches, rollbacks, recovery_s, plan_dir, evicted_unacked, replayed)

class Watch {
 public:
  // `plan` runs from `plan_dir`, where each node finds it at `plan_paths`;
  // `cluster`: the config it was made from.
  Watch(WatchTarget& target, std::string plan_dir, artifacts::PlanDoc plan, std::map<std::string, std::string> plan_paths,
        partition::ClusterConfig cluster, ReplannerFor replanner_for, PlanWriter writer, WatchOptions options);

  // One observation window at `now_s` (seconds since the watch began): poll,
  // decide, log, act. Returns the window's decision, as logged.
  Decision step(double now_s);
  // Windows every window_s until the sink reports the stream done, or
  // `stop()` says so (an interrupt), or `timeout_s` passed.
  void run(double timeout_s, const std::function<bool()>& stop = {});

  bool stream_done() const { return stream_done_; }
  const std::string& plan_dir() const { return plan_dir_; }
  const artifacts::PlanDoc& plan() const { return plan_; }
  // Nodes the watch took as lost and has not seen since.
  const std::set<std::string>& lost() const { return policy_.lost(); }
  const WatchSummary& summary() const { return summary_; }

 private:
  // The cumulative counters a window's figures are differences of.
  struct Counters {
    long long windows = 0;
    double total = 0.0;  // sum of the figure over those windows
  };
  Observation observe(double now_s, const std::map<std::string, std::optional<runtime::NodeStatus>>& answers);
  void relay_ack(const std::map<std::string, std::optional<runtime::NodeStatus>>& answers);
  // Carries out a switch decision; returns the outcome for the log.
  std::string switch_plan(const Replan& replan, const std::set<std::string>& alive);
  // The nodes the watch expects to answer.
  std::vector<std::string> watched_nodes() const;
  // The difference of a cumulative mean between two windows: the mean of
  // the windows in between; nothing when there were none.
  std::optional<double> window_mean(const std::string& key, long long windows, double mean);

  WatchTarget& target_;
  std::string plan_dir_;
  artifacts::PlanDoc plan_;
  std::map<std::string, std::string> plan_paths_;
  ReplannerFor replanner_for_;
  PlanWriter writer_;
  WatchOptions options_;
  WatchPolicy policy_;
  std::optional<Replan> last_replan_;  // what the policy's last re-solve gave
  std::map<std::string, double> last_seen_s_;  // node -> when it last answered
  std::set<std::string> started_;              // nodes the watch started
  std::set<std::string> unstartable_;          // nodes a switch could not start: lost until they answer
  std::map<std::string, Counters> counters_;
  std::vector<uint64_t> acked_missing_;  // the missing windows of the last ack the source took
  int plans_written_ = 0;
  // The plan of the last switch that failed, by its placement: a retry uses it.
  std::optional<std::pair<std::string, NewPlan>> failed_plan_;
  std::optional<double> retry_at_s_;  // when a failed switch is tried again
  bool stream_done_ = false;
  long long received_ = 0;
  std::optional<double> last_progress_s_;   // when the sink's count last grew
  std::optional<double> outage_since_s_;    // a lost node's switch: the last progress before it
  WatchSummary summary_;
};

// What re-planning a running plan needs, read and checked once, when the
// watch begins (a missing profile is an error then, not at the first loss).
struct ReplanInputs {
  std::string cluster_path;
  partition::ClusterConfig cluster;  // `device: local` resolved
  std::string model_path;            // sliced for every new plan
  std::string card_path;             // the plan directory's model.yaml
  std::map<std::string, profile::Profile> profiles;
  double window_rate = 0.0;          // the plan's (the workload times --speed)
  partition::Objective objective = partition::Objective::latency;
  bool expand = false;               // as the profiles were made
  std::vector<std::string> check_data;  // recordings for the slices' check ("" = the card's)
  std::map<std::string, int> ports;  // every cluster node's port, kept across plans
};
// `model_path` "": models/<the plan's model name>.pt. Errors name the file
// and what to do (exit 2): a model that is not the plan's, a missing profile.
ReplanInputs load_replan_inputs(const std::string& plan_dir, const artifacts::PlanDoc& plan,
                                const std::string& cluster_path, const std::string& model_path,
                                const std::string& profiles_dir, std::vector<std::string> check_data);
ReplannerFor make_replanner_for(const ReplanInputs& inputs);
// Writes each new plan to <plans_root>/plan-<number> as hare-partition
// --out does (hare-slice cuts and checks the slices).
PlanWriter make_plan_writer(const ReplanInputs& inputs, std::string plans_root);

// The watch's end report, one line per figure, for stderr.
std::string format_watch_summary(const WatchSummary& summary);

}  // namespace hare::deploy
