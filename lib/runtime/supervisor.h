#pragma once

// The per-node supervisor (hare-node run): owns the node's one public port,
// starts the stage's workers (r processes of t threads, each pinned and in
// its own cgroup), spreads windows over them, restarts a crashed worker
// (bounded, logged), hosts the source and sink roles when the plan puts them
// here, answers status/start/stop on a local control socket, and on
// SIGTERM/SIGINT or "stop" drains and stops cleanly.

#include <optional>
#include <string>
#include <vector>

#include "runtime/node_spec.h"
#include "runtime/source.h"

namespace hare::runtime {

struct SupervisorOptions {
  std::string run_dir;                      // control/work sockets, predictions, summary
  std::vector<std::string> worker_command;  // argv prefix that runs `hare-node worker`
  int cpu_offset = 0;                       // first core for this node's workers
  SourceOptions source;
  bool wait_for_start = false;              // the source waits for "start"
  int max_restarts = 5;                     // per worker
  int receive_hwm = 64;
  // Delay every frame that arrives over a plan link by that link's one-way
  // latency and serialization time at its bandwidth (payload bytes, as the
  // cost model counts them), in arrival order per link. For local runs,
  // where all "links" are loopback; real hosts have real links.
  bool emulate_links = false;
};

std::string control_endpoint(const std::string& run_dir, const std::string& node);

// Runs until stopped; returns the exit code.
int run_supervisor(const NodeSpec& spec, const SupervisorOptions& options);

// Sends one request ("status", "start", "stop") to a node's control socket;
// nothing if it does not answer within the timeout.
std::optional<std::string> control_request(const std::string& endpoint, const std::string& request, int timeout_ms);

}  // namespace hare::runtime
