#pragma once

// hare-deploy over SSH: push a plan to its nodes, start them, ask their
// status, stop them, undeploy — every node in parallel.
//
// On a node, under <remote_dir> (default ~/hare):
//   plans/<plan-hash>/   a plan, as pushed (only that node's files)
//   current -> plans/<plan-hash>, previous -> the one before (one rollback)
//   run/                 control socket, pid, log, predictions
// A push uploads into a staging directory, verifies every file's SHA-256 on
// the node, and switches `current` atomically; any failure at any node
// reverts every node touched by this push. hare itself (hare-node,
// hare-worker) must be installed on the nodes at <remote_bin>.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "deploy/local.h"
#include "deploy/ssh.h"
#include "runtime/records.h"

namespace hare::deploy {

struct RemoteOptions {
  std::string plan_dir;
  std::string cluster_path;
  std::string remote_dir = "hare";  // relative to the login directory
  std::string remote_bin;           // where hare-node lives on the nodes
  std::string known_hosts;          // "" = ~/.ssh/known_hosts
  std::string ssh_config;           // "" = ~/.ssh/config
  HostKeyPolicy policy = HostKeyPolicy::strict;
  // start: what the source streams (uploaded to the source node).
  std::vector<std::string> data;
  // start: their dataset spec, a builtin name or a YAML file ("" = chosen by
  // the files' names, data/dataset_spec.h); a file is checked here and
  // uploaded with the recordings.
  std::string spec;
  double speed = 1.0;
  int streams = 0;
  long long limit = 0;
  double timeout_s = 60.0;
  // start: the source's replay buffer, windows (hare-node --replay-windows);
  // -1: hare-node's default.
  long long replay_windows = -1;
  // start: how long the sink waits for a missing window (hare-node
  // --gap-wait-s); 0: hare-node's default. run --watch sets kWatchedGapWaitS.
  double gap_wait_s = 0;
  // start: each node's lease (hare-node run --lease-s): a node that hears
  // nothing from the deployer for this long stops itself. 0 = none, for
  // `hare-deploy start`, whose nodes run on after it returns; run_remote
  // uses kRunLeaseS unless told otherwise, and renews it by its status polls.
  double lease_s = 0;
  // start: pin each node's workers to that node's first cores (hare-node
  // run --cpu-offset 0), as on boards of their own. False: the nodes share
  // one machine's cores (the namespace test bed), where pins from 0 would
  // stack every node's workers on the same cores; they run unpinned.
  bool pin_cores = true;
  // push: cluster nodes outside the plan that get it too (its plan, card
  // and manifest, no slice): running nodes a new plan does not use idle on
  // it (hare-deploy watch).
  std::vector<std::string> also_nodes;
};

// The lease of a run_remote deployment, seconds: how long its nodes outlive a
// deployer that was killed or cut off.
constexpr double kRunLeaseS = 30.0;
// A watched run's sink waits this long for a missing window: a node lost
// mid-stream leaves a gap that the replay after the switch fills, seconds
// later (detection, plan, switch); given up sooner, it would be acknowledged
// and freed from the source's buffer, and lost.
constexpr double kWatchedGapWaitS = 20.0;

struct PushResult {
  std::map<std::string, std::string> per_node;  // node -> "uploaded N files (B bytes)" / "unchanged"
  bool changed = false;
};

PushResult push(const RemoteOptions& options);
void start(const RemoteOptions& options);
// A node of a deployment as `hare-deploy status` sees it over SSH.
struct NodeDeployStatus {
  std::string state;  // running, not running, dead, not answering, unreachable
  std::string plan;   // running: what `current` points to (plans/<plan-hash>)
  std::optional<int> pid;
  std::string log;    // dead: the last lines of its log
  std::string error;  // unreachable: why
  std::optional<runtime::NodeStatus> node;  // running: the node's own answer
};
// One JSON object: the node's own status fields (when it answered) beside
// state, plan, pid, log and error.
void to_json(Json& j, const NodeDeployStatus& s);
void from_json(const Json& j, NodeDeployStatus& s);

// A line of `hare-deploy status`: {"node": NAME, "status": {...}}.
struct DeployStatusLine {
  std::string node;
  NodeDeployStatus status;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DeployStatusLine, node, status)

// Every node's status, by node name.
// `footprint`: each node also measures its processes' footprint alone
// (NodeMemory::alone_bytes).
std::map<std::string, NodeDeployStatus> status(const RemoteOptions& options, bool footprint = false);
void stop(const RemoteOptions& options);
void undeploy(const RemoteOptions& options);
// A whole run over SSH, as deploy_local runs one here: push, start, poll
// until the sink has accounted for every window (or `run_timeout_s`), collect
// every node's status, stop. It fails at once, naming the node and the cause
// (its log's last line), when a node dies, its source fails, or a node stays
// unreachable for the lease; whatever ends it (success, failure, SIGINT or
// SIGTERM) stops every node first. Nodes run with a lease (lease_s, else
// kRunLeaseS), so a deployer killed with SIGKILL leaves nothing running for
// longer than that. hare-deploy run and bench/edge_vs_cloud share it.
// `watch`: the run is watched (hare-deploy run --watch): a node that dies
// or is cut off is lost, not the end of the run, and the watch re-plans.
LocalDeployResult run_remote(const RemoteOptions& options, double run_timeout_s = 900.0,
                             const LocalWatchOptions* watch = nullptr);

// hare-deploy watch: keeps a deployment `start` started right until its
// stream ends, or SIGINT (an interrupted Error). Its log and new plans go
// to <plan>/../run (watch.jsonl, plans/plan-<k>) unless the log is given.
WatchSummary watch_remote(const RemoteOptions& options, const LocalWatchOptions& watch);

// The watch's hands on SSH nodes: status and control by hare-node over SSH
// (one session per node, kept), plans put on nodes by push (into
// plans/<hash>, atomic, undone on failure), nodes started with the keys
// `start` left on every node of the cluster.
std::unique_ptr<WatchTarget> remote_watch_target(const RemoteOptions& options);
// Switches every node back to the plan it had before the last push (the
// `previous` link), and the last push's plan becomes `previous`. Restart the
// nodes (stop, start) to run it.
void rollback(const RemoteOptions& options);

}  // namespace hare::deploy
