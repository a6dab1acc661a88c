#include "artifacts/planner.h"

#include <algorithm>
#include <filesystem>

#include "artifacts/plan.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "data/dataset.h"
#include "data/model_card.h"

namespace hare::artifacts {
namespace fs = std::filesystem;
using partition::Plan;
using partition::Problem;
using partition::Stage;

namespace {

// Real windows for the equivalence check, prepared exactly as the runtime's
// source will prepare them (the card's channels, window and normalization).
std::vector<float> check_windows(const WritePlanRequest& request, const data::ModelCard& card, const std::string& card_path) {
  std::vector<std::string> files = request.check_data;
  if (files.empty()) {
    for (const auto& file : card.validation_files) {
      // As given to hare-train (relative to where it ran), or next to the card's directory.
      const fs::path beside = fs::path(card_path).parent_path().parent_path() / file;
      files.push_back(fs::exists(file) ? file : beside.string());
    }
  }
  if (files.empty()) {
    throw input_error(Location{card_path}, "the model card names no validation recordings for the equivalence check")
        .with_hint("pass --check-data FILE (recordings in a format hare reads)");
  }
  std::vector<float> out;
  const size_t per_window = static_cast<size_t>(card.num_channels()) * static_cast<size_t>(card.window_samples);
  for (const auto& file : data::collect_files(files)) {
    const data::WindowSet windows = data::card_windows(card, data::read_for_card(card, {file}, ""));
    // Spread the picks over the recording rather than taking its first bout.
    const size_t want = static_cast<size_t>(request.check_windows) - out.size() / per_window;
    const size_t stride = std::max<size_t>(1, windows.size() / std::max<size_t>(1, want));
    for (size_t i = 0; i < windows.size() && out.size() / per_window < static_cast<size_t>(request.check_windows); i += stride) {
      out.insert(out.end(), windows.window_data(i), windows.window_data(i) + per_window);
    }
    if (out.size() / per_window >= static_cast<size_t>(request.check_windows)) break;
  }
  if (out.size() / per_window < 32) {
    throw input_error(Location{files.front()}, "only {} windows for the equivalence check; at least 32 are needed",
                      out.size() / per_window);
  }
  return out;
}


}  // namespace

WritePlanResult write_plan_dir(const WritePlanRequest& request) {
  const Problem& problem = *request.problem;
  const partition::ClusterConfig& cluster = *request.cluster;
  const Plan& plan = request.result->plans.front();
  const partition::PlanMetrics& metrics = request.result->metrics.front();
  const std::string card_path = request.card_path.empty() ? data::card_path_for_model(request.model_path) : request.card_path;
  const data::ModelCard card = data::read_model_card(card_path);

  WritePlanResult result;
  const std::string staging = make_staging_dir(request.out);
  try {
    // 1. Slices, then the check on the saved files (what will be deployed).
    fs::create_directories(fs::path(staging) / "slices");
    std::vector<model::SliceSpec> specs;
    std::vector<std::string> slice_paths;
    for (size_t k = 0; k < plan.stages.size(); ++k) {
      specs.push_back(model::SliceSpec{plan.stages[k].first, plan.stages[k].last});
      slice_paths.push_back((fs::path(staging) / "slices" / fmt::format("stage-{}.pt", k + 1)).string());
    }
    model::write_slices(request.model_path, request.expand, specs, slice_paths);
    const std::vector<float> windows = check_windows(request, card, card_path);
    // The codec on the way into each stage, then to the sink (float32 on a node).
    std::vector<Codec> codecs;
    int from = problem.source;
    for (const auto& s : plan.stages) {
      codecs.push_back(problem.link_codec(from, s.node));
      from = s.node;
    }
    codecs.push_back(problem.link_codec(from, problem.sink));
    result.check = model::check_equivalence(request.model_path, slice_paths, windows, card.input_shape, request.check_random,
                                            1e-5, codecs);
    if (!result.check.passed) {
      if (result.check.max_abs_diff <= 1e-5 && result.check.argmax_disagreements == 0) {
        throw failure("with the links' codecs the slices agree with the model on {:.1f}% of {} real windows, below the "
                      "{:.0f}% required (max |difference| {:.3g}); nothing was written",
                      100.0 * result.check.lossy_agreement, result.check.real_windows, 100.0 * result.check.lossy_required,
                      result.check.lossy_max_abs_diff)
            .with_hint("use a less lossy codec on those links (float16, or float32)");
      }
      throw failure("the chained slices do not reproduce the model: max |difference| {:.3g} (tolerance 1e-5), {} "
                    "argmax disagreements over {} windows; nothing was written",
                    result.check.max_abs_diff, result.check.argmax_disagreements,
                    result.check.real_windows + result.check.random_windows);
    }

    // 2. plan.yaml, the card, one file per node.
    PlanDoc doc;
    doc.model_name = card.name;
    doc.model_sha256 = card.model_sha256;
    doc.cluster_name = cluster.name;
    doc.cluster_sha256 = sha256_file(request.cluster_path);
    doc.objective = partition::objective_name(request.objective);
    doc.method = request.result->method;
    doc.exact = request.result->exact;
    doc.window_rate = problem.window_rate;
    doc.slo_latency_ms = problem.slo_latency_ms;
    doc.source = problem.nodes[static_cast<size_t>(problem.source)].name;
    doc.sink = problem.nodes[static_cast<size_t>(problem.sink)].name;
    doc.latency_ms = metrics.latency_ms;
    doc.throughput = metrics.throughput;
    doc.cores = metrics.cores;
    doc.source_transfer_ms = metrics.xfer_in_ms;
    doc.sink_hop_ms = metrics.sink_hop_ms;
    doc.codec_to_sink = codecs.back();
    doc.in_bytes = problem.out_bytes[0];
    doc.bytes_leaving_source = partition::bytes_leaving_source(problem, plan);
    for (size_t k = 0; k < plan.stages.size(); ++k) {
      const Stage& s = plan.stages[k];
      PlanStage stage;
      stage.index = static_cast<int>(k + 1);
      stage.node = problem.nodes[static_cast<size_t>(s.node)].name;
      stage.first_layer = s.first + 1;
      stage.last_layer = s.last + 1;
      for (int i = s.first; i <= s.last; ++i) stage.layers.push_back(problem.layer_names[static_cast<size_t>(i)]);
      stage.replicas = s.replicas;
      stage.threads = s.threads;
      stage.compute_ms = metrics.stage[k].compute_ms;
      stage.codec_in = codecs[k];
      stage.wake_ms = metrics.stage[k].wake_ms;
      stage.hops_ms = metrics.stage[k].hops_ms;
      stage.out_bytes = metrics.stage[k].out_bytes;
      stage.transfer_ms = metrics.stage[k].xfer_out_ms;
      stage.memory_bytes = metrics.stage[k].memory_bytes;
      stage.slice = fmt::format("slices/stage-{}.pt", k + 1);
      if (k < result.check.slice_input_shapes.size()) stage.input_shape = result.check.slice_input_shapes[k];
      doc.stages.push_back(stage);
    }
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      const auto& config = cluster.nodes[i];
      PlanNode node;
      node.name = config.name;
      node.address = config.address;
      node.port = request.base_port + static_cast<int>(i);
      node.cores = config.cores;
      node.mem_bytes = config.mem_bytes;
      for (const auto& device : cluster.devices) {
        if (device.name == config.device) node.time_factor = device.time_factor;
      }
      if (config.name == doc.source) node.roles.push_back("source");
      for (const auto& stage : doc.stages) {
        if (stage.node == config.name) {
          node.roles.push_back("stage");
          node.stage = stage.index;
        }
      }
      if (config.name == doc.sink) node.roles.push_back("sink");
      if (!node.roles.empty()) doc.nodes.push_back(node);
    }
    for (const auto& a : doc.nodes) {
      for (const auto& b : doc.nodes) {
        if (a.name == b.name) continue;
        const partition::Link& link = problem.links[static_cast<size_t>(cluster.node_index(a.name))]
                                                   [static_cast<size_t>(cluster.node_index(b.name))];
        doc.links.push_back(PlanLink{a.name, b.name, link.bandwidth_mbps, link.latency_ms});
      }
    }
    doc.check_real_windows = result.check.real_windows;
    doc.check_random_windows = result.check.random_windows;
    doc.check_max_abs_diff = result.check.max_abs_diff;
    if (result.check.lossy) {
      doc.check_lossy_agreement = result.check.lossy_agreement;
      doc.check_lossy_required = result.check.lossy_required;
      doc.check_lossy_max_abs_diff = result.check.lossy_max_abs_diff;
    }
    write_file_atomic((fs::path(staging) / "plan.yaml").string(), plan_to_yaml(doc));
    write_file_atomic((fs::path(staging) / "model.yaml").string(), read_file(card_path));
    for (const auto& node : doc.nodes) {
      write_file_atomic((fs::path(staging) / "nodes" / (node.name + ".yaml")).string(), node_file_yaml(doc, node));
    }
    // 3. The manifest, then the move into place.
    write_manifest(staging);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  result.commit = commit_plan_dir(staging, request.out, request.force);
  return result;
}

}  // namespace hare::artifacts
