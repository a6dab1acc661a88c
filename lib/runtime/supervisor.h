#pragma once

// The per-node supervisor (hare-node run): owns the node's one public port
// and the poll loop that moves frames. It composes the node's parts, each
// in its own file with its own tests:
//   data_port.h      the public socket: CURVE, ZAP, size and connection caps
//   worker_pool.h    the stage's workers: start, confine, restart, stop
//   link_emulator.h  plan links' latency and bandwidth, for local runs
//   control.h        the control socket: typed status, start, stop, switch, ack
//   sink.h, source.h the sink and source roles when the plan puts them here
// Every frame is checked against the plan (node_spec.h unplanned_frame)
// before anything uses it. The loop hands each window for this node's stage to a free worker (in
// order; while none is free it stops reading, so the sender's queue fills:
// back-pressure), feeds the sink, and on SIGTERM/SIGINT or "stop" drains
// and stops cleanly.
//
// "switch <plan_dir>" makes the node take its roles in another plan of the
// same deployment (a re-plan after a lost node or a drifted link) without
// exiting: its stage's workers are replaced (kept when the new plan gives
// it the same workers), a node the new plan leaves out idles, the source
// connects to the new first stage and replays what the sink has not
// acknowledged, and the sink keeps its sequence state. The source and the
// sink stay on their nodes and the node keeps its port and keys. The
// reply comes once the new workers are ready; on failure the node goes
// back to its old plan.

#include <optional>
#include <string>
#include <vector>

#include "runtime/keys.h"
#include "runtime/node_spec.h"
#include "runtime/sink.h"
#include "runtime/source.h"

namespace hare::runtime {

struct SupervisorOptions {
  std::string run_dir;                      // control/work sockets, predictions, summary
  std::vector<std::string> worker_command;  // argv prefix that runs hare-worker
  int cpu_offset = 0;                       // first core for this node's workers; < 0: not pinned
  SourceOptions source;
  bool wait_for_start = false;              // the source waits for "start"
  int max_restarts = 5;                     // per worker process
  // Each replica of the stage a hare-worker process of its own, instead of
  // all of them threads of one: a replica that crashes does not take the
  // others with it, but every replica pays torch's initialisation (about
  // 60 MB of private memory on Debian's libtorch) again.
  bool process_per_replica = false;
  int receive_hwm = 64;
  // Delay every frame that arrives over a plan link as that link would
  // (link_emulator.h). For local runs, where all "links" are loopback; real
  // hosts have real links.
  bool emulate_links = false;
  // This run's keys (keys.h) and their file, which the workers read. Without
  // them (hare-node run --insecure) frames are neither authenticated nor
  // encrypted, and the node says so.
  std::optional<DeploymentKeys> keys;
  std::string keys_path;
  int max_connections = 0;  // on the public socket; 0 = default_max_connections() (data_port.h)
  // A lease: when > 0, the node stops (exit 1, saying why) once this many
  // seconds pass without a request on its control socket. The deploying
  // process renews it by asking the node's status; a deployment whose
  // deployer was killed, or lost its connection, does not run on forever.
  // 0 = no lease (a node started to run on its own).
  double lease_s = 0;
  bool local_addresses = false;  // load_node_spec's `local`, for the plans a switch names too
  GapWait gap_wait;              // the sink's (sink.h)
  // How long a switch waits for the new stage's workers to be ready.
  double switch_ready_timeout_s = 60;
};

// Runs until stopped; returns the exit code.
int run_supervisor(const NodeSpec& spec, const SupervisorOptions& options);

}  // namespace hare::runtime
