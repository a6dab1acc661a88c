#pragma once

// The model card (models/<name>.yaml, format hare-model-card/1) travels with
// every TorchScript model: everything needed to feed the model correctly
// (channels, window, step, rate, normalization, classes) and what is known
// about it (training subjects, validation scores, the .pt's SHA-256). It is
// torch-free so that partitioning and the runtime's source can read it.

#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/metrics.h"
#include "data/normalization.h"

namespace hare::data {

struct TrainingInfo {
  int seed = 0;
  int epochs_run = 0;
  int best_epoch = 0;
  int max_epochs = 0;
  int patience = 0;
  int batch_size = 0;
  double learning_rate = 0.0;
  int threads = 0;
  int train_step_samples = 0;
  size_t train_windows = 0;
  size_t validation_windows = 0;
  double time_s = 0.0;
  std::string augmentation;
  std::string arch;  // hare-train --arch ("cnn", "deepconvlstm"); "" when not recorded
  double grad_clip_norm = 0.0;  // max global L2 norm of the gradients per step; 0 = not clipped
  double weight_decay = -1.0;     // AdamW's decoupled weight decay; < 0 = not recorded (cards before it)
  double label_smoothing = -1.0;  // of the cross-entropy targets; < 0 = not recorded (cards before it)
};

struct ModelCard {
  std::string name;
  std::string architecture;
  std::string model_file;  // file name of the .pt, relative to the card
  std::string model_sha256;
  int64_t model_bytes = 0;
  int64_t parameters = 0;
  std::vector<int64_t> input_shape;  // [1, C, W]
  std::vector<std::string> layers;   // top-level children in chain order
  std::vector<std::string> channels;
  double sample_rate_hz = 0.0;
  int window_samples = 0;
  int step_samples = 0;
  double purity = 0.75;
  std::string dataset_spec;
  Normalization normalization;
  std::vector<std::string> classes;
  std::vector<std::string> train_subjects;
  std::vector<std::string> validation_subjects;
  // The recordings of the validation subjects, as given to hare-train
  // (relative to where it ran); hare-partition checks slices on them.
  std::vector<std::string> validation_files;
  // A card of a model hare did not train (hare-train card) has neither: its
  // file holds no training or validation section.
  bool trained_by_hare = true;
  TrainingInfo training;
  ClassificationReport validation;
  std::string created;  // ISO 8601 UTC

  int num_channels() const { return static_cast<int>(channels.size()); }
};

// The top-level children that segment names (as profiles and plans list
// them) belong to, in order: an expanded chain's "block.0", "block.1" count
// once, as "block"; a segment that spans children ("chest+ankle",
// model/segments.h) counts each. What a card's `layers` lists, whatever the
// --expand setting of a profile.
std::vector<std::string> top_level_layers(const std::vector<std::string>& layer_names);

// "models/ref.pt" -> "models/ref.yaml".
std::string card_path_for_model(const std::string& model_path);

// The card of the model at `model_path`: `card_path`, or <model>.yaml next to
// the model when that is empty. A card that does not exist is an input error
// in one line naming it and the command that writes one (hare-train card):
// every tool that needs a card says the same.
ModelCard read_card_for_model(const std::string& model_path, const std::string& card_path = "");
Error missing_card_error(const std::string& model_path, const std::string& card_path);

// The idiom of common/yaml_util.h: every error of the file at once, with
// file:line:col (missing keys, wrong types, unknown keys, shapes that disagree).
ModelCard parse_model_card(const std::string& text, const std::string& origin);
ModelCard read_model_card(const std::string& path);
std::string model_card_to_yaml(const ModelCard& card);
void write_model_card(const std::string& path, const ModelCard& card);

}  // namespace hare::data
