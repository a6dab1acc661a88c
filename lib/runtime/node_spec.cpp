#include "runtime/node_spec.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "artifacts/plan_dir.h"
#include "common/error.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/frame.h"

namespace hare::runtime {
namespace fs = std::filesystem;

std::string endpoint_of(const artifacts::PlanNode& node) { return fmt::format("tcp://{}:{}", node.address, node.port); }

namespace {

// A stage's members as destinations, each with its own codec in.
std::vector<Destination> destinations_of(const artifacts::PlanDoc& plan, const artifacts::PlanStage& stage) {
  std::vector<Destination> out;
  for (const auto& member : stage.members) {
    out.push_back(Destination{endpoint_of(*plan.find_node(member.node)), member.node, member.share, member.codec_in});
  }
  return out;
}

}  // namespace

std::string sender_of(const artifacts::PlanDoc& plan, const FrameHeader& h) {
  if (h.kind == FrameKind::end || h.trace.empty()) return plan.source;
  const size_t stage = h.trace.back().stage;
  if (stage < 1 || stage > plan.stages.size()) return {};
  const auto& members = plan.stages[stage - 1].members;
  return h.member < members.size() ? members[h.member].node : std::string();
}

NodeSpec load_node_spec(const std::string& plan_dir, const std::string& node_name, bool local, bool idle_if_absent) {
  // A node may hold only its own files of the plan; those must be intact.
  artifacts::PlanDir loaded = artifacts::load_plan_dir(plan_dir, /*require_all=*/false);
  NodeSpec spec;
  spec.plan_dir = fs::absolute(plan_dir).string();
  spec.name = node_name;
  spec.plan = std::move(loaded.plan);
  const auto plan_entry = loaded.manifest.find("plan.yaml");
  const std::string plan_sha256 = plan_entry != loaded.manifest.end()
                                      ? plan_entry->second.sha256
                                      : sha256_file((fs::path(plan_dir) / "plan.yaml").string());
  spec.plan_tag = static_cast<uint16_t>(std::stoul(plan_sha256.substr(0, 4), nullptr, 16));
  const std::string card_path = (fs::path(plan_dir) / "model.yaml").string();
  spec.card = data::read_model_card(card_path);
  // The stages together are the whole model, ending in one score per class
  // (a plan cut short ran to exit 0 with predicted class 384).
  std::vector<std::string> layers;
  for (const auto& stage : spec.plan.stages) layers.insert(layers.end(), stage.layers.begin(), stage.layers.end());
  const std::vector<std::string> top_level = data::top_level_layers(layers);
  if (!spec.card.layers.empty() && top_level != spec.card.layers) {
    throw input_error(Location{plan_dir}, "the plan's stages run layers [{}], but the model ({}) has [{}]",
                      join(top_level, ", "), card_path, join(spec.card.layers, ", "))
        .with_hint("make the plan again with hare-partition --out");
  }
  const int64_t scores_bytes = 4 * static_cast<int64_t>(spec.card.classes.size());
  if (spec.plan.stages.back().out_bytes != scores_bytes) {
    throw input_error(Location{plan_dir}, "the last stage outputs {} bytes per window, not one float32 score for each of "
                      "the model's {} classes ({} bytes)",
                      spec.plan.stages.back().out_bytes, spec.card.classes.size(), scores_bytes)
        .with_hint("make the plan again with hare-partition --out");
  }
  // Stage 1 takes the source's windows, whose shape the card gives: a plan
  // that said otherwise had every window dropped as a bad frame, and exit 0.
  const std::vector<int64_t>& first_shape = spec.plan.stages.front().input_shape;
  if (!first_shape.empty() && first_shape != spec.card.input_shape) {
    throw input_error(Location{(fs::path(plan_dir) / "plan.yaml").string()},
                      "stage 1 takes windows of shape {}, but the model card ({}) gives them the shape {}",
                      shape_text(first_shape), card_path, shape_text(spec.card.input_shape))
        .with_hint("make the plan again with hare-partition --out");
  }
  if (local) {
    for (auto& node : spec.plan.nodes) node.address = "127.0.0.1";
  }
  const artifacts::PlanNode* node = spec.plan.find_node(node_name);
  spec.num_stages = static_cast<int>(spec.plan.stages.size());
  spec.first_stage = destinations_of(spec.plan, spec.plan.stages.front());
  spec.sink_endpoint = endpoint_of(*spec.plan.find_node(spec.plan.sink));
  spec.sink_shape = {1, static_cast<int64_t>(spec.card.classes.size())};
  spec.sink_codec = spec.plan.codec_to_sink;
  if (node == nullptr && idle_if_absent) return spec;  // no roles, no address of its own
  if (node == nullptr) {
    std::vector<std::string> names;
    for (const auto& n : spec.plan.nodes) names.push_back(n.name);
    throw input_error(Location{plan_dir}, "the plan has no node '{}'{}", node_name, did_you_mean(node_name, names))
        .with_hint(fmt::format("nodes of this plan: {}", join(names, ", ")));
  }
  spec.listen = endpoint_of(*node);
  spec.source = node_name == spec.plan.source;
  spec.sink = node_name == spec.plan.sink;
  if (node->stage) {
    const artifacts::PlanStage& s = spec.plan.stages[static_cast<size_t>(*node->stage - 1)];
    const artifacts::PlanMember& member = *s.find_member(node_name);  // parse_plan checked it is one
    StageSpec stage;
    stage.index = s.index;
    stage.member = static_cast<int>(&member - s.members.data());
    for (const auto& m : s.members) stage.group.push_back(m.node);
    stage.share = member.share;
    stage.slice_path = artifacts::slice_path(spec.plan_dir, s);
    stage.slice_sha256 = loaded.manifest.at(s.slice).sha256;
    if (!fs::exists(stage.slice_path)) {
      throw input_error(Location{plan_dir}, "node {} runs stage {} but its slice {} is missing", node_name, s.index, s.slice);
    }
    stage.replicas = member.replicas;
    stage.threads = member.threads;
    stage.memory_limit_bytes = member.memory_bytes;
    stage.predicted_compute_ms = member.compute_ms;
    stage.time_factor = node->time_factor;
    stage.input_shape = s.input_shape;
    // Stage 1 takes the source's windows, whose shape the card gives.
    if (stage.input_shape.empty() && s.index == 1) stage.input_shape = spec.card.input_shape;
    stage.input_values = 1;
    for (int64_t d : stage.input_shape) stage.input_values *= static_cast<uint64_t>(std::max<int64_t>(d, 0));
    if (stage.input_shape.empty() && s.index == 1) {
      throw input_error(Location{plan_dir}, "stage 1 has no input_shape, and neither has the model card")
          .with_hint("make the plan again with hare-partition --out");
    }
    if (stage.input_shape.empty()) {
      // A plan from before input shapes: the stage before says how many floats.
      stage.input_values = static_cast<uint64_t>(spec.plan.stages[static_cast<size_t>(s.index - 2)].out_bytes / 4);
    }
    stage.input_codec = member.codec_in;
    const bool last = s.index == spec.num_stages;
    stage.sends_to = last ? std::vector<Destination>{Destination{spec.sink_endpoint, spec.plan.sink, 1.0, spec.plan.codec_to_sink}}
                          : destinations_of(spec.plan, spec.plan.stages[static_cast<size_t>(s.index)]);
    stage.next_destination = last ? kSinkDestination : static_cast<uint16_t>(s.index + 1);
    spec.stage = stage;
  }
  return spec;
}

std::string unplanned_frame(const NodeSpec& spec, const FrameHeader& h) {
  // The end of stream counts the windows whatever the plan (it goes
  // straight from the source to the sink, and is sent once).
  if (h.kind == FrameKind::data && h.plan_tag != spec.plan_tag) {
    return "sent under another plan (in flight at a switch: the source sends it again under this one)";
  }
  if (spec.sink && h.destination == kSinkDestination) {
    if (h.kind == FrameKind::end) return h.shape.empty() && h.trace.empty() ? "" : "an end of stream with a shape or trace";
    if (h.shape != spec.sink_shape || h.dtype != static_cast<DType>(spec.sink_codec)) {
      return "a shape or dtype the plan never sends to the sink";
    }
    if (h.trace.empty() || h.trace.back().stage != spec.num_stages) return "for the sink, not from the last stage";
    if (h.member >= spec.plan.stages.back().members.size()) return "for the sink, from no member of the last stage";
    return "";
  }
  if (spec.stage && h.destination == spec.stage->index) {
    const StageSpec& stage = *spec.stage;
    if (h.kind != FrameKind::data) return "an end of stream addressed to a stage";
    uint64_t values = 1;
    for (int64_t d : h.shape) values *= static_cast<uint64_t>(d);
    const bool shape_ok = stage.input_shape.empty() ? values == stage.input_values : h.shape == stage.input_shape;
    if (!shape_ok || h.dtype != static_cast<DType>(stage.input_codec)) {
      return fmt::format("a shape or dtype the plan never sends to stage {}", stage.index);
    }
    const bool from_before = stage.index == 1 ? h.trace.empty() : !h.trace.empty() && h.trace.back().stage == stage.index - 1;
    if (!from_before) return fmt::format("for stage {}, not from the stage before it", stage.index);
    const size_t senders = stage.index == 1 ? 1 : spec.plan.stages[static_cast<size_t>(stage.index - 2)].members.size();
    if (h.member >= senders) return fmt::format("for stage {}, from no member of the stage before it", stage.index);
    return "";
  }
  return "not addressed to this node";
}

int64_t max_frame_bytes(const NodeSpec& spec) {
  uint64_t payload = 0;
  if (spec.stage) payload = std::max(payload, wire_bytes(spec.stage->input_codec, spec.stage->input_values));
  if (spec.sink) payload = std::max(payload, wire_bytes(spec.sink_codec, static_cast<uint64_t>(spec.card.classes.size())));
  return static_cast<int64_t>(kHeaderBytes + payload);
}

}  // namespace hare::runtime
