// The partition solver.
//
// Problem. A layer chain of L layers must be cut into K contiguous stages,
// stage k placed on a distinct node n_k with r_k replicas of t_k threads
// (r_k·t_k ≤ cores, t_k profiled), so as to optimize one of three objectives
// of the cost model (docs/design.md, "Cost model"): minimum latency subject
// to throughput ≥ λ; maximum throughput subject to latency ≤ SLO; or minimum
// total cores subject to both — always subject to memory per node and pins,
// with ties broken by latency, then fewer cores, then fewer stages.
//
// Formulation. A plan is a path through states (e, n, S): layers 1..e are
// placed, the last stage runs on node n, S is the set of nodes used so far.
// An edge (e, n, S) -> (j, m, S ∪ {m}), m ∉ S, is one stage running layers
// e+1..j on m with t threads; its cost is xfer(n, m, out[e]) + comp(m, e+1..j, t)
// + the runtime's per-stage overhead on m (DeviceCosts::stage_overhead_ms).
// Latency is the sum of edge costs (plus the source and sink transfers and
// the hop into the sink's process),
// cores the sum of r·t, stages the number of edges: all additive. Throughput
// is a bottleneck: the minimum of per-stage rates r·1000/comp and per-hop link
// rates, so "throughput ≥ θ" holds iff every element is ≥ θ and can be
// checked edge by edge. For a given θ the best replica count of a stage is
// the least r that reaches θ (latency does not depend on r; fewer cores win
// ties; memory grows with r), so r is not a search dimension.
//
// Algorithm. Dynamic programming over the states in order of e (the state
// graph is a DAG), labels compared lexicographically:
//   latency:    key (latency, cores, stages), filter θ = λ;
//   resources:  key (cores, latency, stages), filter θ = λ; with an SLO the
//               labels at a state form a Pareto set over (cores, latency),
//               since a cheaper but slower prefix may miss the SLO;
//   throughput: θ* = the largest candidate rate (every stage rate with the
//               most replicas that fit, every link rate) for which the
//               latency DP under filter θ* meets the SLO, found by binary
//               search (feasibility is monotone in θ); then the latency DP
//               under θ* gives the plan (its throughput is exactly θ*).
// For the N best plans each state keeps its N best labels (exact on a DAG).
// Pins restrict which (node, layer range) edges exist.
//
// Complexity. States: L·N·2^N; edges per state: N·L·T (T thread counts), so
// O(L²·N²·2^N·T) per DP, times log(#candidates) for throughput with an SLO.
// Exact up to exact_node_limit (10) nodes. Beyond that the same DP without
// S (nodes may repeat) gives a proven bound in O(L²·N²·T), and the exact DP
// runs on the 10 most promising nodes (those of the relaxed optimum, the
// source and the sink, then the fastest); the gap to the bound is reported.
//
// Worked example. Two layers (in 1000 B, out[1] = 100 B, out[2] = 10 B),
// nodes g (source and sink, 1 core, 1 ms per layer) and c (4 cores, 0.1 ms
// per layer), link g<->c 1 Mbit/s + 5 ms. Everything on g: 2 ms. Everything
// on c: 5 + 8 (1000 B) + 0.2 + 5 + 0.08 = 18.28 ms. Layer 1 on g, layer 2 on
// c: 1 + 5 + 0.8 + 0.1 + 5 + 0.08 = 11.98 ms. The latency objective keeps
// everything on g; with λ = 600 windows/s, g alone (500/s) is too slow and
// c must take part: the DP finds the split that meets λ with least latency.

#include "partition/solver.h"

#include "common/strings.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "common/error.h"

