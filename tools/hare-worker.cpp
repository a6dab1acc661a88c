// hare-worker: a stage's worker process, started by a hare-node supervisor
// (not by hand). Runs one or more replicas of the stage, each a thread that
// runs the stage's TorchScript slice on every frame from the supervisor and
// sends the result to the next hop.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/diag.h"
#include "runtime/fanout.h"
#include "runtime/worker.h"
#include "tool_common.h"

using namespace hare;

int main(int argc, char** argv) {
  // A worker owns its pinned cores: spinning OpenMP threads, as profiled.
  tools::use_openmp_wait_policy(argv, "", "ACTIVE");
  return diag::run_main("hare-worker", [&] {
    CLI::App app{"One stage worker of a hare node (started by hare-node)."};
    runtime::WorkerOptions worker;
    int next = 0;
    app.add_option("--slice", worker.slice_path, "TorchScript slice")->required();
    app.add_option("--slice-sha256", worker.slice_sha256, "The slice's SHA-256 in the plan's manifest")->required();
    app.add_option("--stage", worker.stage, "Stage index")->required()->check(tools::whole_number_in(1, 65534));
    tools::add_list(app, "--replicas", worker.replicas, "Replica indexes this process runs, one thread each, e.g. 0,1,2",
                    tools::whole_numbers(0, "0,1,2"))
        ->required();
    app.add_option("--threads", worker.threads, "Intra-op threads per replica")->required()->check(tools::whole_number_in(1, 1024));
    tools::add_list(app, "--cpus", worker.cpus,
                    "Cores to pin to, --threads per replica in --replicas order, e.g. 0,1",
                    tools::whole_numbers(0, "0,1"));
    app.add_option("--work", worker.work_endpoint, "Supervisor's work endpoint")->required();
    app.add_option("--stats", worker.stats_endpoint, "Supervisor's stats endpoint")->required();
    app.add_option("--targets", worker.targets_endpoint,
                   "Supervisor's endpoint for new destinations after a plan switch (default: none)");
    // The next hop's group: one endpoint per member, with its node, share
    // and codec in the same order.
    std::vector<std::string> downstream, downstream_nodes, codecs;
    std::vector<double> shares;
    tools::add_list(app, "--downstream", downstream, "Next hop: the endpoint of each member of its group, e.g. "
                    "tcp://10.0.0.2:5551,tcp://10.0.0.3:5552", CLI::Validator())
        ->required();
    tools::add_list(app, "--shares", shares, "Each member's share of the windows, in --downstream order (default: 1 for one)",
                    tools::positive_numbers(1.0, "0.6,0.4"));
    app.add_option("--member", worker.member, "This node's place in its stage's group (0-based)")
        ->check(tools::whole_number_in(0, 254));
    app.add_option("--node", worker.node, "The node this worker belongs to");
    app.add_option("--keys", worker.keys_path, "The node's key file: results go as a CURVE client (default: plain)");
    tools::add_list(app, "--downstream-node", downstream_nodes,
                    "The node at each --downstream endpoint (whose public key to use)", CLI::Validator());
    app.add_option("--next", next, "Destination of the results (stage index or 65535 for the sink)")
        ->required()
        ->check(tools::whole_number_in(1, 65535));
    app.add_option("--time-factor", worker.time_factor, "Emulate a device this many times slower (>= 1)")
        ->check(tools::number_in(1.0, 1000.0));
    app.add_option("--device-ms", worker.device_ms,
                   "With --time-factor: each window takes this long on the emulated device (default: the factor "
                   "times the slice's warm-up time here)")
        ->check(tools::number_in(0.0, 1e6));
    tools::add_list(app, "--codec", codecs,
                    "How results cross the link to each --downstream member: float32, float16, int8 (default float32)",
                    CLI::IsMember({"float32", "float16", "int8"}));
    tools::add_list(app, "--warmup-shape", worker.warmup_shape, "Warm up on windows of this shape, e.g. 1,32,64",
                    tools::whole_numbers(1, "1,32,64"));
    if (auto code = tools::parse(app, argc, argv)) return *code;
    diag::set_program(fmt::format("hare-worker {}", fmt::join(worker.replicas, ",")));
    worker.next_destination = static_cast<uint16_t>(next);
    worker.downstream = runtime::from_lists({downstream, downstream_nodes, shares, codecs});
    return runtime::run_worker(worker);
  });
}
