// The partition solver.
//
// Problem. A layer chain of L layers must be cut into K contiguous stages,
// each run by a group of one or more nodes (every node in at most one
// stage), so as to optimize one of three objectives of the cost model
// (docs/design.md, "Cost model"): minimum loaded latency subject to
// throughput ≥ λ; maximum throughput subject to latency ≤ SLO; or minimum
// total cores subject to both — always subject to memory per node, pins and
// no stage overloaded at λ, with ties broken by latency, then fewer cores,
// then fewer stages.
//
// Search space. A stage on one node chooses its thread count t (profiled,
// ≤ cores) and replicas r (r·t ≤ cores, within memory) freely. With λ = 0
// latency does not depend on r, and the least r that reaches the
// throughput filter θ below is the only one worth listing (fewer cores win
// ties; memory grows with r). With λ > 0, r is searched from that least r
// (and the least with utilization < 1) up to the most that fit: more
// replicas shorten the queue at the cost of cores. A group of ≥ 2 nodes runs
// one thread count t, profiled on every member, and each member runs as many
// replicas as fit: r_b = min(⌊cores_b/t⌋, what its memory holds); a node
// where not even one fits cannot join. That is the space the brute force in
// tests/partition/solver_test.cpp enumerates; "exact" means exact over it.
//
// Formulation. A stage's latency is its worst member's (compute, wake-up,
// hops and queue: all fixed once λ is), the transfer into it the worst link
// between the previous stage's members and its own: so a plan is a path
// through states (e, G, S): layers 1..e are placed, the last stage runs on
// group G, S ⊇ G is every node used so far. Each step factors in two:
//   transfer: (e, G', S) -> [e, G, S ∪ G], G ∩ S = ∅, costs the worst link
//             G' -> G for out[e] (and needs each link's rate ≥ θ);
//   compute:  [e, G, S] -> (j, G, S), layers e+1..j on G at t threads.
// Latency, cores and stages add along the path; throughput is the least of
// the stages' capacities (Σ of members' r·1000/S) and the links' rates, so
// "throughput ≥ θ" is checked step by step. The figures of a group for
// (layers, G, t) do not depend on the path: they are computed once per solve
// (Space::group_runs) with the cost model's own price_member.
//
// Algorithm. Dynamic programming over the states in order of e (a DAG),
// labels compared lexicographically:
//   latency:    key (latency, cores, stages), filter θ = λ;
//   resources:  key (cores, latency, stages), filter θ = λ; with an SLO the
//               labels at a state form a Pareto set over (cores, latency),
//               since a cheaper but slower prefix may miss the SLO (the
//               heuristic, beyond exact_node_limit nodes, first keeps the
//               least cores per state within the SLO, Pareto only if that
//               finds nothing: the Pareto sets made 200 x 16 take 38 s);
//   throughput: θ* = the largest candidate rate (every stage capacity a
//               single node or a group can have, every link rate) for which
//               the latency DP under filter θ* has a plan, found by binary
//               search (feasibility is monotone in θ; a feasible probe jumps
//               to its plan's own throughput); the N best are then found
//               level by level downwards (solve_on).
// For the N best plans each state keeps its N best labels (exact on a DAG).
// Pins restrict which (group, layer range) steps exist: pinned layers run on
// their node alone (a single-node stage), and a pinned node holds all its
// pinned layers in its one stage.
//
// Complexity. With M nodes: pairs (G ⊆ S) number 3^M, so states 3^M·L of
// each kind; transfer steps 4^M·L (each node in G', S \ G', G or none),
// compute steps 3^M·L²·T. Exact up to exact_node_limit (8) nodes. Beyond
// that the exact DP runs on the most promising nodes (the source, the sink,
// pinned nodes, then the fastest) as many as keep it to a few seconds, and
// the result is compared to a simple proven bound (heuristic_bound), the gap
// printed.
//
// Worked example. Two layers (in 1000 B, out[1] = 100 B, out[2] = 10 B),
// nodes g (source and sink, 1 core, 1 ms per layer) and c (4 cores, 0.1 ms
// per layer), link g<->c 1 Mbit/s + 5 ms. Everything on g: 2 ms. Everything
// on c: 5 + 8 (1000 B) + 0.2 + 5 + 0.08 = 18.28 ms. Layer 1 on g, layer 2 on
// c: 1 + 5 + 0.8 + 0.1 + 5 + 0.08 = 11.98 ms. The latency objective keeps
// everything on g; with λ = 600 windows/s, g alone (500/s) is too slow and
// c must take part: the DP finds the split that meets λ with least latency
// (here the queueing at λ is 0: one stream's windows arrive evenly spaced
// and the profile measured no spread).

#include "partition/solver.h"

#include "common/strings.h"

#include <algorithm>
#include <bitset>
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

int popcount(uint32_t mask) { return static_cast<int>(std::bitset<32>(mask).count()); }

// One stage as the DP records it: layers first..last on `group` (a mask over
// the DP's nodes) at `threads`; a single node's replicas (a group's members
// run as many as fit, recomputed when the plan is read back).
struct StageChoice {
  int first = 0;
  int last = 0;
  uint32_t group = 0;
  int threads = 0;
  int replicas = 0;
};

struct Label {
  double latency = 0.0;
  int cores = 0;
  int stages = 0;
  // A label after a transfer points to the label after a compute it came
  // from (-1: the start), and one after a compute to the transfer's.
  int32_t parent_state = -1;
  int32_t parent_label = -1;
  StageChoice stage;  // after a compute: the stage it ran
  double bottleneck = kInf;  // Mode::bottleneck: the least rate on the path, windows/s
};