namespace hare::partition {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Label {
  double latency = 0.0;
  int cores = 0;
  int stages = 0;
  int32_t parent_state = -1;  // -1 = the start
  int32_t parent_label = -1;
  Stage stage;
};

enum class Mode {
  lexicographic,   // keep the best `top` labels by the objective's key
  pareto,          // keep labels not dominated in (cores, latency) by `top` others
};

// One DP run under a throughput filter θ.
class Dp {
 public:
  Dp(const Problem& problem, const std::vector<int>& allowed_nodes, bool relaxed, Objective key, Mode mode, int top,
     double theta)
      : p_(problem), relaxed_(relaxed), key_(key), mode_(mode), top_(top), theta_(theta) {
    L_ = problem.num_layers();
    nodes_ = allowed_nodes;
    M_ = static_cast<int>(nodes_.size());
    subsets_ = relaxed_ ? 1 : (1 << M_);
    states_.assign(static_cast<size_t>(subsets_) * M_ * L_, {});
    prefix_.resize(static_cast<size_t>(M_));
    pinned_.assign(static_cast<size_t>(L_), -1);
    pin_lo_.assign(static_cast<size_t>(M_), -1);
    pin_hi_.assign(static_cast<size_t>(M_), -1);
    for (const Pin& pin : p_.pins) {
      for (int i = pin.first; i <= pin.last; ++i) pinned_[static_cast<size_t>(i)] = pin.node;
    }
    for (int a = 0; a < M_; ++a) {
      const int node = nodes_[static_cast<size_t>(a)];
      const DeviceCosts& device = device_of(node);
      auto& rows = prefix_[static_cast<size_t>(a)];
      rows.assign(device.threads.size(), std::vector<double>(static_cast<size_t>(L_) + 1, 0.0));
      for (size_t t = 0; t < device.threads.size(); ++t) {
        for (int i = 0; i < L_; ++i) rows[t][static_cast<size_t>(i) + 1] = rows[t][static_cast<size_t>(i)] + device.latency_ms[static_cast<size_t>(i)][t];
      }
      for (const Pin& pin : p_.pins) {
        if (pin.node != node) continue;
        pin_lo_[static_cast<size_t>(a)] = pin_lo_[static_cast<size_t>(a)] < 0 ? pin.first : std::min(pin_lo_[static_cast<size_t>(a)], pin.first);
        pin_hi_[static_cast<size_t>(a)] = std::max(pin_hi_[static_cast<size_t>(a)], pin.last);
      }
    }
  }

  // Runs the DP; returns complete plans (best first, up to `top`, or all
  // Pareto-optimal ones in pareto mode), with their latency including the sink hop.
  std::vector<std::pair<Label, std::vector<Stage>>> run() {
    // Start: the first stage, from the source.
    Label start;
    expand(-1, start, -1, p_.source, 0);
    for (int e = 0; e < L_ - 1; ++e) {
      for (int s = 0; s < subsets_; ++s) {
        for (int a = 0; a < M_; ++a) {
          const int32_t index = state_index(s, a, e);
          auto& labels = states_[static_cast<size_t>(index)];
          for (size_t l = 0; l < labels.size(); ++l) {
            expand(index, labels[l], static_cast<int32_t>(l), nodes_[static_cast<size_t>(a)], s);
          }
        }
      }
    }
    // Finish: the hop to the sink.
    std::vector<Label> finals;
    std::vector<std::pair<int32_t, int32_t>> where;
    for (int s = 0; s < subsets_; ++s) {
      for (int a = 0; a < M_; ++a) {
        const int32_t index = state_index(s, a, L_ - 1);
        const auto& labels = states_[static_cast<size_t>(index)];
        const int node = nodes_[static_cast<size_t>(a)];
        const int64_t bytes = p_.out_bytes[static_cast<size_t>(L_)];
        if (p_.link_rate(node, p_.sink, bytes) < theta_ * (1 - 1e-12)) continue;
        for (size_t l = 0; l < labels.size(); ++l) {
          Label final_label = labels[l];
          final_label.latency += p_.xfer_ms(node, p_.sink, bytes) + sink_hop_ms(p_);
          if (p_.slo_latency_ms && final_label.latency > *p_.slo_latency_ms * (1 + 1e-12)) continue;
          final_label.parent_state = index;
          final_label.parent_label = static_cast<int32_t>(l);
          finals.push_back(final_label);
        }
      }
    }
    std::vector<size_t> order(finals.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return less(finals[x], finals[y]); });
    std::vector<std::pair<Label, std::vector<Stage>>> out;
    for (size_t i = 0; i < order.size() && static_cast<int>(out.size()) < top_; ++i) {
      const Label& final_label = finals[order[i]];
      std::vector<Stage> stages;
      int32_t state = final_label.parent_state;
      int32_t label = final_label.parent_label;
      while (state >= 0) {
        const Label& l = states_[static_cast<size_t>(state)][static_cast<size_t>(label)];
        stages.push_back(l.stage);
        state = l.parent_state;
        label = l.parent_label;
      }
      std::reverse(stages.begin(), stages.end());
      out.emplace_back(final_label, std::move(stages));
    }
    return out;
  }

  long long labels_created() const { return created_; }

