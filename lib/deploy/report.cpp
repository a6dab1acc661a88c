#include "deploy/report.h"

#include <filesystem>

#include <fmt/format.h>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/strings.h"
#include "deploy/watch.h"
#include "partition/report.h"

namespace hare::deploy {

namespace {

// A node's measured compute per window: its replicas' p50s, weighted by
// the windows each served.
double served_compute_ms(const runtime::StageStatus& stage) {
  double sum = 0.0;
  long long windows = 0;
  for (const auto& worker : stage.workers) {
    sum += worker.compute_ms_p50 * static_cast<double>(worker.windows);
    windows += worker.windows;
  }
  return windows > 0 ? sum / static_cast<double>(windows) : 0.0;
}

}  // namespace

std::string format_report(const std::string& plan_dir, const LocalDeployResult& result) {
  const artifacts::PlanDoc plan = artifacts::read_plan((std::filesystem::path(plan_dir) / "plan.yaml").string());
  const runtime::SinkSummary& sink = result.summary;
  std::string out;
  auto line = [&](const std::string& text) { out += text + "\n"; };
  line(fmt::format("== hare run: plan {} (objective {}), {} node(s) on this machine, {:.1f} s", plan_dir, plan.objective,
                   plan.nodes.size(), result.wall_s));
  line(fmt::format("windows: sent {}, received {}, lost {}, duplicated {}{}", sink.expected, sink.received, sink.lost,
                   sink.duplicated,
                   sink.late > 0 ? fmt::format(", late {} (written out of order)", sink.late) : std::string()));
  line(fmt::format("accuracy: {:.4f} over {} labelled windows", sink.accuracy, sink.labelled));
  line(fmt::format("end-to-end latency ms: mean {:.3f} (predicted {:.3f} at the workload's rate), p50 {:.3f}, p95 {:.3f} "
                   "(predicted {:.3f}, the slowest member's), p99 {:.3f}; {:.3f} idle",
                   sink.latency_ms_mean, plan.mean_latency_ms, sink.latency_ms_p50, sink.latency_ms_p95, plan.latency_ms,
                   sink.latency_ms_p99, plan.idle_latency_ms));
  line(fmt::format("throughput: {:.1f} windows/s (predicted capacity {:.1f}; workload {:.1f})",
                   sink.throughput, plan.throughput, plan.window_rate));
  line("bytes per window on each hop (payload; the raw window is " + std::to_string(plan.in_bytes) + " B):");
  // A hop into a group comes from any member of the group before it.
  const auto nodes_of = [](const artifacts::PlanStage& stage) {
    std::vector<std::string> names;
    for (const auto& member : stage.members) names.push_back(member.node);
    return join(names, "|");
  };
  std::string from = plan.source;
  const std::vector<runtime::StageMeasurement>& stages = sink.stages;
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const auto& s = plan.stages[k];
    const double bytes = k < stages.size() ? stages[k].bytes_in : 0.0;
    const std::string to = nodes_of(s);
    line(fmt::format("  {:<10} -> stage {} on {:<10} {:>8.0f} B ({:5.1f}% of raw){}", from, s.index, to, bytes,
                     100.0 * bytes / static_cast<double>(plan.in_bytes), from == to ? "  [same node]" : ""));
    from = to;
  }
  const double to_sink = sink.bytes_to_sink;
  line(fmt::format("  {:<10} -> sink on {:<13} {:>8.0f} B ({:5.1f}% of raw){}", from, plan.sink, to_sink,
                   100.0 * to_sink / static_cast<double>(plan.in_bytes), from == plan.sink ? "  [same node]" : ""));
  line("per stage: predicted vs measured compute (ms, one window; predicted = back to back + wake-up at the planned "
       "rate's idle gaps), queueing and transfer in (p50):");
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const auto& s = plan.stages[k];
    if (k >= stages.size()) break;
    const double measured = stages[k].compute_ms_p50;
    // A group's prediction: its members' weighted by their shares.
    double compute = 0.0, wake = 0.0;
    for (const auto& member : s.members) {
      compute += member.share * member.compute_ms;
      wake += member.share * member.wake_ms;
    }
    const double predicted = compute + wake;
    const std::string layout = s.members.size() == 1
                                   ? fmt::format("{:<10} {} x {}", s.members[0].node, s.members[0].replicas,
                                                 s.members[0].threads)
                                   : fmt::format("a group of {}", s.members.size());
    line(fmt::format("  stage {} on {}: predicted {:.4f} ({:.4f} + {:.4f}), measured p50 {:.4f} p95 {:.4f} "
                     "({:+.0f}%), queue {:.4f}, transfer in {:.4f}",
                     s.index, layout, predicted, compute, wake, measured, stages[k].compute_ms_p95,
                     100.0 * (measured / predicted - 1.0), stages[k].queue_ms_p50, stages[k].transfer_in_ms_p50));
  }
  line("per member: windows served, share of its stage's windows (planned), compute p50 ms (predicted), as each node "
       "counted:");
  for (const auto& s : plan.stages) {
    long long stage_windows = 0;
    for (const auto& member : s.members) {
      const auto it = result.status.find(member.node);
      if (it != result.status.end() && it->second.stage) stage_windows += it->second.stage->processed;
    }
    for (const auto& member : s.members) {
      const auto it = result.status.find(member.node);
      if (it == result.status.end() || !it->second.stage) continue;
      const runtime::StageStatus& served = *it->second.stage;
      line(fmt::format("  stage {} on {:<10} {} x {}: {} windows, share {:.3f} ({:.3f}), compute {:.4f} ({:.4f})", s.index,
                       member.node, member.replicas, member.threads, served.processed,
                       stage_windows > 0 ? static_cast<double>(served.processed) / static_cast<double>(stage_windows) : 0.0,
                       member.share, served_compute_ms(served), member.compute_ms + member.wake_ms));
    }
  }
  line("memory per node, MB: predicted for a board of its own (plan), measured alone (its processes with each "
       "library's pages once), PSS (what this machine counts: nodes here share libraries), peak RSS:");
  const auto mb = [](int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; };
  for (const auto& node : plan.nodes) {
    const auto it = result.status.find(node.name);
    if (it == result.status.end()) continue;
    const runtime::NodeMemory& memory = it->second.memory;
    std::string alone = "alone not measured";
    if (memory.alone_bytes) {
      alone = fmt::format("alone {:.1f}", mb(*memory.alone_bytes));
      if (node.memory_bytes > 0) {
        alone += fmt::format(" ({:+.1f}% from predicted)",
                             100.0 * (static_cast<double>(*memory.alone_bytes) / static_cast<double>(node.memory_bytes) - 1.0));
      }
    }
    int replicas = 0;
    for (const auto& worker : memory.workers) replicas += static_cast<int>(worker.replicas.size());
    line(fmt::format("  {:<10} predicted {}, {}, PSS {:.1f}, peak RSS {:.1f} [supervisor + {} worker process(es), {} "
                     "replica(s)]",
                     node.name, node.memory_bytes > 0 ? fmt::format("{:.1f}", mb(node.memory_bytes)) : "n/a", alone,
                     mb(memory.total.pss_bytes), mb(it->second.peak_rss_bytes), memory.workers.size(), replicas));
  }
  line("predictions: " + result.predictions_path);
  return out;
}