enum class Mode {
  lexicographic,   // keep the best `top` labels by the objective's key
  pareto,          // keep labels not dominated in (cores, latency) by `top` others
  // The highest bottleneck (least rate of a stage or link) at each state,
  // single-node stages at their most replicas, the SLO ignored: the best
  // throughput of any plan that overloads no stage, an upper bound on θ*.
  bottleneck,
};

// What a stage's memory depends on besides its device and replicas (its
// parameters and largest activation), as its last layer grows from `first`.
struct SliceFootprint {
  SliceFootprint(const Problem& problem, int first)
      : p(problem), activation(problem.out_bytes[static_cast<size_t>(first)]) {}
  void add_layer(int j) {
    params += p.param_bytes[static_cast<size_t>(j)];
    activation = std::max(activation, p.out_bytes[static_cast<size_t>(j) + 1]);
  }
  const Problem& p;
  int64_t params = 0;
  int64_t activation = 0;
};

// What a group of ≥ 2 nodes does for layers first..j at one thread count.
struct GroupRun {
  double latency_ms = 0.0;       // loaded: the worst member's
  double idle_latency_ms = 0.0;  // the worst member's without queueing: grows with j
  double capacity = 0.0;         // Σ r_b·1000/S_b, windows/s
  int cores = 0;                 // Σ r_b·t
};

// What one node does for layers first..j at one thread count.
struct SingleRun {
  double compute_ms = 0.0;
  double idle_latency_ms = 0.0;  // grows with j
  int low = 1;   // the least replicas that keep utilization below 1 (1 without λ)
  int high = 1;  // the most that fit its cores and memory
  // Loaded latency with r = low..high replicas; one entry without λ, where
  // the replicas do not change it.
  std::vector<double> loaded_latency_ms;
};

// What a solve on a set of nodes shares between its DP runs: the nodes,
// prefix sums, the index of (S, G) pairs, pins, and the groups' figures.
class Space {
 public:
  Space(const Problem& problem, const std::vector<int>& nodes) : p(problem), nodes_(nodes) {
    L = p.num_layers();
    M = static_cast<int>(nodes_.size());
    all = M >= 32 ? ~0u : (1u << M) - 1;
    for (int a = 0; a < M; ++a) {
      for (int t : device(a).threads) thread_values.push_back(t);
    }
    std::sort(thread_values.begin(), thread_values.end());
    thread_values.erase(std::unique(thread_values.begin(), thread_values.end()), thread_values.end());
    tindex.assign(static_cast<size_t>(M), std::vector<int>(thread_values.size(), -1));
    prefix.resize(static_cast<size_t>(M));
    var_prefix.resize(static_cast<size_t>(M));
    for (int a = 0; a < M; ++a) {
      const DeviceCosts& d = device(a);
      for (size_t v = 0; v < thread_values.size(); ++v) {
        tindex[static_cast<size_t>(a)][v] = thread_index(d, thread_values[v]);
      }
      auto& rows = prefix[static_cast<size_t>(a)];
      rows.assign(d.threads.size(), std::vector<double>(static_cast<size_t>(L) + 1, 0.0));
      for (size_t t = 0; t < d.threads.size(); ++t) {
        for (int i = 0; i < L; ++i) rows[t][static_cast<size_t>(i) + 1] = rows[t][static_cast<size_t>(i)] + d.latency_ms[static_cast<size_t>(i)][t];
      }
      if (!d.latency_sd_ms.empty()) {
        auto& vrows = var_prefix[static_cast<size_t>(a)];
        vrows.assign(d.threads.size(), std::vector<double>(static_cast<size_t>(L) + 1, 0.0));
        for (size_t t = 0; t < d.threads.size(); ++t) {
          for (int i = 0; i < L; ++i) {
            const double sd = d.latency_sd_ms[static_cast<size_t>(i)][t];
            vrows[t][static_cast<size_t>(i) + 1] = vrows[t][static_cast<size_t>(i)] + sd * sd;
          }
        }
      }
    }
    // (S, G ⊆ S, G ≠ ∅) -> a dense index.
    pair_index.assign(static_cast<size_t>(1) << (2 * M), -1);
    for (uint32_t s = 0; s <= all; ++s) {
      for (uint32_t g = s; g != 0; g = (g - 1) & s) {
        pair_index[(static_cast<size_t>(s) << M) | g] = static_cast<int32_t>(pair_masks.size());
        pair_masks.emplace_back(s, g);
      }
    }
    pairs = static_cast<int>(pair_masks.size());
    // Pins, over the DP's nodes; a pin to a node outside them has no plan.
    pin_mask.assign(static_cast<size_t>(L), 0);
    pin_lo.assign(static_cast<size_t>(M), -1);
    pin_hi.assign(static_cast<size_t>(M), -1);
    for (const Pin& pin : p.pins) {
      const auto at = std::find(nodes_.begin(), nodes_.end(), pin.node);
      if (at == nodes_.end()) {
        pins_possible = false;
        continue;
      }
      const size_t a = static_cast<size_t>(at - nodes_.begin());
      for (int i = pin.first; i <= pin.last; ++i) pin_mask[static_cast<size_t>(i)] |= 1u << a;
      pin_lo[a] = pin_lo[a] < 0 ? pin.first : std::min(pin_lo[a], pin.first);
      pin_hi[a] = std::max(pin_hi[a], pin.last);
    }
    group_cache.resize(static_cast<size_t>(L) * (static_cast<size_t>(all) + 1) * thread_values.size());
    group_done.assign(group_cache.size(), false);
    for (int a = 0; a < M; ++a) max_threads = std::max(max_threads, device(a).threads.size());
    single_cache.resize(static_cast<size_t>(L) * static_cast<size_t>(M) * max_threads);
    single_done.assign(single_cache.size(), false);
  }

