#include "deploy/report.h"

#include <filesystem>

#include <fmt/format.h>

#include "artifacts/plan.h"

namespace hare::deploy {

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
  line(fmt::format("end-to-end latency ms: p50 {:.3f}, p95 {:.3f}, p99 {:.3f} (predicted {:.3f})",
                   sink.latency_ms_p50, sink.latency_ms_p95, sink.latency_ms_p99, plan.latency_ms));
  line(fmt::format("throughput: {:.1f} windows/s (predicted capacity {:.1f}; workload {:.1f})",
                   sink.throughput, plan.throughput, plan.window_rate));
  line("bytes per window on each hop (payload; the raw window is " + std::to_string(plan.in_bytes) + " B):");
  std::string from = plan.source;
  const std::vector<runtime::StageMeasurement>& stages = sink.stages;
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const auto& s = plan.stages[k];
    const double bytes = k < stages.size() ? stages[k].bytes_in : 0.0;
    line(fmt::format("  {:<10} -> stage {} on {:<10} {:>8.0f} B ({:5.1f}% of raw){}", from, s.index, s.node, bytes,
                     100.0 * bytes / static_cast<double>(plan.in_bytes), from == s.node ? "  [same node]" : ""));
    from = s.node;
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
    const double predicted = s.compute_ms + s.wake_ms;
    line(fmt::format("  stage {} on {:<10} {} x {}: predicted {:.4f} ({:.4f} + {:.4f}), measured p50 {:.4f} p95 {:.4f} "
                     "({:+.0f}%), queue {:.4f}, transfer in {:.4f}",
                     s.index, s.node, s.replicas, s.threads, predicted, s.compute_ms, s.wake_ms, measured,
                     stages[k].compute_ms_p95, 100.0 * (measured / predicted - 1.0), stages[k].queue_ms_p50,
                     stages[k].transfer_in_ms_p50));
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

}  // namespace hare::deploy
