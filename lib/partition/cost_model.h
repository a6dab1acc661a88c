#pragma once

// The cost model shared by profile, partition and runtime (docs/design.md,
// "Cost model"), in plain data: a Problem (layers, nodes, links, workload),
// a Plan (stages), and evaluate(), which computes every prediction of a plan
// and checks every constraint. The solver optimizes exactly this function; the
// brute-force test enumerates plans and calls it.
//
// Units: milliseconds, bytes, windows per second, Mbit/s.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "runtime/codec.h"

namespace hare::partition {

// What hare's processes take on a device, in bytes, from its profile's
// memory probes (profile/profile.h MemoryProfile; docs/design.md "Memory").
struct MemoryCosts {
  int64_t shared_bytes = 0;          // an executor's file-backed pages (libtorch...): once per node running a stage
  int64_t executor_bytes = 0;        // one worker process's private pages before it loads a slice
  int64_t model_overhead_bytes = 0;  // the loaded, warmed-up whole model beyond its parameters (code, plans)
  int64_t replica_bytes = 0;         // each replica beyond the first (an inference thread of the same process)
  int64_t supervisor_bytes = 0;      // hare-node beside an executor: private pages + the pages of files no executor maps
  int64_t supervisor_alone_bytes = 0;  // hare-node on a node without a stage: private pages + all its file pages
  // From a profile written before hare measured PSS: one RSS figure, charged
  // whole to every replica (replica_bytes = executor_bytes, nothing shared).
  bool from_rss_only = false;
};

struct DeviceCosts {
  std::string name;                             // device id
  std::vector<int> threads;                     // profiled thread counts, ascending
  std::vector<std::vector<double>> latency_ms;  // [layer][thread index], median of one window
  MemoryCosts memory;
  // The runtime's own share of a window's latency on this device at the
  // workload's pace, measured by hare-profile (none for profiles that
  // predate it): a frame handed from one process to another whose receiver
  // was waiting (hop_ms), and how many times longer a slice takes on a
  // window that arrives after an idle gap than back to back (wake_factor,
  // by thread index). They add to latency, not to a saturated stage's rate,
  // where no one waits.
  double hop_ms = 0.0;
  std::vector<double> wake_factor;  // [thread index]; empty = 1

  // Per window through a stage with `compute_ms` back to back: the slice's
  // wake-up, and the two hops into a worker (into its supervisor, on to the
  // worker); their sum is the stage's overhead.
  double wake_ms(size_t thread_index, double compute_ms) const {
    return compute_ms * ((thread_index < wake_factor.size() ? wake_factor[thread_index] : 1.0) - 1.0);
  }
  double hops_ms() const { return 2.0 * hop_ms; }
  double stage_overhead_ms(size_t thread_index, double compute_ms) const {
    return wake_ms(thread_index, compute_ms) + hops_ms();
  }
};

struct Link {
  double bandwidth_mbps = 1.0;
  double latency_ms = 0.0;
  Codec codec = Codec::float32;  // activations cross as wire_bytes(codec, ...)
};

struct ProblemNode {
  std::string name;
  int device = 0;  // index into Problem::devices
  int cores = 1;
  int64_t mem_bytes = 0;
};

struct Pin {
  int first = 0;  // 0-based layer indices, inclusive
  int last = 0;
  int node = 0;
};

struct Problem {
  std::vector<std::string> layer_names;
  std::vector<int64_t> out_bytes;    // size L + 1: out_bytes[0] = in_bytes (one window)
  std::vector<int64_t> param_bytes;  // size L
  std::vector<DeviceCosts> devices;
  std::vector<ProblemNode> nodes;
  std::vector<std::vector<Link>> links;  // [from][to]; the diagonal is unused
  int source = 0;
  int sink = 0;
  double window_rate = 0.0;  // λ, windows/s; 0 = no throughput requirement
  std::optional<double> slo_latency_ms;
  std::vector<Pin> pins;

