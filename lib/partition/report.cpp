#include "partition/report.h"

#include "common/yaml_util.h"

namespace hare::partition {

SolveReport make_solve_report(const Problem& problem, const SolveResult& result, Objective objective) {
  SolveReport report;
  report.objective = objective_name(objective);
  report.exact = result.exact;
  report.method = result.method;
  report.window_rate = problem.window_rate;
  for (size_t i = 0; i < result.plans.size(); ++i) {
    const Plan& plan = result.plans[i];
    const PlanMetrics& metrics = result.metrics[i];
    PlanReport& p = report.plans.emplace_back();
    p.latency_ms = metrics.latency_ms;
    p.throughput = metrics.throughput;
    p.cores = metrics.cores;
    p.bytes_leaving_source = bytes_leaving_source(problem, plan);
    p.in_bytes = problem.out_bytes[0];
    for (size_t k = 0; k < plan.stages.size(); ++k) {
      const Stage& stage = plan.stages[k];
      const StageMetrics& sm = metrics.stage[k];
      StageReport& s = p.stages.emplace_back();
      s.first_layer = problem.layer_names[static_cast<size_t>(stage.first)];
      s.last_layer = problem.layer_names[static_cast<size_t>(stage.last)];
      s.node = problem.nodes[static_cast<size_t>(stage.members.front().node)].name;
      s.replicas = stage.members.front().replicas;
      s.threads = stage.members.front().threads;
      s.compute_ms = sm.compute_ms;
      s.out_bytes = sm.out_bytes;
      s.transfer_ms = sm.xfer_out_ms;
      s.memory_bytes = sm.memory_bytes;
    }
  }
  return report;
}

void emit_yaml(YAML::Emitter& out, const SolveReport& report) { yaml::emit_json(out, nlohmann::ordered_json(report)); }

}  // namespace hare::partition
