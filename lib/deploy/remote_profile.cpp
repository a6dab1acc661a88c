#include "deploy/remote_profile.h"

#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace hare::deploy {
namespace fs = std::filesystem;

namespace {

SshTarget target_for(const RemoteToolOptions& options, const partition::NodeConfig& node) {
  return ssh_target(node.name, node.address, node.ssh.user, node.ssh.port, node.ssh.identity_file, options.known_hosts,
                    options.ssh_config, options.policy);
}

std::string tool(const RemoteToolOptions& options, const std::string& name) {
  return "'" + (fs::path(options.remote_bin) / name).string() + "'";
}


}  // namespace

std::string profile_on_host(const RemoteToolOptions& options, const std::string& node_name, const std::string& model_path,
                            const std::string& card_path, const std::string& args) {
  const partition::ClusterConfig cluster = partition::read_cluster(options.cluster_path);
  const partition::NodeConfig* node = cluster.find_node(node_name);
  if (node == nullptr) {
    std::vector<std::string> names;
    for (const auto& n : cluster.nodes) names.push_back(n.name);
    throw input_error(Location{options.cluster_path}, "no node '{}'{}", node_name, did_you_mean(node_name, names));
  }
  SshSession session(target_for(options, *node));
  const std::string dir = options.remote_dir + "/" + node_name;
  session.run_checked("preparing", "mkdir -p \"$HOME\"/'" + dir + "'", 300);
  const std::string model = fs::path(model_path).filename().string();
  session.upload(model_path, dir + "/" + model);
  if (fs::exists(card_path)) session.upload(card_path, dir + "/" + fs::path(card_path).filename().string());
  const std::string out = "\"$HOME\"/'" + dir + "'/profile.yaml";
  // The profile is filed under the node's device type ("local" = that machine's own id).
  const std::string device = node->device == "local" ? std::string() : " --device-id '" + node->device + "'";
  session.run_checked("profiling", "cd \"$HOME\"/'" + dir + "' && " + tool(options, "hare-profile") + " --model '" + model + "'" +
                                 device + " --out " + out + " -q " + args, 300);
  const std::string profile = session.run_checked("reading the profile", "cat " + out, 300).out;
  session.run("rm -rf \"$HOME\"/'" + dir + "'");
  return profile;
}

std::vector<LinkMeasurement> measure_links(const RemoteToolOptions& options, int port) {
  const partition::ClusterConfig cluster = partition::read_cluster(options.cluster_path);
  // A probe server on every node, for as long as the measurements take.
  std::vector<std::unique_ptr<SshSession>> sessions;
  for (const auto& node : cluster.nodes) {
    sessions.push_back(std::make_unique<SshSession>(target_for(options, node)));
    sessions.back()->run_checked("starting the probe server",
         "(setsid nohup " + tool(options, "hare-node") + " probe serve --address " + node.address + " --port " +
             std::to_string(port) + " --seconds 600 > /dev/null 2>&1 < /dev/null & echo $! > /tmp/hare-probe-" + node.name + ".pid)",
         30);
  }
  std::vector<LinkMeasurement> out;
  auto stop_servers = [&] {
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      sessions[i]->run("kill $(cat /tmp/hare-probe-" + cluster.nodes[i].name + ".pid) 2>/dev/null; rm -f /tmp/hare-probe-" +
                       cluster.nodes[i].name + ".pid");
    }
  };
  try {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // One pair at a time, so that measurements do not share the network.
    for (size_t a = 0; a < cluster.nodes.size(); ++a) {
      for (size_t b = 0; b < cluster.nodes.size(); ++b) {
        if (a == b) continue;
        const CommandResult r = sessions[a]->run_checked("probing " + cluster.nodes[b].name,
                                     tool(options, "hare-node") + " probe send --address " + cluster.nodes[b].address +
                                         " --port " + std::to_string(port),
                                     120);
        LinkMeasurement m;
        m.from = cluster.nodes[a].name;
        m.to = cluster.nodes[b].name;
        std::istringstream in(r.out);
        std::string key;
        double value = 0;
        while (in >> key >> value) {
          if (key == "rtt_ms") m.rtt_ms = value;
          if (key == "bandwidth_mbps") m.bandwidth_mbps = value;
        }
        out.push_back(m);
      }
    }
  } catch (...) {
    stop_servers();
    throw;
  }
  stop_servers();
  return out;
}

partition::ClusterConfig with_measured_links(partition::ClusterConfig cluster, const std::vector<LinkMeasurement>& links) {
  for (const auto& measured : links) {
    // The pair's other settings (its codec) stay as configured, for a pair
    // listed before and for one that fell back on the default link.
    partition::LinkConfig link = cluster.link(measured.from, measured.to);
    // The probe's figures are not more precise than this.
    link.bandwidth_mbps = std::round(measured.bandwidth_mbps * 10.0) / 10.0;
    link.latency_ms = std::round(measured.latency_ms() * 1000.0) / 1000.0;
    cluster.links[{measured.from, measured.to}] = link;
  }
  return cluster;
}

}  // namespace hare::deploy
