#pragma once

// plan.yaml (hare-plan/1): what hare-partition decided, with every
// prediction of the cost model. Each node derives what it runs from it
// (runtime/node_spec.h). Torch-free.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/codec.h"

namespace hare::artifacts {

// One node of a stage's group: it runs the stage's slice with its own
// replicas x threads and takes `share` of the stage's windows (its upstream
// sends each window to one member, in proportion to the shares).
struct PlanMember {
  std::string node;
  int replicas = 1;
  int threads = 1;
  double share = 1.0;               // 0 < share <= 1; a stage's shares sum to 1
  Codec codec_in = Codec::float32;  // how frames come into this member
  double compute_ms = 0.0;          // back to back (the member's rate)
  double wake_ms = 0.0;             // more per window at the planned rate's idle gaps (latency)
  double hops_ms = 0.0;             // the runtime's two hops into a worker (latency)
  double queue_ms = 0.0;            // predicted wait in the queue at the workload's rate; 0 if unknown
  double transfer_ms = 0.0;         // to the next stage or the sink, over its worst link
  int64_t memory_bytes = 0;         // the member's workers
};

struct PlanStage {
  int index = 0;        // 1-based
  int first_layer = 0;  // 1-based, inclusive
  int last_layer = 0;
  std::vector<std::string> layers;
  int64_t out_bytes = 0;       // float32 payload of one window's output
  std::string slice;          // relative path, slices/stage-<k>.pt
  std::vector<int64_t> input_shape;  // of one window at this stage's input
  std::vector<PlanMember> members;   // at least one; distinct nodes

  const PlanMember* find_member(const std::string& node) const;
  // The lossiest codec into any member: what the equivalence check applies.
  Codec lossiest_codec_in() const;
};

struct PlanNode {
  std::string name;
  std::string address;
  int port = 0;
  std::vector<std::string> roles;  // source, stage, sink
  std::optional<int> stage;        // index of the stage whose group it is a member of
  int cores = 0;
  int64_t mem_bytes = 0;
  // Predicted memory of the node's hare processes (partition/cost_model.h
  // node_memory_bytes): its supervisor, and its stage's worker process with
  // the libraries' pages counted once (memory_shared_bytes of them). As the
  // node counts it alone: nodes emulated on one machine share those pages
  // (each pays shared / the number of executors mapping them, in PSS).
  // 0 in plans from before hare predicted it.
  int64_t memory_bytes = 0;
  int64_t memory_shared_bytes = 0;
  // An emulated device (cluster `devices:`) runs this many times slower than
  // the machine it is emulated on; local and test-bed runs reproduce that.
  double time_factor = 1.0;
};

struct PlanLink {
  std::string from;
  std::string to;
  double bandwidth_mbps = 0.0;
  double latency_ms = 0.0;  // one-way
};

struct PlanDoc {
  std::string model_name;
  std::string model_sha256;
  std::string cluster_name;
  std::string cluster_sha256;
  std::string objective;
  std::string method;
  bool exact = true;
  double window_rate = 0.0;
  std::optional<double> slo_latency_ms;
  std::string source;
  std::string sink;
  // Predictions of the cost model. latency_ms is loaded: with each stage's
  // queueing at the workload's window rate; idle_latency_ms without it.
  double latency_ms = 0.0;
  double idle_latency_ms = 0.0;
  double utilization = 0.0;  // window rate / capacity of the busiest stage group; 0 when the rate is 0
  double throughput = 0.0;
  int cores = 0;
  double source_transfer_ms = 0.0;
  double sink_hop_ms = 0.0;
  Codec codec_to_sink = Codec::float32;
  int64_t in_bytes = 0;
  int64_t bytes_leaving_source = 0;
  std::vector<PlanStage> stages;
  std::vector<PlanNode> nodes;
  // Every link between plan nodes (ordered pairs), as the cluster config
  // gave them; local runs emulate them.
  std::vector<PlanLink> links;
  const PlanLink* find_link(const std::string& from, const std::string& to) const;
  // The equivalence check that preceded writing.
  int check_real_windows = 0;
  int check_random_windows = 0;
  double check_max_abs_diff = 0.0;
  // With lossy codecs: the argmax agreement on the real windows, and the bar.
  std::optional<double> check_lossy_agreement;
  double check_lossy_required = 1.0;
  double check_lossy_max_abs_diff = 0.0;

  const PlanNode* find_node(const std::string& name) const;
  // The stage whose group `node` is a member of, or null.
  const PlanStage* stage_of(const std::string& node) const;
};

// The idiom of common/yaml_util.h: every error of the file at once, with
// file:line:col; unknown keys with "did you mean". A stage written before
// groups (node, replicas, threads, compute_ms, ... at the stage's level)
// reads as a group of one member with share 1; only groups are written.
PlanDoc parse_plan(const std::string& text, const std::string& origin);
PlanDoc read_plan(const std::string& path);
std::string plan_to_yaml(const PlanDoc& plan);
void write_plan(const std::string& path, const PlanDoc& plan);

}  // namespace hare::artifacts
