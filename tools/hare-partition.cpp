// hare-partition: choose slice points, placement, replicas and threads for a
// model (its segments: model/segments.h) on a cluster, from measured profiles. Torch-free: with
// --out, the slices are written by hare-slice, a torch process next to it.
//
//   hare-partition --model models/hare-cnn.pt --cluster configs/local-3node.yaml
//   hare-partition ... --objective resources --top 3 --format yaml

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>

#include "artifacts/planner.h"
#include "common/diag.h"
#include "common/json.h"
#include "common/strings.h"
#include "partition/cluster.h"
#include "partition/problem.h"
#include "partition/report.h"
#include "partition/solver.h"
#include "tool_common.h"

using namespace hare;
using namespace hare::partition;

namespace {


std::string layer_range(const Problem& p, const Stage& s) {
  const std::string& a = p.layer_names[static_cast<size_t>(s.first)];
  return s.first == s.last ? a : a + ".." + p.layer_names[static_cast<size_t>(s.last)];
}

void print_table(const Problem& p, const SolveResult& result, Objective objective) {
  for (size_t i = 0; i < result.plans.size(); ++i) {
    const Plan& plan = result.plans[i];
    const PlanMetrics& m = result.metrics[i];
    if (result.plans.size() > 1) std::cout << fmt::format("plan {} of {}\n", i + 1, result.plans.size());
    // One row per member: a stage group's further members leave stage and layers blank.
    std::cout << fmt::format("{:>5}  {:<20} {:<10} {:>9} {:>11} {:>11} {:>9} {:>6} {:>9} {:>12} {:>10}\n", "stage",
                             "layers", "node", "r x t", "compute_ms", "runtime_ms", "queue_ms", "share", "out_KB",
                             "transfer_ms", "memory_MB");
    for (size_t k = 0; k < plan.stages.size(); ++k) {
      const Stage& s = plan.stages[k];
      const StageMetrics& sm = m.stage[k];
      for (size_t b = 0; b < s.members.size(); ++b) {
        const Member& member = s.members[b];
        const MemberMetrics& mm = sm.member[b];
        const ProblemNode& node = p.nodes[static_cast<size_t>(member.node)];
        std::cout << fmt::format("{:>5}  {:<20} {:<10} {:>9} {:>11.4f} {:>11.4f} {:>9.4f} {:>6.2f} {:>9.2f} {:>12.4f} {:>10.1f}\n",
                                 b == 0 ? std::to_string(k + 1) : "", b == 0 ? layer_range(p, s) : "", node.name,
                                 fmt::format("{} x {}", member.replicas, member.threads), mm.compute_ms,
                                 mm.wake_ms + mm.hops_ms, mm.queue_ms, mm.share, sm.out_bytes / 1024.0, mm.xfer_out_ms,
                                 node_memory_bytes(p.devices[static_cast<size_t>(node.device)], mm.memory_bytes) / 1048576.0);
      }
    }
    const int64_t leaving = bytes_leaving_source(p, plan);
    std::cout << fmt::format(
        "predicted: latency {:.3f} ms at {:.1f} windows/s ({:.3f} ms idle; source hop {:.3f} ms, sink hop {:.3f} ms), "
        "throughput {:.1f} windows/s (utilization {:.0f}%), {} cores, {} stage(s)\n",
        m.latency_ms, p.window_rate, m.idle_latency_ms, m.xfer_in_ms, m.sink_hop_ms, m.throughput, 100.0 * m.utilization,
        m.cores, m.stages);
    std::cout << "runtime_ms: the runtime's own time per window at the workload's pace (two hops into a worker and "
                 "the slice's wake-up after idling; hare-profile measures both)\n";
    std::cout << "memory_MB: the node's hare processes (supervisor + the stage's worker, its replicas as threads, "
                 "libraries counted once), as the node counts them (PSS)\n";
    for (const DeviceCosts& device : p.devices) {
      if (device.memory.from_rss_only) {
        std::cout << fmt::format("  (device {}'s profile is from before hare measured PSS: each replica is charged a "
                                 "whole executor of {:.1f} MB and nothing is shared; profile it again for the split)\n",
                                 device.name, static_cast<double>(device.memory.executor_bytes) / 1048576.0);
      }
    }
    std::cout << fmt::format("bytes leaving the source per window: {} ({:.1f}% of the raw window's {} bytes)\n", leaving,
                             100.0 * static_cast<double>(leaving) / static_cast<double>(p.out_bytes[0]), p.out_bytes[0]);
    if (objective == Objective::throughput && !m.meets_window_rate) {
      std::cout << fmt::format("note: the best throughput is below the workload's {:.1f} windows/s\n", p.window_rate);
    }
    std::cout << "\n";
  }
  std::cout << fmt::format("objective {}: {} ({} labels)\n", objective_name(objective), result.method, result.labels);
}

}  // namespace

