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
#include <string>
#include <vector>

#include "deploy/ssh.h"

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
  double speed = 1.0;
  int streams = 0;
  long long limit = 0;
  double timeout_s = 60.0;
};

struct PushResult {
  std::map<std::string, std::string> per_node;  // node -> "uploaded N files (B bytes)" / "unchanged"
  bool changed = false;
};

PushResult push(const RemoteOptions& options);
void start(const RemoteOptions& options);
// node -> status JSON (or {"state": "..."} when it is not running).
std::map<std::string, std::string> status(const RemoteOptions& options);
void stop(const RemoteOptions& options);
void undeploy(const RemoteOptions& options);
// Switches every node back to the plan it had before the last push (the
// `previous` link), and the last push's plan becomes `previous`. Restart the
// nodes (stop, start) to run it.
void rollback(const RemoteOptions& options);

}  // namespace hare::deploy
