// hare-worker: a stage's worker process, started by a hare-node supervisor
// (not by hand). Runs one or more replicas of the stage, each a thread that
// runs the stage's TorchScript slice on every frame from the supervisor and
// sends the result to the next hop.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/diag.h"
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
    app.add_option("--downstream", worker.downstream, "Next hop")->required();
    app.add_option("--node", worker.node, "The node this worker belongs to");
    app.add_option("--keys", worker.keys_path, "The node's key file: results go as a CURVE client (default: plain)");
    app.add_option("--downstream-node", worker.downstream_node, "The node at --downstream (whose public key to use)");
    app.add_option("--next", next, "Destination of the results (stage index or 65535 for the sink)")
        ->required()
        ->check(tools::whole_number_in(1, 65535));
    app.add_option("--time-factor", worker.time_factor, "Emulate a device this many times slower (>= 1)")
        ->check(tools::number_in(1.0, 1000.0));
    std::string codec = "float32";
    app.add_option("--codec", codec, "How results cross the link to the next hop: float32, float16, int8")
        ->check(CLI::IsMember({"float32", "float16", "int8"}));
    tools::add_list(app, "--warmup-shape", worker.warmup_shape, "Warm up on windows of this shape, e.g. 1,32,64",
                    tools::whole_numbers(1, "1,32,64"));
    if (auto code = tools::parse(app, argc, argv)) return *code;
    diag::set_program(fmt::format("hare-worker {}", fmt::join(worker.replicas, ",")));
    worker.next_destination = static_cast<uint16_t>(next);
    worker.codec = *parse_codec(codec);
    return runtime::run_worker(worker);
  });
}
