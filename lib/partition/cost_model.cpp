#include "partition/cost_model.h"

#include <algorithm>

#include <fmt/format.h>

namespace hare::partition {

Codec Problem::link_codec(int from, int to) const {
  return from == to ? Codec::float32 : links[static_cast<size_t>(from)][static_cast<size_t>(to)].codec;
}

int64_t Problem::wire_bytes(int from, int to, int64_t bytes) const { return wire_bytes_of_payload(link_codec(from, to), bytes); }

double Problem::xfer_ms(int from, int to, int64_t bytes) const {
  if (from == to) return 0.0;
  const Link& link = links[static_cast<size_t>(from)][static_cast<size_t>(to)];
  return link.latency_ms + static_cast<double>(wire_bytes(from, to, bytes)) * 8.0 / (link.bandwidth_mbps * 1000.0);
}

double Problem::link_rate(int from, int to, int64_t bytes) const {
  if (from == to || bytes <= 0) return std::numeric_limits<double>::infinity();
  const Link& link = links[static_cast<size_t>(from)][static_cast<size_t>(to)];
  return 1000.0 / (static_cast<double>(wire_bytes(from, to, bytes)) * 8.0 / (link.bandwidth_mbps * 1000.0));
}

int thread_index(const DeviceCosts& device, int threads) {
  for (size_t i = 0; i < device.threads.size(); ++i) {
    if (device.threads[i] == threads) return static_cast<int>(i);
  }
  return -1;
}

double stage_compute_ms(const Problem& problem, const Stage& stage) {
  const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(stage.node)].device)];
  const int t = thread_index(device, stage.threads);
  double sum = 0.0;
  for (int i = stage.first; i <= stage.last; ++i) sum += device.latency_ms[static_cast<size_t>(i)][static_cast<size_t>(t)];
  return sum;
}

double sink_hop_ms(const Problem& problem) {
  return problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(problem.sink)].device)].hop_ms;
}

int64_t stage_memory_bytes(const Problem& problem, const Stage& stage) {
  const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(stage.node)].device)];
  int64_t params = 0;
  for (int i = stage.first; i <= stage.last; ++i) params += problem.param_bytes[static_cast<size_t>(i)];
  // max over i = s-1..e of out_bytes[i] in 1-based terms (docs/design.md,
  // "Memory and cores"), where out_bytes[0] is the input: with 0-based
  // layers that is out_bytes[first..last+1].
  int64_t activation = 0;
  for (int i = stage.first; i <= stage.last + 1; ++i) activation = std::max(activation, problem.out_bytes[static_cast<size_t>(i)]);
  return stage_memory_bytes(device, stage.replicas, stage.last - stage.first + 1, problem.num_layers(), params, activation);
}

int max_replicas_by_memory(const DeviceCosts& device, int layers, int total_layers, int64_t params_bytes,
                           int64_t max_activation_bytes, int64_t mem_bytes) {
  const int64_t one = node_memory_bytes(device, stage_memory_bytes(device, 1, layers, total_layers, params_bytes,
                                                                    max_activation_bytes));
  if (one > mem_bytes) return 0;
  const int64_t each = device.memory.replica_bytes + 2 * max_activation_bytes;
  if (each <= 0) return 1 << 20;
  return static_cast<int>(std::min<int64_t>(1 + (mem_bytes - one) / each, 1 << 20));
}

int64_t bytes_leaving_source(const Problem& p, const Plan& plan) {
  int64_t bytes = 0;
  if (plan.stages.front().node != p.source) bytes += p.wire_bytes(p.source, plan.stages.front().node, p.out_bytes[0]);
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const Stage& s = plan.stages[k];
    const int next = k + 1 < plan.stages.size() ? plan.stages[k + 1].node : p.sink;
    if (s.node == p.source && next != p.source) bytes += p.wire_bytes(s.node, next, p.out_bytes[static_cast<size_t>(s.last) + 1]);
  }
  return bytes;
}

