// hare-deploy: run a plan.
//
//   hare-deploy local --plan DIR --data FILE...   every node as a local process; stream; report; stop

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "common/diag.h"
#include "deploy/local.h"
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
    if (auto code = tools::parse(app, argc, argv)) return *code;
    local.emulate_links = !no_emulation;
    diag::install_interrupt_handler();

    namespace fs = std::filesystem;
    if (local.run_dir.empty()) local.run_dir = (fs::absolute(local.plan_dir).parent_path() / "run").string();
    local.node_binary = (fs::read_symlink("/proc/self/exe").parent_path() / "hare-node").string();
    const deploy::LocalDeployResult result = deploy::deploy_local(local);
    std::cout << deploy::format_report(local.plan_dir, result);
    return 0;
  });
}
