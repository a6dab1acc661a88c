// hare-deploy: run a plan.
//
//   hare-deploy local --plan DIR --data FILE...   every node as a local process; stream; report; stop
//   hare-deploy push|start|status|stop|undeploy|rollback --plan DIR --cluster FILE   over SSH, all nodes in parallel
//   hare-deploy run --plan DIR --cluster FILE --data FILE...  over SSH: push, start, stream; report; stop

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <map>

#include "common/diag.h"
#include "deploy/local.h"
#include "deploy/remote.h"
#include "deploy/report.h"
#include "tool_common.h"

using namespace hare;

int main(int argc, char** argv) {
  return diag::run_main("hare-deploy", [&] {
    CLI::App app{"Deploy a plan directory and run it."};
    app.require_subcommand(1);
    deploy::LocalDeployOptions local;
    CLI::App* local_cmd = app.add_subcommand("local", "Run every node of the plan as a local process, stream, report, stop");
    local_cmd->add_option("--plan", local.plan_dir, "Plan directory (hare-partition --out)")->required();
    local_cmd->add_option("--data", local.data, "Recordings the source streams")->required();
    local_cmd->add_option("--spec", local.spec, "Dataset spec of the recordings (default: from file names)");
    local_cmd->add_option("--speed", local.speed, "x real time; 0 = as fast as possible")->capture_default_str();
    local_cmd->add_option("--streams", local.streams, "Sensor streams (default: one per file)");
    local_cmd->add_option("--limit", local.limit, "Windows per stream (default: all)");
    local_cmd->add_option("--run-dir", local.run_dir, "Logs, predictions, summaries (default: <plan>/../run)");
    local_cmd->add_option("--timeout", local.run_timeout_s, "Give up after this many seconds")->capture_default_str();
    bool no_emulation = false;
    local_cmd->add_flag("--no-link-emulation", no_emulation, "Do not apply the plan's link figures (raw loopback)");
    deploy::RemoteOptions remote;
    bool accept_new = false;
    std::map<std::string, CLI::App*> remote_cmds;
    for (const char* name : {"push", "start", "status", "stop", "undeploy", "rollback", "run"}) {
      const std::map<std::string, std::string> help = {
          {"push", "Upload the plan to its nodes (verified, atomic, one rollback kept)"},
          {"start", "Start every node and the stream; wait until all are healthy"},
          {"status", "Each node's state, plan and metrics (JSON lines)"},
          {"stop", "Drain and stop every node"},
          {"undeploy", "Stop every node and remove hare's files from it"},
          {"rollback", "Switch every node back to the plan before the last push"},
          {"run", "Push, start, stream until the sink has every window, report, stop (as local, over SSH)"}};
      CLI::App* cmd = app.add_subcommand(name, help.at(name));
      cmd->add_option("--plan", remote.plan_dir, "Plan directory")->required();
      cmd->add_option("--cluster", remote.cluster_path, "Cluster config the plan was made from")->required();
      cmd->add_option("--known-hosts", remote.known_hosts, "known_hosts file (default: ~/.ssh/known_hosts)");
      cmd->add_option("--ssh-config", remote.ssh_config, "ssh config file (default: ~/.ssh/config)");
      cmd->add_flag("--accept-new-host-keys", accept_new, "Add unknown host keys (a changed key is still refused)");
      cmd->add_option("--remote-dir", remote.remote_dir, "Directory under the login directory on each node")->capture_default_str();
      cmd->add_option("--remote-bin", remote.remote_bin, "Where hare-node is installed on the nodes (default: this hare's bin/)");
      cmd->add_option("--timeout", remote.timeout_s, "Seconds to wait for a node to become healthy")->capture_default_str();
      if (std::string(name) == "start" || std::string(name) == "run") {
        cmd->add_option("--data", remote.data, "Recordings the source streams (uploaded to the source node)")->required();
        cmd->add_option("--speed", remote.speed, "x real time; 0 = as fast as possible")->capture_default_str();
        cmd->add_option("--streams", remote.streams, "Sensor streams");
        cmd->add_option("--limit", remote.limit, "Windows per stream");
      }
      remote_cmds[name] = cmd;
    }
    if (auto code = tools::parse(app, argc, argv)) return *code;
    local.emulate_links = !no_emulation;
    remote.policy = accept_new ? deploy::HostKeyPolicy::accept_new : deploy::HostKeyPolicy::strict;
    if (remote.remote_bin.empty()) remote.remote_bin = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
    if (*remote_cmds["push"]) {
      const auto result = deploy::push(remote);
      for (const auto& [node, what] : result.per_node) std::cout << node << ": " << what << "\n";
      if (!result.changed) std::cout << "nothing changed: every node already runs this plan\n";
      return 0;
    }
    if (*remote_cmds["start"]) {
      deploy::start(remote);
      diag::note("every node is up and the source is streaming");
      return 0;
    }
    if (*remote_cmds["status"]) {
      for (auto& [node, status] : deploy::status(remote)) {
        std::cout << record_line(deploy::DeployStatusLine{node, std::move(status)}) << "\n";
      }
      return 0;
    }
    if (*remote_cmds["stop"]) {
      deploy::stop(remote);
      return 0;
    }
    if (*remote_cmds["rollback"]) {
      deploy::rollback(remote);
      return 0;
    }
    if (*remote_cmds["run"]) {
      diag::install_interrupt_handler();
      std::cout << deploy::format_report(remote.plan_dir, deploy::run_remote(remote));
      return 0;
    }
    if (*remote_cmds["undeploy"]) {
      deploy::undeploy(remote);
      return 0;
    }
    diag::install_interrupt_handler();

    namespace fs = std::filesystem;
    if (local.run_dir.empty()) local.run_dir = (fs::absolute(local.plan_dir).parent_path() / "run").string();
    local.node_binary = (fs::read_symlink("/proc/self/exe").parent_path() / "hare-node").string();
    const deploy::LocalDeployResult result = deploy::deploy_local(local);
    std::cout << deploy::format_report(local.plan_dir, result);
    return 0;
  });
}
