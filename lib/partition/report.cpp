#include "partition/report.h"

#include <fmt/format.h>

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
    p.idle_latency_ms = metrics.idle_latency_ms;
    p.utilization = metrics.utilization;
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
      s.out_bytes = sm.out_bytes;
      s.transfer_ms = sm.xfer_out_ms;
      s.memory_bytes = sm.member.front().memory_bytes;
      s.compute_ms = sm.member.front().compute_ms;
      s.capacity = sm.rate;
      for (size_t b = 0; b < stage.members.size(); ++b) {
        const Member& member = stage.members[b];
        const MemberMetrics& mm = sm.member[b];
        s.members.push_back(MemberReport{problem.nodes[static_cast<size_t>(member.node)].name, member.replicas,
                                         member.threads, mm.share, mm.compute_ms, mm.queue_ms, mm.latency_ms,
                                         mm.loaded_latency_ms, mm.memory_bytes});
      }
    }
  }
  return report;
}

void emit_yaml(YAML::Emitter& out, const SolveReport& report) { yaml::emit_json(out, nlohmann::ordered_json(report)); }

std::string placement_text(const Problem& problem, const Plan& plan) {
  std::string out;
  for (const Stage& s : plan.stages) {
    std::string group;
    for (const Member& m : s.members) {
      group += fmt::format("{}{} {}x{}", group.empty() ? "" : " + ", problem.nodes[static_cast<size_t>(m.node)].name,
                           m.replicas, m.threads);
    }
    const std::string& first = problem.layer_names[static_cast<size_t>(s.first)];
    const std::string& last = problem.layer_names[static_cast<size_t>(s.last)];
    out += fmt::format("{}{}: {}", out.empty() ? "" : " → ", first == last ? first : first + ".." + last,
                       s.members.size() > 1 ? "{" + group + "}" : group);
  }
  return out;
}

}  // namespace hare::partition