  int node(int a) const { return nodes_[static_cast<size_t>(a)]; }
  const ProblemNode& problem_node(int a) const { return p.nodes[static_cast<size_t>(node(a))]; }
  const DeviceCosts& device(int a) const { return p.devices[static_cast<size_t>(problem_node(a).device)]; }
  double compute_ms(int a, int t, int first, int last) const {
    const auto& row = prefix[static_cast<size_t>(a)][static_cast<size_t>(t)];
    return row[static_cast<size_t>(last) + 1] - row[static_cast<size_t>(first)];
  }
  double variance_ms2(int a, int t, int first, int last) const {  // -1: not measured
    if (var_prefix[static_cast<size_t>(a)].empty()) return -1.0;
    const auto& row = var_prefix[static_cast<size_t>(a)][static_cast<size_t>(t)];
    return row[static_cast<size_t>(last) + 1] - row[static_cast<size_t>(first)];
  }
  int32_t pair_of(uint32_t s, uint32_t g) const { return pair_index[(static_cast<size_t>(s) << M) | g]; }

  // The most replicas of t threads that fit node a for layers first..last.
  int filled_replicas(int a, int first, int last, int threads, const SliceFootprint& slice) const {
    const ProblemNode& n = problem_node(a);
    return std::min(n.cores / threads, max_replicas_by_memory(device(a), last - first + 1, L, slice.params,
                                                              slice.activation, n.mem_bytes));
  }

  // A group's figures for first..j, j = first, first+1, ... while every
  // member still fits (empty if t is not profiled on every member).
  const std::vector<GroupRun>& group_runs(int first, uint32_t group, int tv) {
    const size_t key = (static_cast<size_t>(first) * (static_cast<size_t>(all) + 1) + group) * thread_values.size() +
                       static_cast<size_t>(tv);
    std::vector<GroupRun>& runs = group_cache[key];
    if (group_done[key]) return runs;
    group_done[key] = true;
    const int threads = thread_values[static_cast<size_t>(tv)];
    std::vector<int> members;
    for (int a = 0; a < M; ++a) {
      if ((group & (1u << a)) == 0) continue;
      if (tindex[static_cast<size_t>(a)][static_cast<size_t>(tv)] < 0 || threads > problem_node(a).cores) return runs;
      members.push_back(a);
    }
    std::vector<double> service(members.size());
    std::vector<double> rate(members.size());
    std::vector<int> replicas(members.size());
    MemberMetrics priced;
    SliceFootprint slice(p, first);
    for (int j = first; j < L; ++j) {
      slice.add_layer(j);
      GroupRun run;
      int infinite = 0;
      for (size_t b = 0; b < members.size(); ++b) {
        const int a = members[b];
        replicas[b] = filled_replicas(a, first, j, threads, slice);
        if (replicas[b] < 1) return runs;  // memory only grows with j
        service[b] = compute_ms(a, tindex[static_cast<size_t>(a)][static_cast<size_t>(tv)], first, j);
        rate[b] = service[b] > 0.0 ? replicas[b] * 1000.0 / service[b] : kInf;
        infinite += std::isinf(rate[b]) ? 1 : 0;
        run.capacity += rate[b];
        run.cores += replicas[b] * threads;
      }
      for (size_t b = 0; b < members.size(); ++b) {
        const int a = members[b];
        const int t = tindex[static_cast<size_t>(a)][static_cast<size_t>(tv)];
        price_member(p, device(a), static_cast<size_t>(t), replicas[b], service[b], variance_ms2(a, t, first, j),
                     capacity_share(rate[b], run.capacity, infinite), priced);
        run.latency_ms = std::max(run.latency_ms, priced.p95_latency_ms);
        run.idle_latency_ms = std::max(run.idle_latency_ms, priced.latency_ms);
      }
      runs.push_back(run);
    }
    return runs;
  }

  // A single node's figures for first..j at its device's thread index t,
  // j = first, first+1, ... while some replica count fits and keeps the
  // utilization below 1.
  const std::vector<SingleRun>& single_runs(int first, int a, int t) {
    const size_t key = (static_cast<size_t>(first) * static_cast<size_t>(M) + static_cast<size_t>(a)) * max_threads +
                       static_cast<size_t>(t);
    std::vector<SingleRun>& runs = single_cache[key];
    if (single_done[key]) return runs;
    single_done[key] = true;
    const DeviceCosts& d = device(a);
    const int threads = d.threads[static_cast<size_t>(t)];
    if (threads > problem_node(a).cores) return runs;
    const double lambda = p.window_rate;
    MemberMetrics priced;
    SliceFootprint slice(p, first);
    for (int j = first; j < L; ++j) {
      slice.add_layer(j);
      SingleRun run;
      run.compute_ms = compute_ms(a, t, first, j);
      run.high = filled_replicas(a, first, j, threads, slice);
      // Both bounds move the wrong way with j: the least only grows, the most only shrinks.
      const double low = lambda > 0.0 && run.compute_ms > 0.0 ? std::floor(lambda * run.compute_ms / 1000.0) + 1.0 : 1.0;
      if (low > run.high) return runs;
      run.low = static_cast<int>(low);
      const double variance = variance_ms2(a, t, first, j);
      for (int r = run.low; r <= (lambda > 0.0 ? run.high : run.low); ++r) {
        price_member(p, d, static_cast<size_t>(t), r, run.compute_ms, variance, 1.0, priced);
        run.loaded_latency_ms.push_back(priced.p95_latency_ms);
        run.idle_latency_ms = priced.latency_ms;
      }
      runs.push_back(std::move(run));
    }
    return runs;
  }

