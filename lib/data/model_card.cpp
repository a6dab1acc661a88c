#include "data/model_card.h"

#include <algorithm>
#include <limits>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/yaml_util.h"

namespace hare::data {

std::vector<std::string> top_level_layers(const std::vector<std::string>& layer_names) {
  std::vector<std::string> top_level;
  for (const auto& name : layer_names) {
    size_t begin = 0;
    while (begin <= name.size()) {
      const size_t plus = std::min(name.find('+', begin), name.size());
      const std::string part = name.substr(begin, plus - begin);
      const std::string top = part.substr(0, part.find('.'));
      if (top_level.empty() || top_level.back() != top) top_level.push_back(top);
      begin = plus + 1;
    }
  }
  return top_level;
}

std::string card_path_for_model(const std::string& model_path) {
  std::filesystem::path path(model_path);
  path.replace_extension(".yaml");
  return path.string();
}

std::string model_card_to_yaml(const ModelCard& card) {
  const char* const comment = card.trained_by_hare
                                  ? "hare model card: how to feed this model, and how well it did"
                                  : "hare model card: how to feed this model (not trained by hare: no training or "
                                    "validation section)";
  return yaml::write_document("hare-model-card/1", comment, [&](YAML::Emitter& out) {
    out << YAML::Key << "name" << YAML::Value << card.name;
    out << YAML::Key << "architecture" << YAML::Value << card.architecture;
    out << YAML::Key << "model_file" << YAML::Value << card.model_file;
    out << YAML::Key << "model_sha256" << YAML::Value << card.model_sha256;
    out << YAML::Key << "model_bytes" << YAML::Value << card.model_bytes;
    out << YAML::Key << "parameters" << YAML::Value << card.parameters;
    out << YAML::Key << "input_shape" << YAML::Value << YAML::Flow << card.input_shape;
    out << YAML::Key << "layers" << YAML::Value << YAML::Flow << card.layers;
    out << YAML::Key << "channels" << YAML::Value << YAML::Flow << card.channels;
    out << YAML::Key << "sample_rate_hz" << YAML::Value << fmt::format("{:g}", card.sample_rate_hz);
    out << YAML::Key << "window_samples" << YAML::Value << card.window_samples;
    out << YAML::Key << "step_samples" << YAML::Value << card.step_samples;
    out << YAML::Key << "label_purity" << YAML::Value << fmt::format("{:g}", card.purity);
    out << YAML::Key << "dataset_spec" << YAML::Value << card.dataset_spec;
    out << YAML::Key << "normalization" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "mean" << YAML::Value << YAML::Flow << card.normalization.mean;
    out << YAML::Key << "std" << YAML::Value << YAML::Flow << card.normalization.std;
    out << YAML::EndMap;
    out << YAML::Key << "classes" << YAML::Value << YAML::Flow << card.classes;
    out << YAML::Key << "train_subjects" << YAML::Value << YAML::Flow << card.train_subjects;
    out << YAML::Key << "validation_subjects" << YAML::Value << YAML::Flow << card.validation_subjects;
    out << YAML::Key << "validation_files" << YAML::Value << YAML::Flow << card.validation_files;
    if (card.trained_by_hare) {
      const TrainingInfo& t = card.training;
      out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
      if (!t.arch.empty()) out << YAML::Key << "arch" << YAML::Value << t.arch;
      out << YAML::Key << "seed" << YAML::Value << t.seed;
      out << YAML::Key << "epochs_run" << YAML::Value << t.epochs_run;
      out << YAML::Key << "best_epoch" << YAML::Value << t.best_epoch;
      out << YAML::Key << "max_epochs" << YAML::Value << t.max_epochs;
      out << YAML::Key << "patience" << YAML::Value << t.patience;
      out << YAML::Key << "batch_size" << YAML::Value << t.batch_size;
      out << YAML::Key << "learning_rate" << YAML::Value << fmt::format("{:g}", t.learning_rate);
      out << YAML::Key << "threads" << YAML::Value << t.threads;
      out << YAML::Key << "train_step_samples" << YAML::Value << t.train_step_samples;
      out << YAML::Key << "train_windows" << YAML::Value << t.train_windows;
      out << YAML::Key << "validation_windows" << YAML::Value << t.validation_windows;
      out << YAML::Key << "time_s" << YAML::Value << fmt::format("{:.1f}", t.time_s);
      out << YAML::Key << "augmentation" << YAML::Value << t.augmentation;
      if (t.grad_clip_norm > 0.0) out << YAML::Key << "grad_clip_norm" << YAML::Value << fmt::format("{:g}", t.grad_clip_norm);
      if (t.weight_decay >= 0.0) out << YAML::Key << "weight_decay" << YAML::Value << fmt::format("{:g}", t.weight_decay);
      if (t.label_smoothing >= 0.0) {
        out << YAML::Key << "label_smoothing" << YAML::Value << fmt::format("{:g}", t.label_smoothing);
      }
      out << YAML::EndMap;
      out << YAML::Key << "validation" << YAML::Value << YAML::BeginMap;
      emit_report(out, card.validation);
      out << YAML::EndMap;
    }
    out << YAML::Key << "created" << YAML::Value << card.created;
  });
}

void write_model_card(const std::string& path, const ModelCard& card) {
  write_file_atomic(path, model_card_to_yaml(card));
}

ModelCard parse_model_card(const std::string& text, const std::string& origin) {
  yaml::Reader r(text, origin, "hare-model-card/1", "model card");
  const YAML::Node& root = r.root();
  r.keys(root, {"format", "name", "architecture", "model_file", "model_sha256", "model_bytes", "parameters", "input_shape",
                "layers", "channels", "sample_rate_hz", "window_samples", "step_samples", "label_purity", "dataset_spec",
                "normalization", "classes", "train_subjects", "validation_subjects", "validation_files", "training",
                "validation", "created"});
  ModelCard card;
  r.required(root, "name", r.into_name(card.name, "model name"));
  r.optional(root, "architecture", r.into(card.architecture, "architecture"));
  r.required(root, "model_file", r.into(card.model_file, "model_file"));
  r.required(root, "model_sha256", r.into(card.model_sha256, "model_sha256"));
  r.optional(root, "model_bytes", r.into(card.model_bytes, "model_bytes", 0));
  r.optional(root, "parameters", r.into(card.parameters, "parameters", 0));
  r.required(root, "input_shape", [&](const YAML::Node& n) {
    for (double d : r.numbers(n, "input_shape")) card.input_shape.push_back(static_cast<int64_t>(d));
  });
  r.optional(root, "layers", r.into(card.layers, "layers"));
  r.required(root, "channels", r.into(card.channels, "channels"));
  r.required(root, "sample_rate_hz", [&](const YAML::Node& n) { card.sample_rate_hz = r.positive(n, "sample_rate_hz"); });
  r.required(root, "window_samples", r.into(card.window_samples, "window_samples", 1));
  r.required(root, "step_samples", r.into(card.step_samples, "step_samples", 1));
  r.optional(root, "label_purity", r.into(card.purity, "label_purity"));
  r.optional(root, "dataset_spec", r.into(card.dataset_spec, "dataset_spec"));
  const YAML::Node norm = r.section(root, "normalization");
  r.keys(norm, {"mean", "std"});
  r.required(norm, "mean", [&](const YAML::Node& n) { card.normalization.mean = r.numbers(n, "normalization.mean"); });
  r.required(norm, "std", [&](const YAML::Node& n) { card.normalization.std = r.numbers(n, "normalization.std"); });
  r.required(root, "classes", [&](const YAML::Node& n) {
    card.classes = r.strings(n, "classes");
    if (card.classes.empty()) throw r.error(n, "classes must not be empty");
  });
  r.optional(root, "train_subjects", r.into(card.train_subjects, "train_subjects"));
  r.optional(root, "validation_subjects", r.into(card.validation_subjects, "validation_subjects"));
  r.optional(root, "validation_files", r.into(card.validation_files, "validation_files"));
  r.optional(root, "created", r.into(card.created, "created"));

  TrainingInfo& t = card.training;
  const YAML::Node training = r.optional_section(root, "training");
  card.trained_by_hare = training.IsMap();
  r.keys(training, {"arch", "seed", "epochs_run", "best_epoch", "max_epochs", "patience", "batch_size", "learning_rate", "threads",
                    "train_step_samples", "train_windows", "validation_windows", "time_s", "augmentation", "grad_clip_norm",
                    "weight_decay", "label_smoothing"});
  r.optional(training, "arch", r.into(t.arch, "training.arch"));
  r.optional(training, "seed", [&](const YAML::Node& n) { t.seed = static_cast<int>(r.in_range(n, "training.seed", std::numeric_limits<int>::min(), std::numeric_limits<int>::max())); });
  r.optional(training, "epochs_run", r.into(t.epochs_run, "training.epochs_run", 0));
  r.optional(training, "best_epoch", r.into(t.best_epoch, "training.best_epoch", 0));
  r.optional(training, "max_epochs", r.into(t.max_epochs, "training.max_epochs", 0));
  r.optional(training, "patience", r.into(t.patience, "training.patience", 0));
  r.optional(training, "batch_size", r.into(t.batch_size, "training.batch_size", 0));
  r.optional(training, "learning_rate", r.into(t.learning_rate, "training.learning_rate"));
  r.optional(training, "threads", r.into(t.threads, "training.threads", 0));
  r.optional(training, "train_step_samples", r.into(t.train_step_samples, "training.train_step_samples", 0));
  r.optional(training, "train_windows", r.into(t.train_windows, "training.train_windows", 0));
  r.optional(training, "validation_windows", r.into(t.validation_windows, "training.validation_windows", 0));
  r.optional(training, "time_s", r.into(t.time_s, "training.time_s"));
  r.optional(training, "augmentation", r.into(t.augmentation, "training.augmentation"));
  r.optional(training, "grad_clip_norm", r.into(t.grad_clip_norm, "training.grad_clip_norm"));
  r.optional(training, "weight_decay", r.into(t.weight_decay, "training.weight_decay"));
  r.optional(training, "label_smoothing", r.into(t.label_smoothing, "training.label_smoothing"));
  card.validation = read_report(r, r.optional_section(root, "validation"), card.classes);
  r.finish();

  // Cross-field checks, once every field has been read.
  const int channels = card.num_channels();
  if (card.input_shape.size() != 3 || card.input_shape[0] != 1 || card.input_shape[1] != channels ||
      card.input_shape[2] != card.window_samples) {
    r.add(root["input_shape"], fmt::format("input_shape must be [1, {}, {}] (channels, window_samples)", channels,
                                           card.window_samples));
  }
  if (card.normalization.mean.size() != static_cast<size_t>(channels) ||
      card.normalization.std.size() != static_cast<size_t>(channels)) {
    r.add(norm, fmt::format("normalization must have {} means and stds", channels));
  }
  for (double s : card.normalization.std) {
    if (!(s > 0.0)) {
      r.add(norm["std"], "normalization std values must be positive");
      break;
    }
  }
  r.finish();
  return card;
}

ModelCard read_model_card(const std::string& path) { return parse_model_card(read_file(path), path); }

Error missing_card_error(const std::string& model_path, const std::string& card_path) {
  const std::string out = card_path == card_path_for_model(model_path) ? "" : " --out " + card_path;
  return input_error(Location{card_path},
                     "no model card for {} (hare needs the model's channels, window, normalization and classes); "
                     "write one with 'hare-train card --model {} --spec SPEC --window W --step S "
                     "--fit-normalization TRAINING_FILES{}' (or --no-normalization)",
                     model_path, model_path, out);
}

ModelCard read_card_for_model(const std::string& model_path, const std::string& card_path) {
  const std::string path = card_path.empty() ? card_path_for_model(model_path) : card_path;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    // Without the model, the card is not what is missing first.
    if (!std::filesystem::exists(model_path, ec)) throw input_error(Location{model_path}, "model file not found");
    throw missing_card_error(model_path, path);
  }
  return read_model_card(path);
}

}  // namespace hare::data
