#pragma once

// hare-deploy local: every node of a plan as a process on this machine
// (the embedded default). Starts the nodes (stage hosts first), waits until
// each answers on its control socket, starts the source, waits for the sink
// to account for every window, collects every node's status, and stops
// everything. Nothing is left running: each node runs in its own process
// group, which is killed if it does not stop by itself, and any failure —
// a node that does not come up, dies, or a timeout — stops all of them
// before the error is reported.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "deploy/watch.h"
#include "runtime/records.h"

namespace hare::deploy {

// hare-deploy local --watch: what re-planning needs (watch.h ReplanInputs)
// and the loop's settings. The run directory holds the log (watch.jsonl
// unless given) and the new plans (plans/plan-<k>).
struct LocalWatchOptions {
  std::string cluster_path;
  std::string model_path;  // "" = models/<the plan's model>.pt
  std::string profiles_dir = "profiles";
  WatchOptions watch;
};

struct LocalDeployOptions {
  std::string plan_dir;
  std::vector<std::string> data;  // recordings for the source
  std::string spec;
  double speed = 1.0;             // 0 = as fast as possible
  int streams = 0;
  long long limit = 0;
  std::string run_dir;            // logs, control sockets, predictions, summary
  std::string node_binary;        // hare-node
  bool emulate_links = true;      // the plan's link figures, applied in user space
  double start_timeout_s = 60.0;
  double run_timeout_s = 900.0;
  // The source's replay buffer, windows (hare-node --replay-windows); -1:
  // hare-node's default.
  long long replay_windows = -1;
  // Watched: a node that dies is lost, not the end of the run; the watch
  // re-plans around it (and around drift) while the stream runs.
  std::optional<LocalWatchOptions> watch;
};

// The run's record, also written to <run_dir>/report.json.
struct LocalDeployResult {
  std::string run_dir;
  std::string sink_node;
  runtime::SinkSummary summary;                        // the sink's, when every window was accounted for
  std::map<std::string, runtime::NodeStatus> status;  // every node's last status
  std::string predictions_path;
  double wall_s = 0.0;
  std::string plan_dir;                 // the plan running at the end (a watch may have switched)
  std::optional<WatchSummary> watch;    // when watched
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LocalDeployResult, run_dir, sink_node, summary, status, predictions_path, wall_s,
                                   plan_dir, watch)

LocalDeployResult deploy_local(const LocalDeployOptions& options);

// The line of a node's log (its text) that says why the node ended: its
// last "error:" line, which a hint may follow; nothing if it has none.
// Local and SSH deployments both name a dead node's cause by it.
std::optional<std::string> last_error_line(const std::string& log);

}  // namespace hare::deploy