int main(int argc, char** argv) {
  return diag::run_main("hare-partition", [&] {
    CLI::App app{"Choose slice points, placement, replicas and threads for a model's segments on a cluster."};
    std::string model_path, card_path, cluster_path, profiles_dir = "profiles", objective_text = "latency";
    std::string format = "table";
    int top = 1;
    double speed = 1.0;
    std::string out_dir;
    bool force = false;
    std::vector<std::string> check_data;
    int base_port = 5550;
    app.add_option("--model", model_path, "TorchScript model (.pt); its card (.yaml) gives the window rate")->required();
    app.add_option("--card", card_path, "Model card (default: <model>.yaml)");
    app.add_option("--cluster", cluster_path, "Cluster config (configs/*.yaml)")->required();
    app.add_option("--profiles", profiles_dir, "Profiles directory: <dir>/<device>/<model>.yaml")->capture_default_str();
    app.add_option("--objective", objective_text, "latency | throughput | resources")
        ->capture_default_str()
        ->check(CLI::IsMember({"latency", "throughput", "resources"}));
    app.add_option("--speed", speed,
                   "Plan for the streams replayed at X times real time (hare-deploy --speed X): the workload times X")
        ->capture_default_str()
        ->check(tools::positive_number(1e6));
    app.add_option("--top", top, "List the N best plans")->capture_default_str()->check(CLI::Range(1, 100));
    app.add_option("--format", format, "table | yaml | json")->capture_default_str()->check(CLI::IsMember({"table", "yaml", "json"}));
    app.add_option("--out", out_dir, "Write the plan directory (plan.yaml, model.yaml, slices/, manifest.yaml) here");
    app.add_flag("--force", force, "Replace a different plan already in --out");
    app.add_option("--check-data", check_data, "Recordings for the slice equivalence check (default: the card's validation files)");
    app.add_option("--base-port", base_port, "Node i of the cluster listens on base-port + i")
        ->capture_default_str()
        ->check(CLI::Range(1024, 65000));
    if (auto code = tools::parse(app, argc, argv)) return *code;

    // Inputs: the card (name, rate, step), the cluster, the profiles of its devices.
    const PlanningInputs inputs = load_planning_inputs(model_path, card_path, cluster_path, profiles_dir, speed);
    const Problem& problem = inputs.problem;

    // Solve.
    const Objective objective = *parse_objective(objective_text);  // CLI11 checked the name
    const SolveResult result = solve(problem, SolveOptions{objective, top, 10});

    // The plan directory: slices checked against the whole model first.
    if (!out_dir.empty()) {
      artifacts::WritePlanRequest request;
      request.model_path = model_path;
      request.card_path = card_path;
      request.cluster_path = cluster_path;
      request.cluster = &inputs.cluster;
      request.problem = &problem;
      request.result = &result;
      request.objective = objective;
      request.expand = inputs.profiles.begin()->second.expand;
      request.check_data = check_data;
      request.out = out_dir;
      request.force = force;
      request.base_port = base_port;
      const artifacts::WritePlanResult written = artifacts::write_plan_dir(request);
      diag::note("slices match the whole model on {} real and {} random windows (max |difference| {:.2g})",
                 written.check.real_windows, written.check.random_windows, written.check.max_abs_diff);
      switch (written.commit) {
        case artifacts::CommitResult::created: diag::note("wrote plan {}", out_dir); break;
        case artifacts::CommitResult::replaced: diag::note("replaced the plan in {}", out_dir); break;
        case artifacts::CommitResult::unchanged: diag::note("plan {} is unchanged", out_dir); break;
      }
    }

    // Report.
    if (format == "table") {
      print_table(problem, result, objective);
      return 0;
    }
    const SolveReport report = make_solve_report(problem, result, objective);
    if (format == "json") {
      std::cout << record_line(report) << "\n";
    } else {
      YAML::Emitter out;
      emit_yaml(out, report);
      std::cout << out.c_str() << "\n";
    }
    return 0;
  });
}
