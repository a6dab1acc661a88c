#include "profile/remote_profile.h"

#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/strings.h"
#include "deploy/shell.h"
#include "profile/probe.h"

namespace hare::profile {

using deploy::CommandResult;
using deploy::home_path;
using deploy::shell_quote;
using deploy::shell_words;
using deploy::SshSession;
using deploy::SshTarget;
namespace fs = std::filesystem;

namespace {

SshTarget target_for(const RemoteToolOptions& options, const partition::NodeConfig& node) {
  return deploy::ssh_target(node.name, node.address, node.ssh.user, node.ssh.port, node.ssh.identity_file, options.known_hosts,
                    options.ssh_config, options.policy);
}

std::string tool(const RemoteToolOptions& options, const std::string& name) {
  return shell_quote((fs::path(options.remote_bin) / name).string());
}

// Where a node's probe server keeps its pid, as shell text: under the
// remote directory, not at a /tmp name another user could plant first.
// A directory of its own for each measurement, removed afterwards (only
// it: the remote directory may be hare-deploy's, holding plans and a run).
std::string probe_dir(const RemoteToolOptions& options, const std::string& node) {
  return home_path({options.remote_dir, node, "probe"});
}
std::string probe_pid_file(const RemoteToolOptions& options, const std::string& node) {
  return home_path({options.remote_dir, node, "probe", "probe.pid"});
}

}  // namespace

std::string profile_on_host(const RemoteToolOptions& options, const std::string& node_name, const std::string& model_path,
                            const std::string& card_path, const std::vector<std::string>& args) {
  const partition::ClusterConfig cluster = partition::read_cluster(options.cluster_path);
  const partition::NodeConfig* node = cluster.find_node(node_name);
  if (node == nullptr) {
    std::vector<std::string> names;
    for (const auto& n : cluster.nodes) names.push_back(n.name);
    throw input_error(Location{options.cluster_path}, "no node '{}'{}", node_name, did_you_mean(node_name, names));
  }
  SshSession session(target_for(options, *node));
  const std::string dir = options.remote_dir + "/" + node_name + "/profile";  // removed afterwards, only it
  session.run_checked("preparing", "mkdir -p " + home_path({dir}), 300);
  const std::string model = fs::path(model_path).filename().string();
  session.upload(model_path, dir + "/" + model);
  if (fs::exists(card_path)) session.upload(card_path, dir + "/" + fs::path(card_path).filename().string());
  const std::string out = home_path({dir, "profile.yaml"});
  std::vector<std::string> words = {"--model", model, "-q"};
  // The profile is filed under the node's device type ("local" = that machine's own id).
  if (node->device != "local") words.insert(words.end(), {"--device-id", node->device});
  words.insert(words.end(), args.begin(), args.end());
  session.run_checked("profiling",
                      "cd " + home_path({dir}) + " && " + tool(options, "hare-profile") + " " + shell_words(words) + " --out " + out,
                      300);
  const std::string profile = session.run_checked("reading the profile", "cat " + out, 300).out;
  session.run("rm -rf " + home_path({dir}));
  return profile;
}

std::vector<LinkMeasurement> measure_links(const RemoteToolOptions& options, int port) {
  const partition::ClusterConfig cluster = partition::read_cluster(options.cluster_path);
  // A probe server on every node, for as long as the measurements take.
  std::vector<std::unique_ptr<SshSession>> sessions;
  for (const auto& node : cluster.nodes) {
    sessions.push_back(std::make_unique<SshSession>(target_for(options, node)));
    sessions.back()->run_checked("starting the probe server",
         "mkdir -p " + probe_dir(options, node.name) + " && (setsid nohup " + tool(options, "hare-node") + " " +
             shell_words({"probe", "serve", "--address", node.address, "--port", std::to_string(port), "--seconds", "600"}) +
             " > /dev/null 2>&1 < /dev/null & echo $! > " + probe_pid_file(options, node.name) + ")",
         30);
  }
  std::vector<LinkMeasurement> out;
  auto stop_servers = [&] {
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      const std::string pid_file = probe_pid_file(options, cluster.nodes[i].name);
      if (const std::optional<int> pid = read_remote_pid(*sessions[i], pid_file)) {
        sessions[i]->run("kill " + std::to_string(*pid) + " 2>/dev/null");
      }
      sessions[i]->run("rm -rf " + probe_dir(options, cluster.nodes[i].name));
    }
  };
  try {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // One pair at a time, so that measurements do not share the network.
    for (size_t a = 0; a < cluster.nodes.size(); ++a) {
      for (size_t b = 0; b < cluster.nodes.size(); ++b) {
        if (a == b) continue;
        const CommandResult r = sessions[a]->run_checked("probing " + cluster.nodes[b].name,
                                     tool(options, "hare-node") + " " +
                                         shell_words({"probe", "send", "--address", cluster.nodes[b].address, "--port",
                                                      std::to_string(port)}),
                                     120);
        const auto probe = parse_record<ProbeResult>(std::string(trim(r.out)),
                                                     "node " + cluster.nodes[a].name + ": hare-node probe send");
        LinkMeasurement m;
        m.from = cluster.nodes[a].name;
        m.to = cluster.nodes[b].name;
        m.rtt_ms = probe.rtt_ms;
        m.bandwidth_mbps = probe.bandwidth_mbps;
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

}  // namespace hare::profile