  // The stage a choice stands for, with its members' nodes and replicas.
  Stage stage(const StageChoice& c) const {
    Stage s{c.first, c.last, {}};
    SliceFootprint slice(p, c.first);
    for (int i = c.first; i <= c.last; ++i) slice.add_layer(i);
    for (int a = 0; a < M; ++a) {
      if ((c.group & (1u << a)) == 0) continue;
      const int replicas = popcount(c.group) == 1 ? c.replicas : filled_replicas(a, c.first, c.last, c.threads, slice);
      s.members.push_back(Member{node(a), replicas, c.threads});
    }
    return s;
  }

  const Problem& p;
  int L = 0;
  int M = 0;
  uint32_t all = 0;
  std::vector<int> thread_values;                      // every profiled thread count, ascending
  std::vector<std::vector<int>> tindex;                // [node][thread value] -> the device's thread index, or -1
  std::vector<std::vector<std::vector<double>>> prefix;      // [node][thread index][layer prefix] ms
  std::vector<std::vector<std::vector<double>>> var_prefix;  // the same for sd², empty if not measured
  std::vector<int32_t> pair_index;                     // [S << M | G]
  std::vector<std::pair<uint32_t, uint32_t>> pair_masks;
  int pairs = 0;
  bool pins_possible = true;
  std::vector<std::vector<Label>> pre;   // the DP's labels (Dp), kept between its runs
  std::vector<std::vector<Label>> post;
  std::vector<uint32_t> pin_mask;  // [layer]: the nodes it is pinned to
  std::vector<int> pin_lo;         // [node]: its first and last pinned layer, or -1
  std::vector<int> pin_hi;

 private:
  std::vector<int> nodes_;
  std::vector<std::vector<GroupRun>> group_cache;  // [first][group][thread value]
  std::vector<bool> group_done;
  size_t max_threads = 1;
  std::vector<std::vector<SingleRun>> single_cache;  // [first][node][thread index]
  std::vector<bool> single_done;
};

// One DP run under a throughput filter θ.
class Dp {
 public:
  Dp(Space& space, Objective key, Mode mode, int top, double theta)
      : s_(space), p_(space.p), key_(key), mode_(mode), top_(top), theta_(theta), bottleneck_(mode == Mode::bottleneck),
        pre_(space.pre), post_(space.post) {
    // The label arrays are the Space's, kept between runs (their allocations too).
    const size_t states = static_cast<size_t>(s_.L) * static_cast<size_t>(s_.pairs);
    for (auto* table : {&pre_, &post_}) {
      if (table->size() != states) table->assign(states, {});
      for (auto& labels : *table) labels.clear();
    }
    slo_ = p_.slo_latency_ms && !bottleneck_ ? *p_.slo_latency_ms * (1 + 1e-12) : kInf;
  }

  // Runs the DP; returns complete plans (best first, up to `top`), with
  // their latency including the sink's hop.
  std::vector<std::pair<Label, std::vector<Stage>>> run() {
    if (!s_.pins_possible) return {};
    for (int f = 0; f < s_.L; ++f) {
      transfer_step(f);
      for (int pair = 0; pair < s_.pairs; ++pair) {
        const int32_t index = f * s_.pairs + pair;
        if (!pre_[static_cast<size_t>(index)].empty()) compute_step(f, index, pair);
      }
    }
    // Finish: the hop to the sink.
    std::vector<Label> finals;
    const int64_t bytes = p_.out_bytes[static_cast<size_t>(s_.L)];
    const std::vector<int> sink{p_.sink};
    for (int pair = 0; pair < s_.pairs; ++pair) {
      const int32_t index = (s_.L - 1) * s_.pairs + pair;
      const auto& labels = post_[static_cast<size_t>(index)];
      if (labels.empty()) continue;
      double ms = 0.0;
      double rate = kInf;
      link_to(nodes_of(s_.pair_masks[static_cast<size_t>(pair)].second), p_.sink, bytes, ms, rate);
      if (rate < theta_ * (1 - 1e-12)) continue;
      for (size_t l = 0; l < labels.size(); ++l) {
        Label final_label = labels[l];
        final_label.latency += ms + sink_hop_ms(p_);
        final_label.bottleneck = std::min(final_label.bottleneck, rate);
        if (final_label.latency > slo_) continue;
        final_label.parent_state = index;
        final_label.parent_label = static_cast<int32_t>(l);
        finals.push_back(final_label);
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
        const Label& after_compute = post_[static_cast<size_t>(state)][static_cast<size_t>(label)];
        stages.push_back(s_.stage(after_compute.stage));
        const Label& after_transfer =
            pre_[static_cast<size_t>(after_compute.parent_state)][static_cast<size_t>(after_compute.parent_label)];
        state = after_transfer.parent_state;
        label = after_transfer.parent_label;
      }
      std::reverse(stages.begin(), stages.end());
      out.emplace_back(final_label, std::move(stages));
    }
    return out;
  }

  long long labels_created() const { return created_; }

 private:
  std::vector<int> nodes_of(uint32_t group) const {
    std::vector<int> out;
    for (int a = 0; a < s_.M; ++a) {
      if (group & (1u << a)) out.push_back(s_.node(a));
    }
    return out;
  }
  // The worst time and the least rate of the links from `from` to `to`.
  void link_to(const std::vector<int>& from, int to, int64_t bytes, double& ms, double& rate) const {
    for (int a : from) {
      ms = std::max(ms, p_.xfer_ms(a, to, bytes));
      rate = std::min(rate, p_.link_rate(a, to, bytes));
    }
  }