 private:
  const DeviceCosts& device_of(int node) const {
    return p_.devices[static_cast<size_t>(p_.nodes[static_cast<size_t>(node)].device)];
  }
  int32_t state_index(int subset, int a, int e) const { return (subset * M_ + a) * L_ + e; }

  bool less(const Label& x, const Label& y) const {
    return better(key_, Rank{0.0, x.latency, x.cores, x.stages}, Rank{0.0, y.latency, y.cores, y.stages});
  }

  void insert(int32_t index, const Label& label) {
    ++created_;
    auto& labels = states_[static_cast<size_t>(index)];
    if (mode_ == Mode::lexicographic) {
      if (static_cast<int>(labels.size()) == top_ && !less(label, labels.back())) return;
      const auto at = std::upper_bound(labels.begin(), labels.end(), label, [&](const Label& a, const Label& b) { return less(a, b); });
      labels.insert(at, label);
      if (static_cast<int>(labels.size()) > top_) labels.pop_back();
      return;
    }
    // Pareto over (cores, latency): drop the new label if `top` existing ones
    // dominate it; drop existing ones that `top` labels (with it) dominate.
    auto dominates = [](const Label& a, const Label& b) {
      return a.cores <= b.cores && a.latency <= b.latency * (1 + 1e-12) && a.stages <= b.stages;
    };
    int dominated_by = 0;
    for (const Label& other : labels) dominated_by += dominates(other, label) ? 1 : 0;
    if (dominated_by >= top_) return;
    labels.push_back(label);
    if (top_ == 1) {
      labels.erase(std::remove_if(labels.begin(), labels.end() - 1, [&](const Label& other) { return dominates(label, other); }),
                   labels.end() - 1);
    }
  }

  // All stages starting after layer `e_prev` (-1 for the first) from `node`.
  void expand(int32_t from_index, const Label& from, int32_t from_label, int node, int subset) {
    const int first = from_index < 0 ? 0 : (from_index % L_) + 1;
    const int64_t in_bytes = p_.out_bytes[static_cast<size_t>(first)];
    for (int a = 0; a < M_; ++a) {
      const int m = nodes_[static_cast<size_t>(a)];
      if (!relaxed_ && (subset & (1 << a)) != 0) continue;
      if (from_index >= 0 && m == node && relaxed_) continue;  // a stage boundary implies a new node
      const size_t ai = static_cast<size_t>(a);
      if (pin_lo_[ai] >= 0 && first > pin_lo_[ai]) continue;  // m's pinned layers would be split
      if (p_.link_rate(node, m, in_bytes) < theta_ * (1 - 1e-12)) continue;
      const double hop_ms = p_.xfer_ms(node, m, in_bytes);
      const ProblemNode& target = p_.nodes[static_cast<size_t>(m)];
      const DeviceCosts& device = device_of(m);
      const int next_subset = relaxed_ ? 0 : (subset | (1 << a));
      for (size_t t = 0; t < device.threads.size(); ++t) {
        const int threads = device.threads[t];
        if (threads > target.cores) continue;
        int64_t params = 0;
        int64_t activation = p_.out_bytes[static_cast<size_t>(first)];
        for (int j = first; j < L_; ++j) {
          if (pinned_[static_cast<size_t>(j)] >= 0 && pinned_[static_cast<size_t>(j)] != m) break;
          params += p_.param_bytes[static_cast<size_t>(j)];
          activation = std::max(activation, p_.out_bytes[static_cast<size_t>(j) + 1]);
          const double comp = prefix_[ai][t][static_cast<size_t>(j) + 1] - prefix_[ai][t][static_cast<size_t>(first)];
          int replicas = 1;
          if (theta_ > 0.0 && comp > 0.0) {
            const double needed = std::ceil(theta_ * comp / 1000.0 * (1 - 1e-12));
            if (needed * threads > target.cores) break;  // comp only grows with j
            replicas = std::max(1, static_cast<int>(needed));
          }
          if (replicas * threads > target.cores) break;
          const int64_t memory = node_memory_bytes(
              device, stage_memory_bytes(device, replicas, j - first + 1, L_, params, activation));
          if (memory > target.mem_bytes) break;  // memory only grows with j
          const double latency = from.latency + hop_ms + comp + device.stage_overhead_ms(t, comp);
          if (p_.slo_latency_ms && latency > *p_.slo_latency_ms * (1 + 1e-12)) break;
          if (pin_hi_[ai] >= 0 && j < pin_hi_[ai]) continue;  // must hold all of m's pinned layers
          Label label;
          label.latency = latency;
          label.cores = from.cores + replicas * threads;
          label.stages = from.stages + 1;
          label.parent_state = from_index;
          label.parent_label = from_label;
          label.stage = Stage{first, j, {Member{m, replicas, threads}}};
          insert(state_index(next_subset, a, j), label);
        }
      }
    }
  }

