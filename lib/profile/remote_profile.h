#pragma once

// Measurements taken on the nodes themselves, over SSH:
//  - profile_on_host: run hare-profile on a node and bring its profile back;
//  - measure_links: bandwidth and round-trip time for every ordered node
//    pair (hare-node probe), and with_measured_links to put them into a
//    cluster config's link table.

#include <string>
#include <vector>

#include "deploy/ssh.h"
#include "partition/cluster.h"

namespace hare::profile {

struct RemoteToolOptions {
  std::string cluster_path;
  std::string known_hosts;
  std::string ssh_config;
  deploy::HostKeyPolicy policy = deploy::HostKeyPolicy::strict;
  std::string remote_bin;                    // where hare's tools are on the nodes
  std::string remote_dir = "hare-measure";   // scratch directory under the login directory
};

// Uploads the model and its card, runs hare-profile there with `args` (one
// word each, quoted for the remote shell), and
// returns the profile's YAML (device id = the node's device in the cluster).
std::string profile_on_host(const RemoteToolOptions& options, const std::string& node, const std::string& model_path,
                            const std::string& card_path, const std::vector<std::string>& args);

struct LinkMeasurement {
  std::string from;
  std::string to;
  double rtt_ms = 0.0;
  double bandwidth_mbps = 0.0;
  double latency_ms() const { return rtt_ms / 2.0; }
};

std::vector<LinkMeasurement> measure_links(const RemoteToolOptions& options, int port = 5600);

// The cluster with each measured pair's bandwidth and latency replaced;
// everything else (the pair's codec, the default link, every other field)
// is kept. Write it back with partition::write_cluster.
partition::ClusterConfig with_measured_links(partition::ClusterConfig cluster, const std::vector<LinkMeasurement>& links);

}  // namespace hare::profile
