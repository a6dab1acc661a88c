#include "artifacts/slicer.h"

#include <algorithm>
#include <filesystem>

#include "artifacts/plan.h"
#include "common/error.h"
#include "common/fs.h"
#include "data/dataset.h"
#include "data/model_card.h"

namespace hare::artifacts {
namespace fs = std::filesystem;

namespace {

// Real windows for the equivalence check, prepared exactly as the runtime's
// source will prepare them (the card's channels, window and normalization).
std::vector<float> check_windows(const SliceJob& job, const data::ModelCard& card) {
  std::vector<std::string> files = job.check_data;
  if (files.empty()) {
    for (const auto& file : card.validation_files) {
      // As given to hare-train (relative to where it ran), or next to the card's directory.
      const fs::path beside = fs::path(job.card_path).parent_path().parent_path() / file;
      files.push_back(fs::exists(file) ? file : beside.string());
    }
  }
  if (files.empty()) {
    throw input_error(Location{job.card_path}, "the model card names no validation recordings for the equivalence check")
        .with_hint("pass --check-data FILE (recordings in a format hare reads)");
  }
  std::vector<float> out;
  const size_t per_window = static_cast<size_t>(card.num_channels()) * static_cast<size_t>(card.window_samples);
  const size_t wanted = static_cast<size_t>(job.check_windows);
  for (const auto& file : data::collect_files(files)) {
    const data::WindowSet windows = data::card_windows(card, data::read_for_card(card, {file}, ""));
    // Spread the picks over the recording rather than taking its first bout.
    const size_t want = wanted - out.size() / per_window;
    const size_t stride = std::max<size_t>(1, windows.size() / std::max<size_t>(1, want));
    for (size_t i = 0; i < windows.size() && out.size() / per_window < wanted; i += stride) {
      out.insert(out.end(), windows.window_data(i), windows.window_data(i) + per_window);
    }
    if (out.size() / per_window >= wanted) break;
  }
  if (out.size() / per_window < 32) {
    throw input_error(Location{files.front()}, "only {} windows for the equivalence check; at least 32 are needed",
                      out.size() / per_window);
  }
  return out;
}

}  // namespace

model::EquivalenceReport run_slice_job(const SliceJob& job) {
  const PlanDoc plan = read_plan((fs::path(job.plan_dir) / "plan.yaml").string());
  const data::ModelCard card = data::read_card_for_model(job.model_path, job.card_path);

  // 1. Slices, then the check on the saved files (what will be deployed).
  std::vector<model::SliceSpec> specs;
  std::vector<std::string> slice_paths;
  // The codec on the way into each stage (the lossiest into any member of
  // its group), then to the sink (float32 on a node).
  std::vector<Codec> codecs;
  for (const PlanStage& stage : plan.stages) {
    specs.push_back(model::SliceSpec{stage.first_layer - 1, stage.last_layer - 1});
    const fs::path path = fs::path(job.plan_dir) / stage.slice;
    make_dirs(path.parent_path().string());
    slice_paths.push_back(path.string());
    codecs.push_back(stage.lossiest_codec_in());
  }
  codecs.push_back(plan.codec_to_sink);
  model::write_slices(job.model_path, job.expand, specs, slice_paths);
  const std::vector<float> windows = check_windows(job, card);
  return model::check_equivalence(job.model_path, slice_paths, windows, card.input_shape, job.check_random, 1e-5, codecs);
}

}  // namespace hare::artifacts