  const Problem& p_;
  bool relaxed_;
  Objective key_;
  Mode mode_;
  int top_;
  double theta_;
  int L_ = 0;
  int M_ = 0;
  int subsets_ = 1;
  std::vector<int> nodes_;
  std::vector<std::vector<Label>> states_;
  std::vector<std::vector<std::vector<double>>> prefix_;  // [node][thread][layer prefix]
  std::vector<int> pinned_;
  std::vector<int> pin_lo_;
  std::vector<int> pin_hi_;
  long long created_ = 0;
};

struct Run {
  std::vector<std::pair<Label, std::vector<Stage>>> plans;
  long long labels = 0;
  double theta = 0.0;  // throughput objective: the best throughput θ*
};

Run run_dp(const Problem& problem, const std::vector<int>& nodes, bool relaxed, Objective key, Mode mode, int top,
           double theta) {
  Dp dp(problem, nodes, relaxed, key, mode, top, theta);
  Run run;
  run.plans = dp.run();
  run.labels = dp.labels_created();
  return run;
}

// Every rate an element of a plan can have: each stage with each replica
// count that fits its node, each hop. A plan's throughput is the least of
// its elements' rates, so it is one of these: θ* is, and so is the
// throughput of every plan of the N best.
std::vector<double> throughput_candidates(const Problem& p, const std::vector<int>& nodes) {
  std::vector<double> out;
  const int L = p.num_layers();
  for (int m : nodes) {
    const ProblemNode& node = p.nodes[static_cast<size_t>(m)];
    const DeviceCosts& device = p.devices[static_cast<size_t>(node.device)];
    for (size_t t = 0; t < device.threads.size(); ++t) {
      const int threads = device.threads[t];
      if (threads > node.cores) continue;
      for (int s = 0; s < L; ++s) {
        double comp = 0.0;
        int64_t params = 0;
        int64_t activation = p.out_bytes[static_cast<size_t>(s)];
        for (int j = s; j < L; ++j) {
          comp += device.latency_ms[static_cast<size_t>(j)][t];
          params += p.param_bytes[static_cast<size_t>(j)];
          activation = std::max(activation, p.out_bytes[static_cast<size_t>(j) + 1]);
          const int by_memory = max_replicas_by_memory(device, j - s + 1, L, params, activation, node.mem_bytes);
          const int replicas = std::min(node.cores / threads, by_memory);
          if (replicas < 1) break;
          for (int r = 1; r <= replicas; ++r) out.push_back(comp > 0.0 ? r * 1000.0 / comp : kInf);
        }
      }
    }
    for (int other : nodes) {
      if (other == m) continue;
      for (int e = 0; e <= L; ++e) out.push_back(p.link_rate(m, other, p.out_bytes[static_cast<size_t>(e)]));
    }
    for (int e : {0, L}) {
      out.push_back(p.link_rate(p.source, m, p.out_bytes[static_cast<size_t>(e)]));
      out.push_back(p.link_rate(m, p.sink, p.out_bytes[static_cast<size_t>(e)]));
    }
  }
  out.push_back(kInf);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Solves on a node subset. Returns plans (possibly empty = infeasible).
Run solve_on(const Problem& problem, const std::vector<int>& nodes, bool relaxed, Objective objective, int top) {
  const bool slo = problem.slo_latency_ms.has_value();
  if (objective == Objective::latency) {
    return run_dp(problem, nodes, relaxed, Objective::latency, Mode::lexicographic, top, problem.window_rate);
  }
  if (objective == Objective::resources) {
    if (slo) {
      // Fast path, exact: if the cheapest plans without the SLO meet it, they
      // are the cheapest with it. Only otherwise are Pareto labels needed.
      Problem loose = problem;
      loose.slo_latency_ms.reset();
      Run run = run_dp(loose, nodes, relaxed, Objective::resources, Mode::lexicographic, top, problem.window_rate);
      bool all_meet = run.plans.size() == static_cast<size_t>(top);
      for (const auto& plan : run.plans) all_meet = all_meet && plan.first.latency <= *problem.slo_latency_ms * (1 + 1e-12);
      if (all_meet || run.plans.empty()) return run;
    }
    return run_dp(problem, nodes, relaxed, Objective::resources, slo ? Mode::pareto : Mode::lexicographic, top,
                  problem.window_rate);
  }
  // Throughput: the largest candidate θ that is feasible, by binary search.
  const std::vector<double> candidates = throughput_candidates(problem, nodes);
  long long labels = 0;
  auto feasible = [&](double theta) {
    Run run = run_dp(problem, nodes, relaxed, Objective::latency, Mode::lexicographic, 1, theta);
    labels += run.labels;
    return !run.plans.empty();
  };
  int lo = -1;  // largest index known feasible
  int hi = static_cast<int>(candidates.size());  // smallest index known infeasible
  if (!feasible(0.0)) return Run{{}, labels};
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (feasible(candidates[static_cast<size_t>(mid)])) lo = mid;
    else hi = mid;
  }
  // The N best, by throughput and then latency: level by level downwards.
  // Every plan's throughput is a candidate, and the DP under filter θ lists
  // each plan in its fewest-replica form for θ. With fewer than N plans
  // listed (all those of higher throughput), the DP's N best by latency
  // under θ hold a plan not yet listed iff one of throughput ≥ θ exists:
  // monotone in θ, so a binary search finds the next level, and there the
  // new plans in latency order are that level's best.
  Run result;
  result.theta = lo >= 0 ? candidates[static_cast<size_t>(lo)] : 0.0;
  const auto new_plans = [&](double theta) {
    Run run = run_dp(problem, nodes, relaxed, Objective::latency, Mode::lexicographic, top, theta);
    labels += run.labels;
    std::vector<std::pair<Label, std::vector<Stage>>> fresh;
    for (auto& plan : run.plans) {
      const bool seen = std::any_of(result.plans.begin(), result.plans.end(),
                                    [&](const auto& have) { return have.second == plan.second; });
      if (!seen) fresh.push_back(std::move(plan));
    }
    return fresh;
  };
  int level = lo;  // candidates above `level` hold no plan not yet listed
  while (static_cast<int>(result.plans.size()) < top && level >= -1) {
    // The largest i <= level whose θ gives a new plan (i = -1: θ = 0):
    // galloping down from `level` (levels are often adjacent; θ* itself is
    // found at once), then bisecting the bracket. Probes are kept for this
    // level only: listing plans changes what is new.
    std::map<int, std::vector<std::pair<Label, std::vector<Stage>>>> probed;
    const auto has_new = [&](int i) {
      auto it = probed.find(i);
      if (it == probed.end()) {
        it = probed.emplace(i, new_plans(i >= 0 ? candidates[static_cast<size_t>(i)] : 0.0)).first;
      }
      return !it->second.empty();
    };
    int empty_above = level + 1;  // known: no new plan at this index or above
    int found = -2;
    for (int step = 1, i = level;; step *= 2) {
      if (has_new(i)) {
        found = i;
        break;
      }
      empty_above = i;
      if (i == -1) break;
      i = std::max(-1, level - (2 * step - 1));
    }
    if (found == -2) break;  // every plan is listed
    int low = found + 1;
    int high = empty_above - 1;
    while (low <= high) {
      const int mid = low + (high - low + 1) / 2;
      if (has_new(mid)) {
        found = mid;
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    for (auto& plan : probed.at(found)) {
      if (static_cast<int>(result.plans.size()) < top) result.plans.push_back(std::move(plan));
    }
    level = found - 1;
  }
  result.labels = labels;
  return result;
}

std::string mb(int64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

// Finds the constraint that makes the instance infeasible, by relaxing one
// at a time, and says it in the user's terms.
Error explain_infeasible(const Problem& original, Objective objective, const std::vector<int>& nodes) {
  // Maximizing throughput has no λ constraint.
  Problem problem = original;
  if (objective == Objective::throughput) problem.window_rate = 0.0;
  const int L = problem.num_layers();
  // A layer that fits no node at all (one replica, alone in its stage).
  for (int i = 0; i < L; ++i) {
    int64_t best_need = std::numeric_limits<int64_t>::max();
    int64_t largest = 0;
    std::string largest_node;
    for (int m : nodes) {
      const ProblemNode& node = problem.nodes[static_cast<size_t>(m)];
      const DeviceCosts& device = problem.devices[static_cast<size_t>(node.device)];
      const int64_t need = node_memory_bytes(device, stage_memory_bytes(problem, Stage{i, i, {Member{m, 1, 1}}}, Member{m, 1, 1}));
      best_need = std::min(best_need, need);
      if (node.mem_bytes > largest) {
        largest = node.mem_bytes;
        largest_node = node.name;
      }
    }
    if (best_need > largest) {
      return input_error(Location{}, "infeasible: layer {} needs {} (executor + parameters + activations); no node has it "
                         "(largest: {} on {})", problem.layer_names[static_cast<size_t>(i)], mb(best_need), mb(largest), largest_node);
    }
  }
  auto solvable = [&](const Problem& relaxed) {
    return !solve_on(relaxed, nodes, false, Objective::latency, 1).plans.empty();
  };
  if (problem.window_rate > 0.0) {
    Problem relaxed = problem;
    relaxed.window_rate = 0.0;
    if (solvable(relaxed)) {
      // The best throughput reachable under the other constraints.
      Problem best = problem;
      best.window_rate = 0.0;
      const Run run = solve_on(best, nodes, false, Objective::throughput, 1);
      double reachable = 0.0;
      if (!run.plans.empty()) reachable = evaluate(best, Plan{run.plans.front().second}).throughput;
      return input_error(Location{}, "infeasible: the workload needs {:.1f} windows/s; the best plan reaches {:.1f}{}",
                         problem.window_rate, reachable,
                         problem.slo_latency_ms ? fmt::format(" within the {} ms SLO", *problem.slo_latency_ms) : "")
          .with_hint("add nodes or cores, lower the number of streams, or relax the SLO");
    }
  }
  if (problem.slo_latency_ms) {
    Problem relaxed = problem;
    relaxed.slo_latency_ms.reset();
    if (solvable(relaxed)) {
      const Run run = solve_on(relaxed, nodes, false, Objective::latency, 1);
      return input_error(Location{}, "infeasible: the latency SLO is {} ms; the fastest plan that meets the other "
                         "constraints takes {:.3f} ms", *problem.slo_latency_ms, run.plans.front().first.latency)
          .with_hint("relax slo.latency_ms, or use faster nodes or links");
    }
  }
  if (!problem.pins.empty()) {
    Problem relaxed = problem;
    relaxed.pins.clear();
    if (solvable(relaxed)) {
      return input_error(Location{}, "infeasible: the pins cannot be met (without them a plan exists)")
          .with_hint("a pinned node must hold all its pinned layers in one stage, within its cores and memory");
    }
  }
  // No one constraint alone: the least set of them that, relaxed together,
  // leaves a plan. Each binds on its own, so each is said with its best.
  enum Kind { kRate, kSlo, kPins };
  std::vector<Kind> present;
  if (problem.window_rate > 0.0) present.push_back(kRate);
  if (problem.slo_latency_ms) present.push_back(kSlo);
  if (!problem.pins.empty()) present.push_back(kPins);
  const auto relax = [&](Problem p, const std::vector<Kind>& kinds) {
    for (Kind kind : kinds) {
      if (kind == kRate) p.window_rate = 0.0;
      if (kind == kSlo) p.slo_latency_ms.reset();
      if (kind == kPins) p.pins.clear();
    }
    return p;
  };
  for (size_t size = 2; size <= present.size(); ++size) {
    for (unsigned mask = 0; mask < (1u << present.size()); ++mask) {
      std::vector<Kind> set;
      for (size_t k = 0; k < present.size(); ++k) {
        if (mask & (1u << k)) set.push_back(present[k]);
      }
      if (set.size() != size || !solvable(relax(problem, set))) continue;
      std::vector<std::string> clauses;
      for (Kind kind : set) {
        // This one kept, the others of the set relaxed: what the best plan gets.
        std::vector<Kind> others;
        for (Kind other : set) {
          if (other != kind) others.push_back(other);
        }
        const Problem alone = relax(relax(problem, others), {kind});
        if (kind == kRate) {
          const Run run = solve_on(alone, nodes, false, Objective::throughput, 1);
          const double reachable = run.plans.empty() ? 0.0 : evaluate(alone, Plan{run.plans.front().second}).throughput;
          clauses.push_back(fmt::format("the workload's {:.1f} windows/s (the best plan reaches {:.1f})",
                                        problem.window_rate, reachable));
        } else if (kind == kSlo) {
          const Run run = solve_on(alone, nodes, false, Objective::latency, 1);
          clauses.push_back(fmt::format("the {} ms latency SLO (the fastest plan takes {:.3f} ms)",
                                        *problem.slo_latency_ms, run.plans.empty() ? 0.0 : run.plans.front().first.latency));
        } else {
          clauses.push_back("the pins");
        }
      }
      return input_error(Location{}, "infeasible: {} each rule out every plan on their own; relaxing fewer than all "
                         "{} of them is not enough",
                         join(clauses, " and "), set.size())
          .with_hint("relax each of them: more nodes or cores for the rate, faster nodes or links for the SLO, or "
                     "other pins");
    }
  }
  return input_error(Location{}, "infeasible: no placement fits the nodes' memory and cores with these constraints");
}

}  // namespace

SolveResult solve(const Problem& problem, const SolveOptions& options) {
  if (problem.num_layers() == 0 || problem.num_nodes() == 0) throw input_error(Location{}, "nothing to partition");
  const int top = std::max(1, options.top);
  SolveResult result;
  std::vector<int> all(static_cast<size_t>(problem.num_nodes()));
  std::iota(all.begin(), all.end(), 0);

  std::vector<int> nodes = all;
  if (problem.num_nodes() > options.exact_node_limit) {
    // Relaxation (nodes may repeat): a proven bound, and a guide to the nodes.
    const Run relaxed = solve_on(problem, all, true, options.objective, 1);
    result.labels += relaxed.labels;
    if (relaxed.plans.empty()) throw explain_infeasible(problem, options.objective, all);
    result.bound = options.objective == Objective::throughput
                       ? relaxed.theta
                       : (options.objective == Objective::latency ? relaxed.plans.front().first.latency
                                                                  : relaxed.plans.front().first.cores);
    // The exact DP's work grows as 2^M·M²·L²: keep it to a few seconds.
    const double layers = problem.num_layers();
    int limit = options.exact_node_limit;
    const double budget = options.objective == Objective::latency ? 4e8 : 1e8;
    while (limit > 2 && std::pow(2.0, limit) * limit * limit * layers * layers > budget) --limit;
    std::vector<int> chosen;
    auto add = [&](int node) {
      if (static_cast<int>(chosen.size()) < limit &&
          std::find(chosen.begin(), chosen.end(), node) == chosen.end()) {
        chosen.push_back(node);
      }
    };
    add(problem.source);
    add(problem.sink);
    for (const Pin& pin : problem.pins) add(pin.node);
    for (const Stage& s : relaxed.plans.front().second) {
      for (const Member& member : s.members) add(member.node);
    }
    // Then the fastest nodes: least single-thread time for the whole model per core.
    std::vector<std::pair<double, int>> speed;
    for (int m : all) {
      const ProblemNode& node = problem.nodes[static_cast<size_t>(m)];
      const DeviceCosts& device = problem.devices[static_cast<size_t>(node.device)];
      double total = 0.0;
      for (const auto& row : device.latency_ms) total += row.front();
      speed.emplace_back(total / node.cores, m);
    }
    std::sort(speed.begin(), speed.end());
    for (const auto& entry : speed) add(entry.second);
    std::sort(chosen.begin(), chosen.end());
    nodes = chosen;
    result.exact = false;
  }

  Run run = solve_on(problem, nodes, false, options.objective, top);
  result.labels += run.labels;
  if (run.plans.empty()) throw explain_infeasible(problem, options.objective, nodes);
  for (auto& [label, stages] : run.plans) {
    Plan plan{stages};
    result.metrics.push_back(evaluate(problem, plan));
    result.plans.push_back(std::move(plan));
  }
  if (result.exact) {
    result.method = fmt::format("exact dynamic program over {} nodes", problem.num_nodes());
  } else {
    const double value = objective_value(options.objective, result.metrics.front());
    result.gap = options.objective == Objective::throughput ? (result.bound - value) / std::max(1e-12, result.bound)
                                                            : (value - result.bound) / std::max(1e-12, result.bound);
    result.method = fmt::format("heuristic: exact dynamic program on {} of {} nodes; {} bound {:.6g} (gap {:.2f}%)",
                                nodes.size(), problem.num_nodes(),
                                options.objective == Objective::throughput ? "upper" : "lower", result.bound,
                                result.gap * 100.0);
  }
  return result;
}

}  // namespace hare::partition
