#include "data/model_card.h"

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/yaml_util.h"

namespace hare::data {

std::string card_path_for_model(const std::string& model_path) {
  std::filesystem::path path(model_path);
  path.replace_extension(".yaml");
  return path.string();
}

std::string model_card_to_yaml(const ModelCard& card) {
  YAML::Emitter out;
  out << YAML::Comment("hare model card: how to feed this model, and how well it did");
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << "hare-model-card/1";
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
  const TrainingInfo& t = card.training;
  out << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
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
  out << YAML::EndMap;
  out << YAML::Key << "validation" << YAML::Value << YAML::BeginMap;
  emit_report(out, card.validation);
  out << YAML::EndMap;
  out << YAML::Key << "created" << YAML::Value << card.created;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void write_model_card(const std::string& path, const ModelCard& card) {
  write_file_atomic(path, model_card_to_yaml(card));
}

ModelCard read_model_card(const std::string& path) {
  const yaml::Document doc = yaml::load_file(path);
  const YAML::Node& root = doc.root;
  ModelCard card;
  auto str = [&](const char* key) { return yaml::as_string(doc, yaml::require(doc, root, key), key); };
  auto strings = [&](const char* key) { return yaml::as_string_list(doc, yaml::require(doc, root, key), key); };
  const YAML::Node format = yaml::require(doc, root, "format");
  if (yaml::as_string(doc, format, "format") != "hare-model-card/1") {
    throw yaml::error_at(doc, format, "unsupported model card format (expected hare-model-card/1)");
  }
  card.name = str("name");
  card.architecture = root["architecture"] ? str("architecture") : "";
  card.model_file = str("model_file");
  card.model_sha256 = str("model_sha256");
  card.channels = strings("channels");
  card.classes = strings("classes");
  card.layers = root["layers"] ? strings("layers") : std::vector<std::string>{};
  card.sample_rate_hz = yaml::as_double(doc, yaml::require(doc, root, "sample_rate_hz"), "sample_rate_hz");
  card.window_samples = static_cast<int>(yaml::as_int(doc, yaml::require(doc, root, "window_samples"), "window_samples"));
  card.step_samples = static_cast<int>(yaml::as_int(doc, yaml::require(doc, root, "step_samples"), "step_samples"));
  if (root["label_purity"]) card.purity = yaml::as_double(doc, root["label_purity"], "label_purity");
  if (root["dataset_spec"]) card.dataset_spec = str("dataset_spec");
  if (root["model_bytes"]) card.model_bytes = yaml::as_int(doc, root["model_bytes"], "model_bytes");
  if (root["parameters"]) card.parameters = yaml::as_int(doc, root["parameters"], "parameters");
  const YAML::Node shape = yaml::require(doc, root, "input_shape");
  for (double d : yaml::as_double_list(doc, shape, "input_shape")) card.input_shape.push_back(static_cast<int64_t>(d));
  const YAML::Node norm = yaml::require(doc, root, "normalization");
  card.normalization.mean = yaml::as_double_list(doc, yaml::require(doc, norm, "mean"), "normalization.mean");
  card.normalization.std = yaml::as_double_list(doc, yaml::require(doc, norm, "std"), "normalization.std");
  if (root["train_subjects"]) card.train_subjects = strings("train_subjects");
  if (root["validation_subjects"]) card.validation_subjects = strings("validation_subjects");
  if (root["validation_files"]) card.validation_files = strings("validation_files");
  if (root["created"]) card.created = str("created");

  const int channels = card.num_channels();
  if (card.input_shape.size() != 3 || card.input_shape[0] != 1 || card.input_shape[1] != channels ||
      card.input_shape[2] != card.window_samples) {
    throw yaml::error_at(doc, shape,
                         fmt::format("input_shape must be [1, {}, {}] (channels, window_samples)", channels,
                                     card.window_samples));
  }
  if (card.normalization.mean.size() != static_cast<size_t>(channels) ||
      card.normalization.std.size() != static_cast<size_t>(channels)) {
    throw yaml::error_at(doc, norm, fmt::format("normalization must have {} means and stds", channels));
  }
  for (double s : card.normalization.std) {
    if (!(s > 0.0)) throw yaml::error_at(doc, norm, "normalization std values must be positive");
  }
  if (card.window_samples < 1 || card.step_samples < 1 || !(card.sample_rate_hz > 0.0)) {
    throw yaml::error_at(doc, root, "window_samples, step_samples and sample_rate_hz must be positive");
  }
  if (card.classes.empty()) throw yaml::error_at(doc, root["classes"], "classes must not be empty");
  try {
    if (const YAML::Node t = root["training"]) {
      if (t["seed"]) card.training.seed = t["seed"].as<int>();
      if (t["epochs_run"]) card.training.epochs_run = t["epochs_run"].as<int>();
      if (t["best_epoch"]) card.training.best_epoch = t["best_epoch"].as<int>();
      if (t["time_s"]) card.training.time_s = t["time_s"].as<double>();
    }
    card.validation = report_from_yaml(root["validation"], card.classes);
  } catch (const YAML::Exception& e) {
    throw input_error(yaml::where(doc, root), "malformed training/validation section: {}", e.msg);
  }
  return card;
}

}  // namespace hare::data