std::string plan_placement(const artifacts::PlanDoc& plan) {
  // The solver's form of the plan, as far as placement_text reads it.
  partition::Problem problem;
  partition::Plan solved;
  const auto node_index = [&](const std::string& name) {
    for (size_t i = 0; i < problem.nodes.size(); ++i) {
      if (problem.nodes[i].name == name) return static_cast<int>(i);
    }
    problem.nodes.push_back(partition::ProblemNode{name});
    return static_cast<int>(problem.nodes.size() - 1);
  };
  for (const artifacts::PlanStage& stage : plan.stages) {
    if (problem.layer_names.size() < static_cast<size_t>(stage.last_layer)) {
      problem.layer_names.resize(static_cast<size_t>(stage.last_layer));
    }
    for (size_t i = 0; i < stage.layers.size(); ++i) {
      problem.layer_names[static_cast<size_t>(stage.first_layer - 1) + i] = stage.layers[i];
    }
    partition::Stage s{stage.first_layer - 1, stage.last_layer - 1, {}};
    for (const artifacts::PlanMember& m : stage.members) {
      s.members.push_back(partition::Member{node_index(m.node), m.replicas, m.threads});
    }
    solved.stages.push_back(s);
  }
  return partition::placement_text(problem, solved);
}

DeployPlanLine deploy_plan_line(const std::string& plan_dir, const std::string& watch_log) {
  DeployPlanLine line;
  line.last_decision = last_decision(watch_log, /*resolved_only=*/true);
  line.last_window = last_decision(watch_log);
  line.plan_dir = line.last_window && !line.last_window->plan_dir.empty() ? line.last_window->plan_dir : plan_dir;
  line.placement = plan_placement(artifacts::load_plan_dir(line.plan_dir).plan);
  return line;
}

}  // namespace hare::deploy
