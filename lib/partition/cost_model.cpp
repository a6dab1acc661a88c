#include "partition/cost_model.h"

#include <algorithm>
#include <cmath>

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

double stage_compute_ms(const Problem& problem, const Stage& stage, const Member& member) {
  const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(member.node)].device)];
  const int t = thread_index(device, member.threads);
  double sum = 0.0;
  for (int i = stage.first; i <= stage.last; ++i) sum += device.latency_ms[static_cast<size_t>(i)][static_cast<size_t>(t)];
  return sum;
}

double sink_hop_ms(const Problem& problem) {
  return problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(problem.sink)].device)].hop_ms;
}

int64_t stage_memory_bytes(const Problem& problem, const Stage& stage, const Member& member) {
  const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(member.node)].device)];
  int64_t params = 0;
  for (int i = stage.first; i <= stage.last; ++i) params += problem.param_bytes[static_cast<size_t>(i)];
  // max over i = s-1..e of out_bytes[i] in 1-based terms (docs/design.md,
  // "Memory and cores"), where out_bytes[0] is the input: with 0-based
  // layers that is out_bytes[first..last+1].
  int64_t activation = 0;
  for (int i = stage.first; i <= stage.last + 1; ++i) activation = std::max(activation, problem.out_bytes[static_cast<size_t>(i)]);
  return stage_memory_bytes(device, member.replicas, stage.last - stage.first + 1, problem.num_layers(), params, activation);
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
  // Each window crosses one link per hop, to a member drawn by its share:
  // the mean over the windows, rounded.
  double bytes = 0.0;
  const StageMetrics first = stage_metrics(p, plan.stages.front());
  for (size_t b = 0; b < first.member.size(); ++b) {
    const int node = plan.stages.front().members[b].node;
    if (node != p.source) bytes += first.member[b].share * static_cast<double>(p.wire_bytes(p.source, node, p.out_bytes[0]));
  }
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const Stage& s = plan.stages[k];
    const auto at_source = std::find_if(s.members.begin(), s.members.end(), [&](const Member& m) { return m.node == p.source; });
    if (at_source == s.members.end()) continue;
    const double from_share = stage_metrics(p, s).member[static_cast<size_t>(at_source - s.members.begin())].share;
    const int64_t out = p.out_bytes[static_cast<size_t>(s.last) + 1];
    if (k + 1 == plan.stages.size()) {
      if (p.sink != p.source) bytes += from_share * static_cast<double>(p.wire_bytes(p.source, p.sink, out));
      continue;
    }
    const StageMetrics next = stage_metrics(p, plan.stages[k + 1]);
    for (size_t c = 0; c < next.member.size(); ++c) {
      const int node = plan.stages[k + 1].members[c].node;
      if (node != p.source) bytes += from_share * next.member[c].share * static_cast<double>(p.wire_bytes(p.source, node, out));
    }
  }
  return static_cast<int64_t>(std::llround(bytes));
}

