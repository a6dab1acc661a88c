#pragma once

// What one node runs, derived from a plan directory's plan.yaml (its roles,
// endpoints, stage and the links to emulate) and model card (model.yaml).
// Plan directories written by earlier versions also hold nodes/<node>.yaml
// (hare-node/1), a copy of what plan.yaml says; the manifest check accepts
// it and nothing reads it.
// The plan directory is verified against its manifest first: a node never
// runs a corrupted or half-copied plan. Its slice must be a file of the plan
// directory listed in the manifest; the manifest's SHA-256 goes to every
// worker, which checks the bytes it loads (a slice swapped after the node
// started is refused at the next worker start).

#include <optional>
#include <string>
#include <vector>

#include "artifacts/plan.h"
#include "runtime/codec.h"
#include "runtime/frame.h"
#include "data/model_card.h"

namespace hare::runtime {

// Where a node sends: one member of the next stage's group (or the sink).
// A sender with several picks one per window, in proportion to the shares
// (runtime/fanout.h).
struct Destination {
  std::string endpoint;          // tcp://address:port
  std::string node;              // the plan node there (whose public key senders use)
  double share = 1.0;            // of the windows sent; a list's shares sum to 1
  Codec codec = Codec::float32;  // how frames cross the link (the member's codec_in)
};

struct StageSpec {
  int index = 0;
  std::string slice_path;  // absolute, symlinks resolved, inside the plan directory
  std::string slice_sha256;  // the manifest's: a worker checks the file against it at every start
  // This node's place in the stage's group (0-based), and the group's nodes.
  int member = 0;
  std::vector<std::string> group;
  double share = 1.0;  // of the stage's windows this node is planned to take
  int replicas = 1;
  int threads = 1;
  int64_t memory_limit_bytes = 0;  // this node's part of the stage (all its replicas)
  std::vector<Destination> sends_to;  // the next stage's members, or the sink
  uint16_t next_destination = 0;   // stage index + 1, or the sink
  double predicted_compute_ms = 0.0;
  double time_factor = 1.0;  // an emulated device: workers take this many times as long
  std::vector<int64_t> input_shape;  // for warm-up and the frame check; empty if the plan has none
  uint64_t input_values = 0;         // elements of one window at the input (from the shape, else the plan's bytes)
  Codec input_codec = Codec::float32;  // how frames come in
};

struct NodeSpec {
  std::string plan_dir;
  std::string name;
  std::string listen;  // tcp://address:port
  bool source = false;
  bool sink = false;
  std::optional<StageSpec> stage;
  std::vector<Destination> first_stage;  // where the source sends windows: stage 1's members
  std::string sink_endpoint;         // where the source sends the end-of-stream frame
  std::vector<int64_t> sink_shape;    // [1, classes]: the last stage's output
  Codec sink_codec = Codec::float32;  // how it crosses the link to the sink
  int num_stages = 0;
  // The plan's tag in every frame sent under it (frame.h): the first 16
  // bits of its plan.yaml's SHA-256. Two plans share one with probability
  // 1/65536; then only the shape and sender checks tell their frames apart.
  uint16_t plan_tag = 0;
  artifacts::PlanDoc plan;
  data::ModelCard card;
};

// With `local`, every node's address becomes 127.0.0.1 (ports stay): the
// plan runs as processes on this machine whatever addresses it names.
// With `idle_if_absent`, a node the plan does not name gets a spec with no
// roles and no listen address (a running node switched to a plan without
// it idles); else that is an input error naming the plan's nodes.
NodeSpec load_node_spec(const std::string& plan_dir, const std::string& node, bool local = false,
                        bool idle_if_absent = false);

// Why the plan never sends this frame to this node, or "" when it may: the
// frames a node takes are data for its stage (the stage's input shape in
// this member's codec, from any member of the stage before it, or from the
// source for stage 1) and, on the sink's node, the last stage's [1, classes]
// in the sink link's codec from any member of the last stage, and the
// source's end of stream; data frames only under this node's plan (its
// plan_tag). Anything else is dropped
// and counted before it reaches a worker or the sink.
std::string unplanned_frame(const NodeSpec& spec, const FrameHeader& header);

// The largest frame (header + payload) the plan sends to this node.
int64_t max_frame_bytes(const NodeSpec& spec);

// "tcp://host:port" of a plan node.
std::string endpoint_of(const artifacts::PlanNode& node);

// The plan node that sent a frame, by the frame's last hop and its sender's
// place in that stage's group (FrameHeader::member): the source for fresh
// windows and the end of stream. "" when the plan has no such sender.
std::string sender_of(const artifacts::PlanDoc& plan, const FrameHeader& header);

}  // namespace hare::runtime
