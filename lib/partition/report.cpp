#include "partition/report.h"

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
      s.node = problem.nodes[static_cast<size_t>(stage.node)].name;
      s.replicas = stage.replicas;
      s.threads = stage.threads;
      s.compute_ms = sm.compute_ms;
      s.out_bytes = sm.out_bytes;
      s.transfer_ms = sm.xfer_out_ms;
      s.memory_bytes = sm.memory_bytes;
    }
  }
  return report;
}

// nlohmann's json sorts keys, so the YAML is written field by field to keep
// the declaration order a reader expects (objective first); a test checks
// that both forms carry the same keys and values.
void emit_yaml(YAML::Emitter& out, const SolveReport& report) {
  out << YAML::BeginMap;
  out << YAML::Key << "objective" << YAML::Value << report.objective;
  out << YAML::Key << "exact" << YAML::Value << report.exact;
  out << YAML::Key << "method" << YAML::Value << report.method;
  out << YAML::Key << "window_rate" << YAML::Value << report.window_rate;
  out << YAML::Key << "plans" << YAML::Value << YAML::BeginSeq;
  for (const PlanReport& plan : report.plans) {
    out << YAML::BeginMap;
    out << YAML::Key << "latency_ms" << YAML::Value << plan.latency_ms;
    out << YAML::Key << "throughput" << YAML::Value << plan.throughput;
    out << YAML::Key << "cores" << YAML::Value << plan.cores;
    out << YAML::Key << "bytes_leaving_source" << YAML::Value << plan.bytes_leaving_source;
    out << YAML::Key << "in_bytes" << YAML::Value << plan.in_bytes;
    out << YAML::Key << "stages" << YAML::Value << YAML::BeginSeq;
    for (const StageReport& stage : plan.stages) {
      out << YAML::BeginMap;
      out << YAML::Key << "first_layer" << YAML::Value << stage.first_layer;
      out << YAML::Key << "last_layer" << YAML::Value << stage.last_layer;
      out << YAML::Key << "node" << YAML::Value << stage.node;
      out << YAML::Key << "replicas" << YAML::Value << stage.replicas;
      out << YAML::Key << "threads" << YAML::Value << stage.threads;
      out << YAML::Key << "compute_ms" << YAML::Value << stage.compute_ms;
      out << YAML::Key << "out_bytes" << YAML::Value << stage.out_bytes;
      out << YAML::Key << "transfer_ms" << YAML::Value << stage.transfer_ms;
      out << YAML::Key << "memory_bytes" << YAML::Value << stage.memory_bytes;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
}

}  // namespace hare::partition
