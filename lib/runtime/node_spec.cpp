#include "runtime/node_spec.h"

#include <filesystem>

#include <fmt/format.h>

#include "artifacts/plan_dir.h"
#include "common/error.h"
#include "common/strings.h"
#include "runtime/frame.h"

namespace hare::runtime {
namespace fs = std::filesystem;

std::string endpoint_of(const artifacts::PlanNode& node) { return fmt::format("tcp://{}:{}", node.address, node.port); }

NodeSpec load_node_spec(const std::string& plan_dir, const std::string& node_name, bool local) {
  // A node may hold only its own files of the plan; those must be intact.
  artifacts::PlanDir loaded = artifacts::load_plan_dir(plan_dir, /*require_all=*/false);
  NodeSpec spec;
  spec.plan_dir = fs::absolute(plan_dir).string();
  spec.name = node_name;
  spec.plan = std::move(loaded.plan);
  spec.card = data::read_model_card((fs::path(plan_dir) / "model.yaml").string());
  if (local) {
    for (auto& node : spec.plan.nodes) node.address = "127.0.0.1";
  }
  const artifacts::PlanNode* node = spec.plan.find_node(node_name);
  if (node == nullptr) {
    std::vector<std::string> names;
    for (const auto& n : spec.plan.nodes) names.push_back(n.name);
    throw input_error(Location{plan_dir}, "the plan has no node '{}'{}", node_name, did_you_mean(node_name, names))
        .with_hint(fmt::format("nodes of this plan: {}", join(names, ", ")));
  }
  spec.listen = endpoint_of(*node);
  spec.num_stages = static_cast<int>(spec.plan.stages.size());
  spec.source = node_name == spec.plan.source;
  spec.sink = node_name == spec.plan.sink;
  spec.first_stage_endpoint = endpoint_of(*spec.plan.find_node(spec.plan.stages.front().node));
  spec.first_stage_codec = spec.plan.stages.front().codec_in;
  spec.sink_endpoint = endpoint_of(*spec.plan.find_node(spec.plan.sink));
  if (node->stage) {
    const artifacts::PlanStage& s = spec.plan.stages[static_cast<size_t>(*node->stage - 1)];
    StageSpec stage;
    stage.index = s.index;
    stage.slice_path = artifacts::slice_path(spec.plan_dir, s);
    stage.slice_sha256 = loaded.manifest.at(s.slice).sha256;
    if (!fs::exists(stage.slice_path)) {
      throw input_error(Location{plan_dir}, "node {} runs stage {} but its slice {} is missing", node_name, s.index, s.slice);
    }
    stage.replicas = s.replicas;
    stage.threads = s.threads;
    stage.memory_limit_bytes = s.memory_bytes;
    stage.predicted_compute_ms = s.compute_ms;
    stage.time_factor = node->time_factor;
    stage.input_shape = s.input_shape;
    const bool last = s.index == spec.num_stages;
    stage.sends_to = last ? spec.sink_endpoint
                          : endpoint_of(*spec.plan.find_node(spec.plan.stages[static_cast<size_t>(s.index)].node));
    stage.next_destination = last ? kSinkDestination : static_cast<uint16_t>(s.index + 1);
    stage.sends_codec = last ? spec.plan.codec_to_sink : spec.plan.stages[static_cast<size_t>(s.index)].codec_in;
    spec.stage = stage;
  }
  return spec;
}

}  // namespace hare::runtime
