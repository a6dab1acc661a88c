// hare-node: the per-node executor.
//
//   hare-node run --plan DIR --node NAME [--data FILE...] [--speed X]   the node's supervisor
//   hare-node status --run-dir DIR --node NAME                          ask a running node (JSON)
//
// The supervisor is torch-free (a small process); each stage worker is a
// separate hare-worker process, the only one that loads libtorch.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "common/diag.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "common/json.h"
#include "profile/probe.h"
#include "runtime/control.h"
#include "runtime/node_spec.h"
#include "runtime/supervisor.h"
#include "tool_common.h"

using namespace hare;

int main(int argc, char** argv) {
  return diag::run_main("hare-node", [&] {
    CLI::App app{"hare's per-node executor: runs a node of a plan (source, stage workers, sink)."};
    app.require_subcommand(1);

    std::string plan_dir, node, run_dir;
    runtime::SupervisorOptions options;
    CLI::App* run = app.add_subcommand("run", "Run this node of a plan until stopped");
    run->add_option("--plan", plan_dir, "Plan directory (hare-partition --out)")->required();
    run->add_option("--node", node, "Which node of the plan this is")->required();
    run->add_option("--run-dir", run_dir, "Directory for control sockets, predictions and summaries (default: /tmp/hare-<node>)");
    run->add_option("--cpu-offset", options.cpu_offset, "First core for this node's workers")->capture_default_str();
    run->add_option("--data", options.source.files, "Source role: recordings to stream");
    run->add_option("--spec", options.source.spec, "Source role: dataset spec of the recordings");
    run->add_option("--speed", options.source.speed, "Source role: x real time; 0 = as fast as possible")->capture_default_str();
    run->add_option("--streams", options.source.streams, "Source role: sensor streams (default: one per file)");
    run->add_option("--limit", options.source.limit, "Source role: windows per stream (default: all)");
    run->add_flag("--wait-start", options.wait_for_start, "Source role: wait for a 'start' request before streaming");
    bool local = false;
    run->add_flag("--local", local, "Run on 127.0.0.1 whatever addresses the plan names (local deployment)");
    run->add_flag("--emulate-links", options.emulate_links,
                  "Delay arriving frames by the plan's link latency and bandwidth (for local runs)");

    std::string status_node, status_dir;
    CLI::App* status = app.add_subcommand("status", "Print a running node's status (JSON)");
    status->add_option("--run-dir", status_dir, "The node's run directory")->required();
    status->add_option("--node", status_node, "The node")->required();

    std::string signal_node, signal_dir, signal_request;
    CLI::App* signal = app.add_subcommand("signal", "Ask a running node to start its source or to stop");
    signal->add_option("--run-dir", signal_dir, "The node's run directory")->required();
    signal->add_option("--node", signal_node, "The node")->required();
    signal->add_option("request", signal_request, "start | stop")->required()->check(CLI::IsMember({"start", "stop"}));

    std::string probe_address;
    int probe_port = 5600;
    double probe_seconds = 60;
    CLI::App* probe = app.add_subcommand("probe", "Measure a network path: 'serve' on one node, 'send' from another");
    CLI::App* serve = probe->add_subcommand("serve", "Answer probes on ADDRESS:PORT (and PORT+1) for a while");
    serve->add_option("--address", probe_address, "Address to bind")->required();
    serve->add_option("--port", probe_port, "Port (PORT+1 is used too)")->capture_default_str();
    serve->add_option("--seconds", probe_seconds, "Stop after this long")->capture_default_str();
    CLI::App* send = probe->add_subcommand("send", "Probe a server: prints rtt_ms and bandwidth_mbps");
    send->add_option("--address", probe_address, "The server's address")->required();
    send->add_option("--port", probe_port, "The server's port")->capture_default_str();
    probe->require_subcommand(1);

    if (auto code = tools::parse(app, argc, argv)) return *code;
    if (*serve) return profile::run_probe_server(probe_address, probe_port, probe_seconds);
    if (*send) {
      const profile::ProbeResult r = profile::run_probe_client(probe_address, probe_port);
      std::cout << fmt::format("rtt_ms {:.4f}\nbandwidth_mbps {:.3f}\n", r.rtt_ms, r.bandwidth_mbps);
      return 0;
    }
    if (*signal) {
      const std::string endpoint = runtime::control_endpoint(signal_dir, signal_node);
      const auto reply = runtime::request_control(endpoint, signal_request, 2000);
      if (!reply) throw failure("node {} does not answer at {}", signal_node, endpoint);
      if (!reply->ok) throw failure("node {}: {}", signal_node, reply->error);
      return 0;
    }

    if (*status) {
      const std::string endpoint = runtime::control_endpoint(status_dir, status_node);
      const auto reply = runtime::request_status(endpoint, 2000);
      if (!reply) throw failure("node {} does not answer at {}", status_node, endpoint);
      std::cout << record_line(*reply) << "\n";
      return 0;
    }
    const runtime::NodeSpec spec = runtime::load_node_spec(plan_dir, node, local);
    options.run_dir = run_dir.empty() ? (std::filesystem::temp_directory_path() / ("hare-" + node)).string() : run_dir;
    options.run_dir = std::filesystem::absolute(options.run_dir).string();
    options.worker_command = {(std::filesystem::read_symlink("/proc/self/exe").parent_path() / "hare-worker").string()};
    if (spec.source && options.source.files.empty()) {
      throw input_error(Location{}, "node {} is the plan's source: give it recordings with --data FILE...", node);
    }
    return runtime::run_supervisor(spec, options);
  });
}