StageMetrics stage_metrics(const Problem& problem, const Stage& stage) {
  StageMetrics sm;
  sm.out_bytes = problem.out_bytes[static_cast<size_t>(stage.last + 1)];
  for (const Member& member : stage.members) {
    const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(member.node)].device)];
    const size_t t = static_cast<size_t>(thread_index(device, member.threads));
    MemberMetrics mm;
    mm.compute_ms = stage_compute_ms(problem, stage, member);
    mm.wake_ms = device.wake_ms(t, mm.compute_ms);
    mm.hops_ms = device.hops_ms();
    mm.rate = mm.compute_ms > 0.0 ? member.replicas * 1000.0 / mm.compute_ms : std::numeric_limits<double>::infinity();
    mm.memory_bytes = stage_memory_bytes(problem, stage, member);
    mm.latency_ms = mm.compute_ms + mm.wake_ms + mm.hops_ms;
    mm.loaded_latency_ms = mm.latency_ms;
    sm.rate += mm.rate;
    sm.member.push_back(mm);
  }
  // Windows go to members in proportion to their capacity; members that take
  // no time at all (capacity infinite) share them evenly.
  const auto infinite = std::count_if(sm.member.begin(), sm.member.end(), [](const MemberMetrics& mm) { return std::isinf(mm.rate); });
  size_t worst = 0;
  for (size_t b = 0; b < sm.member.size(); ++b) {
    MemberMetrics& mm = sm.member[b];
    mm.share = infinite > 0 ? (std::isinf(mm.rate) ? 1.0 / static_cast<double>(infinite) : 0.0) : mm.rate / sm.rate;
    if (mm.loaded_latency_ms > sm.member[worst].loaded_latency_ms) worst = b;
    sm.memory_bytes = std::max(sm.memory_bytes, mm.memory_bytes);
  }
  if (!sm.member.empty()) {
    sm.compute_ms = sm.member[worst].compute_ms;
    sm.wake_ms = sm.member[worst].wake_ms;
    sm.hops_ms = sm.member[worst].hops_ms;
    sm.queue_ms = sm.member[worst].queue_ms;
  }
  return sm;
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
    if (s.members.empty()) return invalid("a stage has no node");
    for (const Member& member : s.members) {
      if (member.node < 0 || member.node >= problem.num_nodes()) return invalid("unknown node");
      if (used[static_cast<size_t>(member.node)]) {
        return invalid(fmt::format("node {} hosts two stages", problem.nodes[static_cast<size_t>(member.node)].name));
      }
      used[static_cast<size_t>(member.node)] = true;
      const DeviceCosts& device = problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(member.node)].device)];
      if (thread_index(device, member.threads) < 0) return invalid(fmt::format("{} threads were not profiled", member.threads));
      if (member.replicas < 1) return invalid("replicas must be at least 1");
    }
    expected = s.last + 1;
  }
  if (expected != layers) return invalid("stages do not cover every layer");
  m.valid = true;

  const auto& stages = plan.stages;
  m.stages = static_cast<int>(stages.size());
  for (const Stage& s : stages) m.stage.push_back(stage_metrics(problem, s));
  // Hops between consecutive stages: every pair of their members is a link
  // some window takes. Its time is the worst pair's; every link must carry
  // the whole stream (an approximation: a member gets only its share).
  const auto hop = [&](const std::vector<int>& from, const std::vector<int>& to, int64_t bytes, double* worst_ms,
                       std::vector<double>* out_ms, std::vector<double>* in_ms) {
    for (size_t a = 0; a < from.size(); ++a) {
      for (size_t b = 0; b < to.size(); ++b) {
        const double ms = problem.xfer_ms(from[a], to[b], bytes);
        *worst_ms = std::max(*worst_ms, ms);
        if (out_ms) (*out_ms)[a] = std::max((*out_ms)[a], ms);
        if (in_ms) (*in_ms)[b] = std::max((*in_ms)[b], ms);
        m.throughput = std::min(m.throughput, problem.link_rate(from[a], to[b], bytes));
      }
    }
  };
  const auto nodes_of = [](const Stage& s) {
    std::vector<int> nodes;
    for (const Member& member : s.members) nodes.push_back(member.node);
    return nodes;
  };
  m.throughput = std::numeric_limits<double>::infinity();
  std::vector<double> in_ms(stages.front().members.size(), 0.0);
  hop({problem.source}, nodes_of(stages.front()), problem.out_bytes[0], &m.xfer_in_ms, nullptr, &in_ms);
  m.idle_latency_ms = m.xfer_in_ms;
  m.latency_ms = m.xfer_in_ms;
  double capacity = std::numeric_limits<double>::infinity();  // of the busiest stage
  std::string violation;
  for (size_t k = 0; k < stages.size(); ++k) {
    const Stage& s = stages[k];
    StageMetrics& sm = m.stage[k];
    const bool last = k + 1 == stages.size();
    const std::vector<int> next = last ? std::vector<int>{problem.sink} : nodes_of(stages[k + 1]);
    std::vector<double> out_ms(s.members.size(), 0.0);
    std::vector<double> next_in_ms(next.size(), 0.0);
    hop(nodes_of(s), next, sm.out_bytes, &sm.xfer_out_ms, &out_ms, &next_in_ms);
    double idle_ms = 0.0;
    double loaded_ms = 0.0;
    for (size_t b = 0; b < s.members.size(); ++b) {
      const Member& member = s.members[b];
      MemberMetrics& mm = sm.member[b];
      mm.xfer_in_ms = in_ms[b];
      mm.xfer_out_ms = out_ms[b];
      idle_ms = std::max(idle_ms, mm.latency_ms);
      loaded_ms = std::max(loaded_ms, mm.loaded_latency_ms);
      m.cores += member.replicas * member.threads;
      const ProblemNode& node = problem.nodes[static_cast<size_t>(member.node)];
      const DeviceCosts& device = problem.devices[static_cast<size_t>(node.device)];
      if (violation.empty() && member.replicas * member.threads > node.cores) {
        violation = fmt::format("stage {} uses {} x {} threads on {}, which has {} cores", k + 1, member.replicas,
                                member.threads, node.name, node.cores);
      }
      if (violation.empty() && node_memory_bytes(device, mm.memory_bytes) > node.mem_bytes) {
        violation = fmt::format("stage {} needs {} bytes on {} (with its supervisor), which has {}", k + 1,
                                node_memory_bytes(device, mm.memory_bytes), node.name, node.mem_bytes);
      }
    }
    in_ms = next_in_ms;
    m.idle_latency_ms += idle_ms + sm.xfer_out_ms;
    m.latency_ms += loaded_ms + sm.xfer_out_ms;
    m.throughput = std::min(m.throughput, sm.rate);
    capacity = std::min(capacity, sm.rate);
  }
  m.sink_hop_ms = sink_hop_ms(problem);
  m.idle_latency_ms += m.sink_hop_ms;
  m.latency_ms += m.sink_hop_ms;
  m.utilization = problem.window_rate > 0.0 ? problem.window_rate / capacity : 0.0;
  for (const Pin& pin : problem.pins) {
    for (const Stage& s : stages) {
      const bool overlaps = s.first <= pin.last && pin.first <= s.last;
      const bool member = std::any_of(s.members.begin(), s.members.end(), [&](const Member& mb) { return mb.node == pin.node; });
      if (violation.empty() && overlaps && !member) {
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
