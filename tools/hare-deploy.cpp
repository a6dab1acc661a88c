// hare-deploy: run a plan.
//
//   hare-deploy local --plan DIR --data FILE...   every node as a local process; stream; report; stop
//   hare-deploy push|start|status|stop|undeploy|rollback --plan DIR --cluster FILE   over SSH, all nodes in parallel
//   hare-deploy run --plan DIR --cluster FILE --data FILE...  over SSH: push, start, stream; report; stop
//   hare-deploy watch --plan DIR --cluster FILE   keep a deployment started with `start` right while it runs
//   (local and run take --watch: one command deploys and watches)

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "common/diag.h"
#include "common/json.h"
#include "deploy/local.h"
#include "deploy/remote.h"
#include "deploy/report.h"
#include "tool_common.h"

using namespace hare;

namespace {

// A week: a longer wait is a typo, and 0 or less gave up at once after the
// nodes had started.
constexpr double kMaxTimeoutS = 7 * 24 * 3600.0;

// Everything the command line sets, for every subcommand.
struct Args {
  deploy::LocalDeployOptions local;
  bool no_emulation = false;
  deploy::RemoteOptions remote;
  double run_timeout_s = 900;
  double run_lease_s = deploy::kRunLeaseS;
  bool watch = false;  // local, run: --watch
  deploy::LocalWatchOptions watch_options;
};

// The watch's settings (watch.h), for watch and for local/run --watch.
void declare_watch_settings(CLI::App& cmd, Args& a) {
  deploy::LocalWatchOptions& w = a.watch_options;
  cmd.add_option("--model", w.model_path,
                 "The plan's TorchScript model, sliced for every new plan (default: models/<the plan's model>.pt)");
  cmd.add_option("--profiles", w.profiles_dir, "Profiles directory the plan was made from")->capture_default_str();
  cmd.add_option("--log", w.watch.log_path, "The watch's decisions, one JSON line per window (default: <run-dir>/watch.jsonl; watch and run: "
                 "<plan>/../run/watch.jsonl)");
  cmd.add_option("--window-s", w.watch.window_s, "Seconds per observation window (one decision each)")
      ->capture_default_str()
      ->check(tools::number_in(0.1, 60.0));
  cmd.add_option("--lost-after-s", w.watch.lost_after_s, "A node that has not answered for this long is lost")
      ->capture_default_str()
      ->check(tools::number_in(0.1, 600.0));
  cmd.add_option("--hold-s", w.watch.policy.hold_s,
                 "A drift must last this long before a re-plan; and the least time between two switches for drift")
      ->capture_default_str()
      ->check(tools::number_in(0.0, 86400.0));
  cmd.add_option("--drift-ratio", w.watch.policy.drift_ratio,
                 "A figure beyond (1 +- this) x the plan's drifts (0.5: half as much again, or half)")
      ->capture_default_str()
      ->check(tools::number_in(0.01, 100.0));
  cmd.add_option("--margin", w.watch.policy.margin,
                 "The predicted relative gain a switch for drift needs (0.2 = 20% better)")
      ->capture_default_str()
      ->check(tools::number_in(0.0, 10.0));
}

// The source's replay buffer, for local and for start/run over SSH.
void declare_replay_windows(CLI::App& cmd, long long& replay_windows) {
  cmd.add_option("--replay-windows", replay_windows,
                 "The source keeps this many windows until the sink has them, to send again after a switch (default: "
                 "hare-node's)")
      ->check(tools::whole_number_in(0, 10'000'000));
}

void declare_local(CLI::App& cmd, Args& a) {
  deploy::LocalDeployOptions& local = a.local;
  cmd.add_option("--plan", local.plan_dir, "Plan directory (hare-partition --out)")->required();
  tools::add_source_options(cmd, local.data, &local.spec, local.speed, local.streams, local.limit, true);
  cmd.add_option("--run-dir", local.run_dir, "Logs, predictions, summaries, made private (0700); an existing one must be yours and not writable "
                 "by others (default: <plan>/../run)");
  cmd.add_option("--timeout", local.run_timeout_s, "Give up after this many seconds")
      ->capture_default_str()
      ->check(tools::positive_number(kMaxTimeoutS));
  cmd.add_flag("--no-link-emulation", a.no_emulation, "Do not apply the plan's link figures (raw loopback)");
  declare_replay_windows(cmd, local.replay_windows);
  CLI::Option* cluster = cmd.add_option("--cluster", a.watch_options.cluster_path,
                                        "Cluster config the plan was made from (--watch re-plans on it)");
  cmd.add_flag("--watch", a.watch, "Keep the run right while it streams: a node that dies, or drift, re-plans it")
      ->needs(cluster);
  declare_watch_settings(cmd, a);
}

// The options of every subcommand that reaches the nodes over SSH.
void declare_remote(CLI::App& cmd, Args& a) {
  cmd.add_option("--plan", a.remote.plan_dir, "Plan directory")->required();
  cmd.add_option("--cluster", a.remote.cluster_path, "Cluster config the plan was made from")->required();
  tools::add_ssh_options(cmd, a.remote);
  cmd.add_option("--timeout", a.remote.timeout_s, "Seconds to wait for a node to become healthy")
      ->capture_default_str()
      ->check(tools::positive_number(kMaxTimeoutS));
}

// start, run, watch (which starts the nodes a new plan adds).
void declare_shared_cores(CLI::App& cmd, Args& a) {
  cmd.add_flag("!--shared-cores", a.remote.pin_cores,
               "The nodes share one machine's cores (e.g. the namespace test bed): run their workers unpinned, not "
               "each node's on its first cores");
}

void declare_start(CLI::App& cmd, Args& a) {
  declare_remote(cmd, a);
  // The recordings are uploaded to the source node.
  tools::add_source_options(cmd, a.remote.data, &a.remote.spec, a.remote.speed, a.remote.streams, a.remote.limit, true);
  declare_shared_cores(cmd, a);
  declare_replay_windows(cmd, a.remote.replay_windows);
}

void declare_run(CLI::App& cmd, Args& a) {
  declare_start(cmd, a);
  cmd.add_option("--lease-s", a.run_lease_s,
                 "Each node stops itself when this hare-deploy has not asked it anything for this long (killed, or "
                 "cut off)")
      ->check(tools::number_in(5.0, 86400.0))
      ->capture_default_str();
  cmd.add_option("--run-timeout", a.run_timeout_s, "Give up on the run (and stop it) after this many seconds")
      ->capture_default_str()
      ->check(tools::positive_number(kMaxTimeoutS));
  cmd.add_flag("--watch", a.watch, "Keep the run right while it streams: a node lost, or drift, re-plans it");
  declare_watch_settings(cmd, a);
}

void declare_watch(CLI::App& cmd, Args& a) {
  declare_remote(cmd, a);
  declare_watch_settings(cmd, a);
  declare_shared_cores(cmd, a);
  cmd.add_option("--check-data", a.remote.data,
                 "Recordings for each new plan's slice check (default: the model card's validation files)");
}

int run_local(Args& a) {
  diag::install_interrupt_handler();
  deploy::LocalDeployOptions& local = a.local;
  local.emulate_links = !a.no_emulation;
  if (local.run_dir.empty()) local.run_dir = (std::filesystem::absolute(local.plan_dir).parent_path() / "run").string();
  local.node_binary = (std::filesystem::path(tools::program_dir()) / "hare-node").string();
  if (a.watch) local.watch = a.watch_options;
  const deploy::LocalDeployResult result = deploy::deploy_local(local);
  std::cout << deploy::format_report(result.watch ? result.plan_dir : local.plan_dir, result);
  if (result.watch) std::cout << deploy::format_watch_summary(*result.watch);
  return 0;
}

int push(Args& a) {
  const auto result = deploy::push(a.remote);
  for (const auto& [node, what] : result.per_node) std::cout << node << ": " << what << "\n";
  if (!result.changed) std::cout << "nothing changed: every node already runs this plan\n";
  return 0;
}

int start(Args& a) {
  deploy::start(a.remote);
  diag::note("every node is up and the source is streaming");
  return 0;
}

int status(Args& a) {
  for (auto& [node, node_status] : deploy::status(a.remote)) {
    std::cout << record_line(deploy::DeployStatusLine{node, std::move(node_status)}) << "\n";
  }
  // The plan the deployment runs and the watch's last decision.
  const std::string log = !a.watch_options.watch.log_path.empty()
                              ? a.watch_options.watch.log_path
                              : (std::filesystem::absolute(a.remote.plan_dir).parent_path() / "run" / "watch.jsonl").string();
  std::cout << record_line(deploy::deploy_plan_line(a.remote.plan_dir, log)) << "\n";
  return 0;
}

void declare_status(CLI::App& cmd, Args& a) {
  declare_remote(cmd, a);
  cmd.add_option("--log", a.watch_options.watch.log_path,
                 "The watch's log, for its last decision (default: <plan>/../run/watch.jsonl)");
}

int stop(Args& a) {
  deploy::stop(a.remote);
  return 0;
}

int undeploy(Args& a) {
  deploy::undeploy(a.remote);
  return 0;
}

int rollback(Args& a) {
  deploy::rollback(a.remote);
  return 0;
}

int run_remote(Args& a) {
  diag::install_interrupt_handler();
  a.remote.lease_s = a.run_lease_s;
  const deploy::LocalDeployResult result =
      deploy::run_remote(a.remote, a.run_timeout_s, a.watch ? &a.watch_options : nullptr);
  std::cout << deploy::format_report(result.watch ? result.plan_dir : a.remote.plan_dir, result);
  if (result.watch) std::cout << deploy::format_watch_summary(*result.watch);
  return 0;
}

int watch(Args& a) {
  diag::install_interrupt_handler();
  std::cout << deploy::format_watch_summary(deploy::watch_remote(a.remote, a.watch_options));
  return 0;
}

const tools::Subcommand<Args> kSubcommands[] = {
    {"local", "Run every node of the plan as a local process, stream, report, stop", declare_local, run_local},
    {"push", "Upload the plan to its nodes (verified, atomic, one rollback kept)", declare_remote, push},
    {"start", "Start every node and the stream; wait until all are healthy", declare_start, start},
    {"status", "Each node's state, plan and metrics, then the plan running and the watch's last decision (JSON lines)",
     declare_status, status},
    {"stop", "Drain and stop every node", declare_remote, stop},
    {"undeploy", "Stop every node and remove hare's files from it", declare_remote, undeploy},
    {"rollback", "Switch every node back to the plan before the last push", declare_remote, rollback},
    {"run", "Push, start, stream until the sink has every window, report, stop (as local, over SSH)", declare_run,
     run_remote},
    {"watch", "Keep a started deployment right until its stream ends: re-plan for lost nodes and drift (JSON-line log)",
     declare_watch, watch},
};

}  // namespace

int main(int argc, char** argv) {
  return tools::run_subcommand_tool("hare-deploy", "Deploy a plan directory and run it.", kSubcommands, argc, argv);
}