PlanMetrics evaluate(const Problem& problem, const Plan& plan) {
  PlanMetrics m;
  const int layers = problem.num_layers();
  auto invalid = [&](std::string why) {
    m.valid = false;
    m.feasible = false;
    m.violation = std::move(why);
    return m;
  };
  if (plan.stages.empty()) return invalid("no stages");
  std::vector<bool> used(static_cast<size_t>(problem.num_nodes()), false);
  int expected = 0;
  for (const Stage& s : plan.stages) {
    if (s.first != expected || s.last < s.first || s.last >= layers) return invalid("stages do not cover the layers in order");
    if (s.node < 0 || s.node >= problem.num_nodes()) return invalid("unknown node");
    if (used[static_cast<size_t>(s.node)]) return invalid(fmt::format("node {} hosts two stages", problem.nodes[static_cast<size_t>(s.node)].name));
    used[static_cast<size_t>(s.node)] = true;
    const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(s.node)].device)];
    if (thread_index(device, s.threads) < 0) return invalid(fmt::format("{} threads were not profiled", s.threads));
    if (s.replicas < 1) return invalid("replicas must be at least 1");
    expected = s.last + 1;
  }
  if (expected != layers) return invalid("stages do not cover every layer");
  m.valid = true;

  const auto& stages = plan.stages;
  m.stages = static_cast<int>(stages.size());
  m.xfer_in_ms = problem.xfer_ms(problem.source, stages.front().node, problem.out_bytes[0]);
  m.latency_ms = m.xfer_in_ms;
  m.throughput = problem.link_rate(problem.source, stages.front().node, problem.out_bytes[0]);
  std::string violation;
  for (size_t k = 0; k < stages.size(); ++k) {
    const Stage& s = stages[k];
    const ProblemNode& node = problem.nodes[static_cast<size_t>(s.node)];
    StageMetrics sm;
    sm.compute_ms = stage_compute_ms(problem, s);
    const DeviceCosts& device = problem.devices[static_cast<size_t>(node.device)];
    const size_t t = static_cast<size_t>(thread_index(device, s.threads));
    sm.wake_ms = device.wake_ms(t, sm.compute_ms);
    sm.hops_ms = device.hops_ms();
    sm.rate = sm.compute_ms > 0.0 ? s.replicas * 1000.0 / sm.compute_ms : std::numeric_limits<double>::infinity();
    sm.memory_bytes = stage_memory_bytes(problem, s);
    sm.out_bytes = problem.out_bytes[static_cast<size_t>(s.last + 1)];
    const int next = k + 1 < stages.size() ? stages[k + 1].node : problem.sink;
    sm.xfer_out_ms = problem.xfer_ms(s.node, next, sm.out_bytes);
    m.latency_ms += sm.compute_ms + sm.wake_ms + sm.hops_ms + sm.xfer_out_ms;
    m.throughput = std::min({m.throughput, sm.rate, problem.link_rate(s.node, next, sm.out_bytes)});
    m.cores += s.replicas * s.threads;
    if (violation.empty() && s.replicas * s.threads > node.cores) {
      violation = fmt::format("stage {} uses {} x {} threads on {}, which has {} cores", k + 1, s.replicas, s.threads,
                              node.name, node.cores);
    }
    if (violation.empty() && node_memory_bytes(device, sm.memory_bytes) > node.mem_bytes) {
      violation = fmt::format("stage {} needs {} bytes on {} (with its supervisor), which has {}", k + 1,
                              node_memory_bytes(device, sm.memory_bytes), node.name, node.mem_bytes);
    }
    m.stage.push_back(sm);
  }
  m.sink_hop_ms = sink_hop_ms(problem);
  m.latency_ms += m.sink_hop_ms;
  for (const Pin& pin : problem.pins) {
    for (const Stage& s : stages) {
      const bool overlaps = s.first <= pin.last && pin.first <= s.last;
      if (violation.empty() && overlaps && s.node != pin.node) {
        violation = fmt::format("layers {}..{} are pinned to {}", pin.first + 1, pin.last + 1,
                                problem.nodes[static_cast<size_t>(pin.node)].name);
      }
    }
  }
  if (violation.empty() && problem.slo_latency_ms && m.latency_ms > *problem.slo_latency_ms * (1.0 + 1e-12)) {
    violation = fmt::format("latency {:.3f} ms exceeds the SLO of {:.3f} ms", m.latency_ms, *problem.slo_latency_ms);
  }
  m.feasible = violation.empty();
  m.meets_window_rate = problem.window_rate <= 0.0 || m.throughput >= problem.window_rate * (1.0 - 1e-12);
  if (violation.empty() && !m.meets_window_rate) {
    violation = fmt::format("throughput {:.1f} windows/s is below the required {:.1f}", m.throughput, problem.window_rate);
  }
  m.violation = violation;
  return m;
}

bool feasible_for(Objective objective, const PlanMetrics& metrics) {
  return metrics.feasible && (objective == Objective::throughput || metrics.meets_window_rate);
}

std::optional<Objective> parse_objective(const std::string& name) {
  for (Objective objective : {Objective::latency, Objective::throughput, Objective::resources}) {
    if (name == objective_name(objective)) return objective;
  }
  return std::nullopt;
}

const char* objective_name(Objective objective) {
  switch (objective) {
    case Objective::latency: return "latency";
    case Objective::throughput: return "throughput";
    case Objective::resources: return "resources";
  }
  return "?";
}

double objective_value(Objective objective, const PlanMetrics& metrics) {
  switch (objective) {
    case Objective::latency: return metrics.latency_ms;
    case Objective::throughput: return metrics.throughput;
    case Objective::resources: return metrics.cores;
  }
  return 0.0;
}

}  // namespace hare::partition