  bool less(const Label& x, const Label& y) const {
    if (bottleneck_) return x.bottleneck > y.bottleneck;
    return better(key_, Rank{0.0, x.latency, x.cores, x.stages}, Rank{0.0, y.latency, y.cores, y.stages});
  }

  void insert(std::vector<Label>& labels, const Label& label) {
    ++created_;
    if (mode_ != Mode::pareto && top_ == 1) {
      if (labels.empty()) {
        labels.push_back(label);
      } else if (less(label, labels.front())) {
        labels.front() = label;
      }
      return;
    }
    if (mode_ != Mode::pareto) {
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

  // Every transfer into a stage starting at layer f: from the source (f = 0)
  // or from a stage ending at f − 1, into each group of unused nodes.
  void transfer_step(int f) {
    const int64_t bytes = p_.out_bytes[static_cast<size_t>(f)];
    const size_t groups = static_cast<size_t>(s_.all) + 1;
    // Nodes whose pinned layers all come at f or later may still join.
    uint32_t eligible = 0;
    for (int a = 0; a < s_.M; ++a) {
      if (s_.pin_lo[static_cast<size_t>(a)] < 0 || s_.pin_lo[static_cast<size_t>(a)] >= f) eligible |= 1u << a;
    }
    // A stage starting at a pinned layer is its node alone; a group has no
    // node with pins of its own (they must be held in that node's one stage).
    const uint32_t required = s_.pin_mask[static_cast<size_t>(f)];
    uint32_t pinned_nodes = 0;
    for (int a = 0; a < s_.M; ++a) {
      if (s_.pin_lo[static_cast<size_t>(a)] >= 0) pinned_nodes |= 1u << a;
    }
    // The worst time and least rate from a set of nodes into each group,
    // built up one member at a time: first into each node, then into each
    // group (tables per previous group, made once per layer).
    const size_t M = static_cast<size_t>(s_.M);
    std::vector<double> node_ms(groups * M, 0.0);
    std::vector<double> node_rate(groups * M, kInf);
    for (uint32_t from = 1; from < groups; ++from) {
      const uint32_t low = from & (~from + 1);
      const int a = __builtin_ctz(low);
      for (size_t b = 0; b < M; ++b) {
        const int to = s_.node(static_cast<int>(b));
        node_ms[from * M + b] = std::max(node_ms[(from ^ low) * M + b], p_.xfer_ms(s_.node(a), to, bytes));
        node_rate[from * M + b] = std::min(node_rate[(from ^ low) * M + b], p_.link_rate(s_.node(a), to, bytes));
      }
    }
    // [from · groups + to]: from the previous stage's group (or, from = 0, the source).
    std::vector<double> ms(groups * groups);
    std::vector<double> rate(groups * groups);
    for (uint32_t from = 0; from < groups; ++from) {
      std::vector<double> source_ms(M);
      std::vector<double> source_rate(M);
      if (from == 0) {
        if (f != 0) continue;
        for (size_t b = 0; b < M; ++b) {
          source_ms[b] = p_.xfer_ms(p_.source, s_.node(static_cast<int>(b)), bytes);
          source_rate[b] = p_.link_rate(p_.source, s_.node(static_cast<int>(b)), bytes);
        }
      } else if (f == 0) {
        break;
      }
      const double* into_ms = from == 0 ? source_ms.data() : &node_ms[from * M];
      const double* into_rate = from == 0 ? source_rate.data() : &node_rate[from * M];
      double* to_ms = &ms[from * groups];
      double* to_rate = &rate[from * groups];
      to_ms[0] = 0.0;
      to_rate[0] = kInf;
      for (uint32_t g = 1; g < groups; ++g) {
        const uint32_t low = g & (~g + 1);
        const int b = __builtin_ctz(low);
        to_ms[g] = std::max(to_ms[g ^ low], into_ms[b]);
        to_rate[g] = std::min(to_rate[g ^ low], into_rate[b]);
      }
    }
    const auto expand = [&](const std::vector<Label>& labels, int32_t from_index, uint32_t used, uint32_t from) {
      const uint32_t free = s_.all & ~used & eligible;
      const double* to_ms = &ms[from * groups];
      const double* to_rate = &rate[from * groups];
      for (uint32_t g = free; g != 0; g = (g - 1) & free) {
        if (required != 0 ? g != required : popcount(g) > 1 && (g & pinned_nodes) != 0) continue;
        if (to_rate[g] < theta_ * (1 - 1e-12)) continue;
        auto& target = pre_[static_cast<size_t>(f * s_.pairs + s_.pair_of(used | g, g))];
        for (size_t l = 0; l < labels.size(); ++l) {
          Label label = labels[l];
          label.latency += to_ms[g];
          label.bottleneck = std::min(label.bottleneck, to_rate[g]);
          if (label.latency > slo_) continue;
          label.parent_state = from_index;
          label.parent_label = static_cast<int32_t>(l);
          insert(target, label);
        }
      }
    };
    if (f == 0) {
      expand({Label{}}, -1, 0, 0);
      return;
    }
    for (int pair = 0; pair < s_.pairs; ++pair) {
      const int32_t index = (f - 1) * s_.pairs + pair;
      const auto& labels = post_[static_cast<size_t>(index)];
      if (labels.empty()) continue;
      const auto [used, last] = s_.pair_masks[static_cast<size_t>(pair)];
      expand(labels, index, used, last);
    }
  }

  // Every stage from layer f on the group of a state reached by a transfer.
  void compute_step(int f, int32_t index, int pair) {
    const auto& labels = pre_[static_cast<size_t>(index)];
    const auto [used, group] = s_.pair_masks[static_cast<size_t>(pair)];
    double least = kInf;
    for (const Label& label : labels) least = std::min(least, label.latency);
    int pin_hi = -1;
    for (int a = 0; a < s_.M; ++a) {
      if (group & (1u << a)) pin_hi = std::max(pin_hi, s_.pin_hi[static_cast<size_t>(a)]);
    }
    const auto add = [&](int j, double stage_ms, int cores, double capacity, const StageChoice& choice) {
      auto& target = post_[static_cast<size_t>(j * s_.pairs + pair)];
      for (size_t l = 0; l < labels.size(); ++l) {
        Label label = labels[l];
        label.latency += stage_ms;
        label.bottleneck = std::min(label.bottleneck, capacity);
        if (label.latency > slo_) continue;
        label.cores += cores;
        label.stages += 1;
        label.parent_state = index;
        label.parent_label = static_cast<int32_t>(l);
        label.stage = choice;
        insert(target, label);
      }
    };
    const double lambda = p_.window_rate;
    if (popcount(group) == 1) {
      const int a = __builtin_ctz(group);
      const DeviceCosts& device = s_.device(a);
      for (size_t t = 0; t < device.threads.size(); ++t) {
        const int threads = device.threads[t];
        const std::vector<SingleRun>& runs = s_.single_runs(f, a, static_cast<int>(t));
        for (size_t k = 0; k < runs.size(); ++k) {
          const int j = f + static_cast<int>(k);
          if ((s_.pin_mask[static_cast<size_t>(j)] & ~group) != 0) break;
          const SingleRun& run = runs[k];
          if (least + run.idle_latency_ms > slo_) break;  // idle latency only grows with j
          if (bottleneck_) {  // the most replicas: the highest capacity
            const double capacity = run.compute_ms > 0.0 ? run.high * 1000.0 / run.compute_ms : kInf;
            if (j >= pin_hi) add(j, 0.0, 0, capacity, StageChoice{f, j, group, threads, run.high});
            continue;
          }
          // The least replicas that reach θ (in double: θ may be infinite);
          // it only grows with j, and the most that fit only shrink.
          double least_replicas = run.low;
          if (theta_ > 0.0 && run.compute_ms > 0.0) {
            least_replicas = std::max(least_replicas, std::ceil(theta_ * run.compute_ms / 1000.0 * (1 - 1e-12)));
          }
          if (least_replicas > run.high) break;
          if (j < pin_hi) continue;  // must hold all its nodes' pinned layers
          // Without queueing, more replicas than the least only cost cores.
          const int low = static_cast<int>(least_replicas);
          const int most = lambda > 0.0 ? run.high : low;
          for (int r = low; r <= most; ++r) {
            const double latency = run.loaded_latency_ms[lambda > 0.0 ? static_cast<size_t>(r - run.low) : 0];
            add(j, latency, r * threads, kInf, StageChoice{f, j, group, threads, r});
          }
        }
      }
      return;
    }
    for (size_t tv = 0; tv < s_.thread_values.size(); ++tv) {
      const std::vector<GroupRun>& runs = s_.group_runs(f, group, static_cast<int>(tv));
      for (size_t k = 0; k < runs.size(); ++k) {
        const int j = f + static_cast<int>(k);
        if (s_.pin_mask[static_cast<size_t>(j)] != 0) break;  // pinned layers run on their node alone
        const GroupRun& run = runs[k];
        if (run.capacity < theta_ * (1 - 1e-12)) break;  // capacity only shrinks with j
        if (std::isinf(run.latency_ms)) break;           // overloaded, and more so with j
        if (least + run.idle_latency_ms > slo_) break;
        if (j < pin_hi) continue;
        add(j, run.latency_ms, run.cores, run.capacity, StageChoice{f, j, group, s_.thread_values[tv], 0});
      }
    }
  }

  Space& s_;
  const Problem& p_;
  Objective key_;
  Mode mode_;
  int top_;
  double theta_;
  bool bottleneck_;
  double slo_ = kInf;
  std::vector<std::vector<Label>>& pre_;   // [first layer][pair]: after a transfer
  std::vector<std::vector<Label>>& post_;  // [last layer][pair]: after a compute
  long long created_ = 0;
};

struct Run {
  std::vector<std::pair<Label, std::vector<Stage>>> plans;
  long long labels = 0;
  double theta = 0.0;  // throughput objective: the best throughput θ*
};

Run run_dp(Space& space, Objective key, Mode mode, int top, double theta) {
  Dp dp(space, key, mode, top, theta);
  Run run;
  run.plans = dp.run();
  run.labels = dp.labels_created();
  return run;
}

// Every rate an element of a plan can have: each single-node stage with
// each replica count that fits its node, each group's capacity, each hop. A
// plan's throughput is the least of its elements' rates, so it is one of
// these: θ* is, and so is the throughput of every plan of the N best.
std::vector<double> throughput_candidates(Space& space) {
  const Problem& p = space.p;
  std::vector<double> out;
  const int L = p.num_layers();
  for (int a = 0; a < space.M; ++a) {
    const ProblemNode& node = space.problem_node(a);
    const DeviceCosts& device = space.device(a);
    for (size_t t = 0; t < device.threads.size(); ++t) {
      const int threads = device.threads[t];
      if (threads > node.cores) continue;
      for (int s = 0; s < L; ++s) {
        SliceFootprint slice(p, s);
        for (int j = s; j < L; ++j) {
          slice.add_layer(j);
          const int replicas = space.filled_replicas(a, s, j, threads, slice);
          if (replicas < 1) break;
          const double comp = space.compute_ms(a, static_cast<int>(t), s, j);
          for (int r = 1; r <= replicas; ++r) out.push_back(comp > 0.0 ? r * 1000.0 / comp : kInf);
        }
      }
    }
    for (int b = 0; b < space.M; ++b) {
      if (b == a) continue;
      for (int e = 0; e <= L; ++e) out.push_back(p.link_rate(space.node(a), space.node(b), p.out_bytes[static_cast<size_t>(e)]));
    }
    for (int e = 0; e <= L; ++e) {
      out.push_back(p.link_rate(p.source, space.node(a), p.out_bytes[static_cast<size_t>(e)]));
      out.push_back(p.link_rate(space.node(a), p.sink, p.out_bytes[static_cast<size_t>(e)]));
    }
  }
  for (uint32_t group = 1; group <= space.all; ++group) {
    if (popcount(group) < 2) continue;
    for (int f = 0; f < L; ++f) {
      for (size_t tv = 0; tv < space.thread_values.size(); ++tv) {
        for (const GroupRun& run : space.group_runs(f, group, static_cast<int>(tv))) out.push_back(run.capacity);
      }
    }
  }
  out.push_back(kInf);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Solves on a node subset. Returns plans (possibly empty = infeasible).
// `exact` false: the caller solves a heuristic's subset, where an SLO's
// Pareto labels (tens per state) cost more than the exactness they buy.
Run solve_on(const Problem& problem, const std::vector<int>& nodes, Objective objective, int top, bool exact = true) {
  const bool slo = problem.slo_latency_ms.has_value();
  Space space(problem, nodes);
  if (objective == Objective::latency) {
    return run_dp(space, Objective::latency, Mode::lexicographic, top, problem.window_rate);
  }
  if (objective == Objective::resources) {
    if (slo && !exact) {
      // Heuristic: the least cores per state among prefixes within the SLO.
      // A cheaper prefix that later misses the SLO can hide one that would
      // not, so only when this finds nothing do the Pareto labels run.
      Run run = run_dp(space, Objective::resources, Mode::lexicographic, top, problem.window_rate);
      if (!run.plans.empty()) return run;
    } else if (slo) {
      // Fast path, exact: if the cheapest plans without the SLO meet it, they
      // are the cheapest with it. Only otherwise are Pareto labels needed.
      Problem loose = problem;
      loose.slo_latency_ms.reset();
      Space loose_space(loose, nodes);
      Run run = run_dp(loose_space, Objective::resources, Mode::lexicographic, top, problem.window_rate);
      bool all_meet = run.plans.size() == static_cast<size_t>(top);
      for (const auto& plan : run.plans) all_meet = all_meet && plan.first.latency <= *problem.slo_latency_ms * (1 + 1e-12);
      if (all_meet || run.plans.empty()) return run;
    }
    return run_dp(space, Objective::resources, slo ? Mode::pareto : Mode::lexicographic, top, problem.window_rate);
  }
  // Throughput: the largest candidate θ that is feasible, by binary search.
  const std::vector<double> candidates = throughput_candidates(space);
  long long labels = 0;
  // Whether some plan reaches θ; a plan found lifts `lo` to its own throughput.
  int lo = -1;  // largest index known feasible
  // Every plan must carry λ (cost_model.h, feasible_for): θ never goes below it.
  const double lambda = problem.window_rate;
  const auto feasible = [&](double theta) {
    Run run = run_dp(space, Objective::latency, Mode::lexicographic, 1, std::max(theta, lambda));
    labels += run.labels;
    if (run.plans.empty()) return false;
    const double reached = evaluate(problem, Plan{run.plans.front().second}).throughput;
    const auto at = std::upper_bound(candidates.begin(), candidates.end(), reached * (1 + 1e-12));
    lo = std::max(lo, static_cast<int>(at - candidates.begin()) - 1);
    return true;
  };
  // The best throughput of a plan that overloads nothing, the SLO ignored,
  // bounds θ* from above; it is θ* when a plan reaches it within the SLO.
  const Run ceiling = run_dp(space, Objective::throughput, Mode::bottleneck, 1, lambda);
  labels += ceiling.labels;
  if (ceiling.plans.empty()) return Run{{}, labels};
  const double bound = ceiling.plans.front().first.bottleneck;
  int hi = static_cast<int>(std::upper_bound(candidates.begin(), candidates.end(), bound * (1 + 1e-12)) -
                            candidates.begin());  // smallest index known infeasible
  if (hi > 0 && !feasible(candidates[static_cast<size_t>(hi - 1)])) {
    hi = hi - 1;
    if (!feasible(0.0)) return Run{{}, labels};
  }
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (!feasible(candidates[static_cast<size_t>(mid)])) hi = mid;
  }
  // The N best, by throughput and then latency: level by level downwards.
  // Every plan's throughput is a candidate, and the DP under filter θ lists
  // each plan in its fewest-replica form for θ (with λ > 0: every replica
  // count from that form up, each a plan of its own). With fewer than N plans
  // listed (all those of higher throughput), the DP's N best by latency
  // under θ hold a plan not yet listed iff one of throughput ≥ θ exists:
  // monotone in θ, so a binary search finds the next level, and there the
  // new plans in latency order are that level's best.
  Run result;
  result.theta = lo >= 0 ? candidates[static_cast<size_t>(lo)] : 0.0;
  const auto new_plans = [&](double theta) {
    Run run = run_dp(space, Objective::latency, Mode::lexicographic, top, std::max(theta, lambda));
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
    return !solve_on(relaxed, nodes, Objective::latency, 1).plans.empty();
  };
  if (problem.window_rate > 0.0) {
    Problem relaxed = problem;
    relaxed.window_rate = 0.0;
    if (solvable(relaxed)) {
      // The best throughput reachable under the other constraints.
      Problem best = problem;
      best.window_rate = 0.0;
      const Run run = solve_on(best, nodes, Objective::throughput, 1);
      double reachable = 0.0;
      if (!run.plans.empty()) reachable = evaluate(best, Plan{run.plans.front().second}).throughput;
      if (reachable >= problem.window_rate) {
        // Plans carry λ unloaded; its queues are what rule them out.
        return input_error(Location{}, "infeasible: at the workload's {:.1f} windows/s every plan overloads a stage or "
                           "queues past the {} ms SLO (without queueing the best plan reaches {:.1f} windows/s)",
                           problem.window_rate, problem.slo_latency_ms.value_or(0.0), reachable)
            .with_hint("add nodes or cores so that stages run further from saturation, lower the number of streams, "
                       "or relax the SLO");
      }
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
      const Run run = solve_on(relaxed, nodes, Objective::latency, 1);
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
          const Run run = solve_on(alone, nodes, Objective::throughput, 1);
          const double reachable = run.plans.empty() ? 0.0 : evaluate(alone, Plan{run.plans.front().second}).throughput;
          clauses.push_back(fmt::format("the workload's {:.1f} windows/s (the best plan reaches {:.1f})",
                                        problem.window_rate, reachable));
        } else if (kind == kSlo) {
          const Run run = solve_on(alone, nodes, Objective::latency, 1);
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


// A proven bound on the objective over every plan, for the heuristic's gap:
// each layer runs somewhere, at best on the fastest node at its best thread
// count, and a replica of t threads holds t cores for its time. Latency ≥
// Σ over layers of the least time (with wake-up) + the least two hops + the
// sink's hop; cores ≥ λ/1000 · Σ over layers of the least t·time (each
// stage's capacity must reach λ) and ≥ 1; throughput ≤ 1000 · Σ cores / Σ
// over layers of the least t·time. Loose (no transfers, no queueing), but
// valid for groups, pins and the SLO alike.
double heuristic_bound(const Problem& p, Objective objective) {
  double latency_ms = sink_hop_ms(p);
  double hops_ms = kInf;
  double core_ms = 0.0;  // per window
  int cores = 0;
  for (const ProblemNode& node : p.nodes) {
    cores += node.cores;
    hops_ms = std::min(hops_ms, p.devices[static_cast<size_t>(node.device)].hops_ms());
  }
  for (int i = 0; i < p.num_layers(); ++i) {
    double least_ms = kInf;
    double least_core_ms = kInf;
    for (const ProblemNode& node : p.nodes) {
      const DeviceCosts& d = p.devices[static_cast<size_t>(node.device)];
      for (size_t t = 0; t < d.threads.size(); ++t) {
        if (d.threads[t] > node.cores) continue;
        const double ms = d.latency_ms[static_cast<size_t>(i)][t];
        least_ms = std::min(least_ms, ms + d.wake_ms(t, ms));
        least_core_ms = std::min(least_core_ms, d.threads[t] * ms);
      }
    }
    latency_ms += least_ms;
    core_ms += least_core_ms;
  }
  switch (objective) {
    case Objective::latency: return latency_ms + hops_ms;
    case Objective::resources: return std::max(1.0, std::ceil(p.window_rate * core_ms / 1000.0 * (1 - 1e-12)));
    case Objective::throughput: return core_ms > 0.0 ? 1000.0 * cores / core_ms : kInf;
  }
  return 0.0;
}

}  // namespace

SolveResult solve(const Problem& problem, const SolveOptions& options) {
  if (problem.num_layers() == 0 || problem.num_nodes() == 0) throw input_error(Location{}, "nothing to partition");
  const int top = std::max(1, options.top);
  SolveResult result;
  std::vector<int> nodes(static_cast<size_t>(problem.num_nodes()));
  std::iota(nodes.begin(), nodes.end(), 0);

  if (problem.num_nodes() > options.exact_node_limit) {
    // The exact DP's work grows as 3^M·L²·T: keep it to a few seconds.
    const double layers = problem.num_layers();
    int limit = options.exact_node_limit;
    while (limit > 2 && std::pow(3.0, limit) * layers * layers > 2e8) --limit;
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
    // Then the fastest nodes: least single-thread time for the whole model per core.
    std::vector<std::pair<double, int>> speed;
    for (int m : nodes) {
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
    result.bound = heuristic_bound(problem, options.objective);
  }

  Run run = solve_on(problem, nodes, options.objective, top, result.exact);
  result.labels += run.labels;
  // Maximizing throughput when no plan carries the workload (every one
  // overloads a stage at λ): the best without it, priced unloaded, so the
  // user learns how far short the best plan falls.
  Problem unloaded = problem;
  if (run.plans.empty() && options.objective == Objective::throughput && problem.window_rate > 0.0) {
    unloaded.window_rate = 0.0;
    run = solve_on(unloaded, nodes, options.objective, top);
    result.labels += run.labels;
    result.unloaded = !run.plans.empty();
  }
  if (run.plans.empty()) throw explain_infeasible(problem, options.objective, nodes);
  for (auto& [label, stages] : run.plans) {
    Plan plan{stages};
    result.metrics.push_back(evaluate(unloaded, plan));
    result.plans.push_back(std::move(plan));
  }
  if (result.exact) {
    result.method = fmt::format("exact dynamic program over {} nodes", problem.num_nodes());
    if (result.unloaded) {
      result.method += fmt::format("; no plan carries {:.1f} windows/s, so these are priced without queueing",
                                   problem.window_rate);
    }
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
