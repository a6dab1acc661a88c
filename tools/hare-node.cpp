// hare-node: the per-node executor.
//
//   hare-node run --plan DIR --node NAME --keys FILE [--data FILE...]  the node's supervisor
//   hare-node keys --plan DIR --out DIR                                 a run's keys, for nodes run by hand
//   hare-node status --run-dir DIR --node NAME [--memory]               ask a running node (JSON, or a memory table)
//   hare-node signal --run-dir DIR --node NAME start|stop               start its source, or stop it
//   hare-node control --run-dir DIR --node NAME switch PLAN_DIR|ack SEQ [MISSING...]|pause|resume
//                                                   switch its plan; ack, pause or resume its source
//   hare-node probe serve|send --address A [--port P]                   measure a network path
//
// The supervisor is torch-free (a small process); the stage's replicas run
// as threads of one hare-worker process (or one process each, with
// --process-per-replica), the only process that loads libtorch.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "common/diag.h"
#include "common/fs.h"
#include "common/json.h"
#include "profile/probe.h"
#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/strings.h"
#include "runtime/control.h"
#include "runtime/keys.h"
#include "runtime/node_spec.h"
#include "runtime/supervisor.h"
#include "tool_common.h"

using namespace hare;

namespace {

// Everything the command line sets, for every subcommand.
struct Args {
  // run
  std::string plan_dir, node, run_dir, keys_path;
  bool local = false;
  bool insecure = false;
  // keys
  std::string keys_out;
  runtime::SupervisorOptions options;
  // status, signal: the running node to ask
  std::string ask_dir, ask_node, request;
  std::vector<std::string> control_request;  // control: the verb and its argument
  double gap_wait_s = 0;
  bool memory_table = false;
  bool footprint = false;
  // probe serve|send
  std::string probe_address;
  int probe_port = 5600;
  double probe_seconds = 60;
  CLI::App* probe = nullptr;  // to find serve or send after parsing
};

void declare_run(CLI::App& cmd, Args& a) {
  runtime::SupervisorOptions& options = a.options;
  cmd.add_option("--plan", a.plan_dir, "Plan directory (hare-partition --out)")->required();
  cmd.add_option("--node", a.node, "Which node of the plan this is")->required()->check(tools::valid_name("node name"));
  cmd.add_option("--run-dir", a.run_dir, "Directory for control sockets, predictions and summaries, made private (0700); an existing one must be "
                 "yours and not writable by others (default: /tmp/hare-<node>)");
  cmd.add_option("--cpu-offset", options.cpu_offset, "First core for this node's workers; -1: do not pin them (nodes sharing a machine's cores)")->capture_default_str();
  runtime::SourceOptions& source = options.source;
  tools::add_source_options(cmd, source.files, &source.spec, source.speed, source.streams, source.limit, false,
                            "Source role: ");
  cmd.add_flag("--wait-start", options.wait_for_start, "Source role: wait for a 'start' request before streaming");
  cmd.add_option("--keys", a.keys_path,
                 "This node's key file for the run (hare-deploy writes them; by hand: hare-node keys)");
  cmd.add_flag("--insecure", a.insecure,
               "Run without keys: frames neither authenticated nor encrypted (anyone who reaches the port can feed "
               "or stop the run)");
  cmd.add_flag("--local", a.local, "Run on 127.0.0.1 whatever addresses the plan names (local deployment)");
  cmd.add_flag("--process-per-replica", options.process_per_replica,
               "Run each replica of the stage as a hare-worker process of its own, not as a thread of one: a "
               "crashing replica does not take the others down, but each one pays torch's initialisation again "
               "(about 60 MB of private memory per replica)");
  cmd.add_flag("--emulate-links", options.emulate_links,
               "Delay arriving frames by the plan's link latency and bandwidth (for local runs)");
  cmd.add_option("--replay-windows", source.replay_windows,
                 "Source role: keep the last N windows sent until the sink has them, and send them again after a plan "
                 "switch (0: no replay)")
      ->check(tools::whole_number_in(0, 10'000'000))
      ->capture_default_str();
  cmd.add_option("--gap-wait-s", a.gap_wait_s,
                 "Sink role: wait at least this long for a missing window before giving it up, and this long after a "
                 "plan switch (0: twice the largest latency seen, 2 to 30 s; 10 s after a switch)")
      ->check(tools::number_in(0.0, 3600.0))
      ->capture_default_str();
  cmd.add_option("--lease-s", options.lease_s,
                 "Stop (exit 1) when no status or start request has come for this many seconds; the deploying "
                 "process renews it (0: no lease)")
      ->check(tools::number_in(0.0, 86400.0))
      ->capture_default_str();
}

// The options of the subcommands that ask a running node over its control socket.
void declare_ask(CLI::App& cmd, Args& a) {
  cmd.add_option("--run-dir", a.ask_dir, "The node's run directory")->required();
  cmd.add_option("--node", a.ask_node, "The node")->required()->check(tools::valid_name("node name"));
}

void declare_status(CLI::App& cmd, Args& a) {
  declare_ask(cmd, a);
  cmd.add_flag("--memory", a.memory_table,
               "Print the memory of the node's processes as a table (RSS, PSS, USS per process; the node's PSS) "
               "instead of the JSON status");
  cmd.add_flag("--footprint", a.footprint,
               "Also measure what the node's processes would take on a machine of their own (reads every mapping: "
               "10-20 ms per worker)");
}

void declare_signal(CLI::App& cmd, Args& a) {
  declare_ask(cmd, a);
  cmd.add_option("request", a.request, "start | stop")->required()->check(CLI::IsMember({"start", "stop"}));
}

void declare_control(CLI::App& cmd, Args& a) {
  declare_ask(cmd, a);
  cmd.add_option("request", a.control_request,
                 "switch PLAN_DIR: take this node's roles in that plan (same deployment) without exiting; "
                 "ack SEQUENCE [MISSING ...]: the sink has every window below SEQUENCE but the MISSING ones (to the "
                 "source's node); pause | resume: hold the source's sends, or let them go on")
      ->required()
      ->expected(1, static_cast<int>(runtime::kMaxAckMissing) + 2);
}

void declare_serve(CLI::App& cmd, Args& a) {
  cmd.add_option("--address", a.probe_address, "Address to bind")->required();
  cmd.add_option("--port", a.probe_port, "Port (PORT+1 is used too)")->capture_default_str();
  cmd.add_option("--seconds", a.probe_seconds, "Stop after this long")->capture_default_str();
}

void declare_send(CLI::App& cmd, Args& a) {
  cmd.add_option("--address", a.probe_address, "The server's address")->required();
  cmd.add_option("--port", a.probe_port, "The server's port")->capture_default_str();
}

void declare_keys(CLI::App& cmd, Args& a) {
  cmd.add_option("--plan", a.plan_dir, "Plan directory (hare-partition --out)")->required();
  cmd.add_option("--out", a.keys_out, "Directory for <node>.keys, one per plan node (mode 0600)")->required();
}

std::vector<std::string> node_names(const artifacts::PlanDoc& plan) {
  std::vector<std::string> names;
  for (const auto& n : plan.nodes) names.push_back(n.name);
  return names;
}

int run_node(Args& a) {
  runtime::SupervisorOptions& options = a.options;
  const runtime::NodeSpec spec = runtime::load_node_spec(a.plan_dir, a.node, a.local);
  if (a.keys_path.empty() && !a.insecure) {
    throw input_error(Location{}, "node {}: give it this run's keys with --keys FILE, or --insecure to run it without "
                      "authentication", a.node)
        .with_hint(fmt::format("hare-deploy makes and passes keys itself; by hand: hare-node keys --plan {} --out DIR",
                               a.plan_dir));
  }
  if (!a.keys_path.empty() && a.insecure) throw input_error(Location{}, "--keys and --insecure exclude each other");
  if (!a.keys_path.empty()) {
    options.keys_path = std::filesystem::absolute(a.keys_path).string();
    options.keys = runtime::read_keys_file(options.keys_path, a.node, node_names(spec.plan));
  }
  options.run_dir = a.run_dir.empty() ? (std::filesystem::temp_directory_path() / ("hare-" + a.node)).string() : a.run_dir;
  options.run_dir = std::filesystem::absolute(options.run_dir).string();
  options.worker_command = {(std::filesystem::path(tools::program_dir()) / "hare-worker").string()};
  options.local_addresses = a.local;
  if (a.gap_wait_s > 0) {
    options.gap_wait.gap_wait_ns = static_cast<int64_t>(a.gap_wait_s * 1e9);
    options.gap_wait.after_switch_ns = options.gap_wait.gap_wait_ns;
  }
  if (spec.source && options.source.files.empty()) {
    throw input_error(Location{}, "node {} is the plan's source: give it recordings with --data FILE...", a.node);
  }
  if (options.process_per_replica && spec.stage && spec.stage->replicas > 1) {
    diag::warning("node {}: --process-per-replica runs {} worker processes where the plan counted one: each further one "
                  "takes about 60 MB more than the plan's memory_bytes, and gets the whole stage's memory limit",
                  a.node, spec.stage->replicas);
  }
  return runtime::run_supervisor(spec, options);
}

// One key file per plan node, fresh keypairs: for nodes run by hand (and
// tests); hare-deploy makes its own at every run.
int make_keys(Args& a) {
  artifacts::verify_plan_dir(a.plan_dir, /*require_all=*/false);
  const artifacts::PlanDoc plan = artifacts::read_plan((std::filesystem::path(a.plan_dir) / "plan.yaml").string());
  make_private_dir(a.keys_out);
  for (const auto& [node, keys] : runtime::generate_deployment_keys(node_names(plan))) {
    const std::string path = runtime::run_file(a.keys_out, node, ".keys");
    runtime::write_keys_file(path, keys);
    std::cout << path << "\n";
  }
  return 0;
}

int ask_status(Args& a) {
  const std::string endpoint = runtime::control_endpoint(a.ask_dir, a.ask_node);
  const auto reply = runtime::request_status(endpoint, 2000, a.footprint);
  if (!reply) throw failure("node {} does not answer at {}", a.ask_node, endpoint);
  if (a.memory_table) {
    std::cout << runtime::format_node_memory(reply->memory);
  } else {
    std::cout << record_line(*reply) << "\n";
  }
  return 0;
}

int ask_signal(Args& a) {
  const std::string endpoint = runtime::control_endpoint(a.ask_dir, a.ask_node);
  const auto reply = runtime::request_control(endpoint, a.request, 2000);
  if (!reply) throw failure("node {} does not answer at {}", a.ask_node, endpoint);
  if (!reply->ok) throw failure("node {}: {}", a.ask_node, reply->error);
  return 0;
}

// Prints the node's reply (a ControlReply line); exit 0 when ok, 1 when the
// node refused, 2 for a request that is not one or a node that does not answer.
int ask_control(Args& a) {
  const std::string& verb = a.control_request[0];
  const std::vector<std::string> arguments(a.control_request.begin() + 1, a.control_request.end());
  std::string request;
  if (verb == "switch") {
    if (arguments.size() != 1) throw input_error(Location{}, "control switch: give one plan directory (switch PLAN_DIR)");
    // The node resolves the path itself: make it absolute here, where it was given.
    request = "switch " + std::filesystem::absolute(arguments[0]).lexically_normal().string();
  } else if (verb == "pause" || verb == "resume") {
    if (!arguments.empty()) throw input_error(Location{}, "control {}: takes no argument", verb);
    request = verb;
  } else if (verb == "ack") {
    const auto ack = runtime::parse_ack(join(arguments, " "));
    if (!ack) {
      throw input_error(Location{},
                        "control ack: '{}' is not a sequence number (a whole number from 0) and the missing ones "
                        "below it, ascending",
                        join(arguments, " "));
    }
    request = runtime::ack_request(*ack);
  } else {
    throw input_error(Location{}, "control: unknown request '{}' (switch PLAN_DIR, ack SEQUENCE [MISSING ...], pause or "
                      "resume)", verb);
  }
  const std::string endpoint = runtime::control_endpoint(a.ask_dir, a.ask_node);
  // A switch waits for the new stage's workers to start (torch, seconds).
  const auto reply = runtime::request_control(endpoint, request, verb == "switch" ? 120'000 : 2000);
  if (!reply) {
    throw input_error(Location{}, "node {} does not answer at {}", a.ask_node, endpoint)
        .with_hint("is it running, with this --run-dir?");
  }
  std::cout << record_line(*reply) << "\n";
  if (!reply->ok) {
    diag::print_error_message(fmt::format("node {}: {}", a.ask_node, reply->error));
    return static_cast<int>(ExitCode::failure);
  }
  return 0;
}

int probe_serve(Args& a) { return profile::run_probe_server(a.probe_address, a.probe_port, a.probe_seconds); }

int probe_send(Args& a) {
  const profile::ProbeResult r = profile::run_probe_client(a.probe_address, a.probe_port);
  std::cout << record_line(r) << "\n";
  return 0;
}

const tools::Subcommand<Args> kProbeSubcommands[] = {
    {"serve", "Answer probes on ADDRESS:PORT (and PORT+1) for a while", declare_serve, probe_serve},
    {"send", "Probe a server: prints {rtt_ms, bandwidth_mbps} as one JSON line", declare_send, probe_send},
};

void declare_probe(CLI::App& cmd, Args& a) {
  a.probe = &cmd;
  tools::add_subcommands(cmd, kProbeSubcommands, a);
  cmd.require_subcommand(1);
}

int probe(Args& a) { return tools::chosen_subcommand(*a.probe, kProbeSubcommands)->run(a); }

void declare_memory_probe(CLI::App&, Args&) {}
int memory_probe(Args&) { return profile::supervisor_memory_probe_main(); }

const tools::Subcommand<Args> kSubcommands[] = {
    {"run", "Run this node of a plan until stopped", declare_run, run_node},
    {"keys", "Make a run's keys: one <node>.keys per plan node, for nodes run by hand", declare_keys, make_keys},
    {"status", "Print a running node's status (JSON), or its processes' memory (--memory)", declare_status, ask_status},
    {"signal", "Ask a running node to start its source or to stop", declare_signal, ask_signal},
    {"control", "Ask a running node to switch to another plan, or pass its source the sink's ack (prints the reply)",
     declare_control, ask_control},
    {"probe", "Measure a network path: 'serve' on one node, 'send' from another", declare_probe, probe},
    {"internal-memory-probe", "(internal) measure a supervisor's memory (run by hare-profile)", declare_memory_probe,
     memory_probe, true},
};

}  // namespace

int main(int argc, char** argv) {
  return tools::run_subcommand_tool(
      "hare-node", "hare's per-node executor: runs a node of a plan (source, stage workers, sink).", kSubcommands, argc,
      argv);
}