  int num_layers() const { return static_cast<int>(param_bytes.size()); }
  int num_nodes() const { return static_cast<int>(nodes.size()); }
  // xfer(a, b, bytes) = 0 if a == b, else latency + wire·8 / (bandwidth·1000),
  // where wire is the float32 payload `bytes` in the link's codec.
  double xfer_ms(int from, int to, int64_t bytes) const;
  // Windows/s a link sustains for `bytes` per window (infinite if a == b).
  double link_rate(int from, int to, int64_t bytes) const;
  // How activations travel from a to b: the link's codec, float32 within a node.
  Codec link_codec(int from, int to) const;
  // What a float32 payload of `bytes` takes on the link (bytes if a == b).
  int64_t wire_bytes(int from, int to, int64_t bytes) const;
};

// One node of a stage: r replicas of t threads each, on `node`.
struct Member {
  int node = 0;
  int replicas = 1;
  int threads = 1;
};

inline bool operator==(const Member& a, const Member& b) {
  return a.node == b.node && a.replicas == b.replicas && a.threads == b.threads;
}

// Layers first..last, run by every member: one member is a plain stage; more
// are a stage group, whose upstream sends each window to one member in
// proportion to the member's capacity. Members are distinct nodes.
struct Stage {
  int first = 0;  // 0-based layer indices, inclusive
  int last = 0;
  std::vector<Member> members;
};

inline bool operator==(const Stage& a, const Stage& b) {
  return a.first == b.first && a.last == b.last && a.members == b.members;
}

struct Plan {
  std::vector<Stage> stages;
};

// One member of a stage: its own service time, share of the windows and
// queue (docs/design.md, "Cost model").
struct MemberMetrics {
  double compute_ms = 0.0;         // S, one window at the member's threads, back to back
  double wake_ms = 0.0;            // the runtime's overhead (DeviceCosts): in latency, not in rate
  double hops_ms = 0.0;            //   wake-up of the slice, and the two hops into a worker
  double queue_ms = 0.0;           // mean wait for a replica at the workload's λ (queueing.h)
  double latency_ms = 0.0;         // idle: compute + wake + hops
  double loaded_latency_ms = 0.0;  // latency_ms + queue_ms
  double share = 1.0;              // fraction of the windows it gets: its capacity / the group's
  double rate = 0.0;               // capacity r · 1000 / S, windows/s
  int64_t memory_bytes = 0;        // its worker process (stage_memory_bytes)
  double xfer_in_ms = 0.0;         // from the previous stage's slowest link into it (or from the source)
  double xfer_out_ms = 0.0;        // to the next stage's slowest link (or to the sink)
};

// A stage's figures: rate is the group's capacity (Σ of its members'); the
// others are its worst member's (the one of highest loaded latency).
struct StageMetrics {
  double compute_ms = 0.0;
  double wake_ms = 0.0;
  double hops_ms = 0.0;
  double queue_ms = 0.0;
  double rate = 0.0;          // Σ r · 1000 / compute, windows/s
  int64_t memory_bytes = 0;   // the largest member's worker process
  int64_t out_bytes = 0;      // what leaves the stage per window
  double xfer_out_ms = 0.0;   // to the next stage, or to the sink for the last: the worst pair of members
  std::vector<MemberMetrics> member;
};

struct PlanMetrics {
  bool valid = false;        // structurally a plan (covers 1..L in order, distinct nodes, profiled threads)
  bool feasible = false;     // valid and meets memory, cores, pins, no overloaded stage and the SLO
  bool meets_window_rate = false;  // throughput >= λ (a constraint of the latency and resources objectives)
  std::string violation;     // the first violated constraint, when not feasible (or not meeting λ)
  double latency_ms = 0.0;       // under load: with every stage's queueing at λ (= idle when λ = 0)
  double idle_latency_ms = 0.0;  // a lone window: no queueing
  double utilization = 0.0;      // λ / capacity of the busiest stage (0 when λ = 0)
  double throughput = 0.0;   // windows/s
  int cores = 0;             // Σ r·t
  int stages = 0;
  double xfer_in_ms = 0.0;   // source -> first stage
  double sink_hop_ms = 0.0;  // the last worker's frame into the sink's process
  std::vector<StageMetrics> stage;
};

// The memory formula, the only copy (the solver's incremental search calls it
// too). A stage's r replicas run as threads of one worker process
// (runtime/worker.h), which holds
//   shared + executor + model_overhead · layers / L + params
//     + (r - 1) · replica + r · 2 · max activation
// — the libraries' pages, torch's own state, the slice's share of the
// model's loaded code, its parameters once (the threads share the module),
// and per replica its thread and two activations (the largest tensor it
// reads or writes, held as input and output at once). Monotone in the
// stage's layers and in r, which the solver's searches rely on. The node
// adds its supervisor (node_memory_bytes). Inline: the solver's inner loop
// calls it.
inline int64_t stage_memory_bytes(const DeviceCosts& device, int replicas, int layers, int total_layers,
                                  int64_t params_bytes, int64_t max_activation_bytes) {
  const MemoryCosts& m = device.memory;
  return m.shared_bytes + m.executor_bytes + m.model_overhead_bytes * layers / std::max(1, total_layers) +
         params_bytes + static_cast<int64_t>(replicas - 1) * m.replica_bytes +
         static_cast<int64_t>(replicas) * 2 * max_activation_bytes;
}
// The most replicas whose stage fits in `mem_bytes` beside the supervisor (0
// if not even one does).
int max_replicas_by_memory(const DeviceCosts& device, int layers, int total_layers, int64_t params_bytes,
                           int64_t max_activation_bytes, int64_t mem_bytes);
// A node's memory: its supervisor, plus its stage's worker process if it
// runs one (stage_bytes > 0); without one the supervisor's libraries are its
// own to pay.
inline int64_t node_memory_bytes(const DeviceCosts& device, int64_t stage_bytes) {
  return stage_bytes > 0 ? device.memory.supervisor_bytes + stage_bytes : device.memory.supervisor_alone_bytes;
}
// stage_memory_bytes over the stage's layers, for one member.
int64_t stage_memory_bytes(const Problem& problem, const Stage& stage, const Member& member);
// Bytes that leave the source node per window under a plan, on the wire
// (in each link's codec).
int64_t bytes_leaving_source(const Problem& problem, const Plan& plan);
double stage_compute_ms(const Problem& problem, const Stage& stage, const Member& member);
// The hop into the sink's process (a constant of the problem).
double sink_hop_ms(const Problem& problem);
// Index of `threads` in the device's profiled set, or -1.
int thread_index(const DeviceCosts& device, int threads);

// What a stage's members cost on their own (no transfers): service,
// capacity, share of the windows, queueing at the problem's λ, memory. The
// solver prices its stages with it too.
StageMetrics stage_metrics(const Problem& problem, const Stage& stage);
PlanMetrics evaluate(const Problem& problem, const Plan& plan);

enum class Objective { latency, throughput, resources };

// Whether the plan meets the objective's constraints: memory, cores, pins,
// the SLO, and, except when maximizing throughput, throughput >= λ.
bool feasible_for(Objective objective, const PlanMetrics& metrics);
const char* objective_name(Objective objective);
// The inverse of objective_name; nothing for another text.
std::optional<Objective> parse_objective(const std::string& name);

// What plans are ranked by. The solver ranks its partial plans with it too;
// they carry no throughput (0), which its throughput filter θ handles.
struct Rank {
  double throughput = 0.0;  // windows/s
  double latency_ms = 0.0;
  int cores = 0;
  int stages = 0;
};
// The plan ranking, the only copy: true when a is strictly better than b for
// the objective (both feasible), with the tie-breaks of docs/design.md
// ("Objectives and tie-breaks"): latency, then fewer cores, then fewer
// stages. Values within a relative 1e-9 count as equal. Inline: the solver
// calls it for every label it keeps.
inline bool better(Objective objective, const Rank& a, const Rank& b) {
  auto compare = [](double x, double y) {  // -1, 0, 1 with the relative tolerance
    if (x == y) return 0;                    // also equal infinities
    const double scale = std::max({1.0, std::abs(x), std::abs(y)});
    if (std::abs(x - y) <= 1e-9 * scale) return 0;
    return x < y ? -1 : 1;
  };
  if (objective == Objective::throughput) {
    if (const int c = compare(a.throughput, b.throughput)) return c > 0;
  }
  if (objective == Objective::resources && a.cores != b.cores) return a.cores < b.cores;
  if (const int c = compare(a.latency_ms, b.latency_ms)) return c < 0;
  if (a.cores != b.cores) return a.cores < b.cores;
  return a.stages < b.stages;
}
// The objective's value: latency ms, throughput windows/s, or cores.
double objective_value(Objective objective, const PlanMetrics& metrics);

}  // namespace hare::partition
