#include "model/card_writer.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "common/diag.h"
#include "common/error.h"
#include "common/names.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "data/dataset.h"
#include "data/dataset_spec.h"
#include "data/normalization.h"
#include "data/split.h"
#include "model/reference_model.h"
#include "model/segments.h"
#include "model/torch_boundary.h"

namespace hare::model {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> card_channels(const CardOptions& options, const data::DatasetSpec& spec) {
  const std::vector<std::string> channels = options.channels.empty() ? spec.default_channels : options.channels;
  for (const auto& channel : channels) {
    if (std::find(spec.channels.begin(), spec.channels.end(), channel) == spec.channels.end()) {
      throw input_error(Location{}, "--channels: '{}' is not a channel of dataset spec '{}'{}", channel, spec.name,
                        did_you_mean(channel, spec.channels))
          .with_hint(fmt::format("available channels: {}", join(spec.channels, ", ")));
    }
  }
  return channels;
}

// The model's classes in output order, and who named them (for messages).
std::vector<std::string> card_classes(const CardOptions& options, const data::DatasetSpec& spec, std::string* named_by) {
  std::vector<std::string> labels;
  if (options.keep_null && spec.null_label) labels.push_back("null");
  for (const auto& name : spec.class_names()) labels.push_back(name);
  if (options.classes.empty()) {
    if (labels.empty()) {
      throw input_error(Location{}, "dataset spec '{}' has no labels to name the model's classes", spec.name)
          .with_hint("pass --classes with the class names in the model's output order");
    }
    *named_by = fmt::format("the spec's labels ({}) name", spec.name);
    return labels;
  }
  *named_by = "--classes names";
  std::set<std::string> seen;
  for (const auto& name : options.classes) {
    if (!seen.insert(name).second) throw input_error(Location{}, "--classes names '{}' twice", name);
    // Evaluation maps the recordings' labels onto the card's classes by name.
    if (!labels.empty() && std::find(labels.begin(), labels.end(), name) == labels.end()) {
      throw input_error(Location{}, "--classes: '{}' is not a label of dataset spec '{}'{}", name, spec.name,
                        did_you_mean(name, labels))
          .with_hint(fmt::format("the spec's labels: {}{}", join(labels, ", "),
                                 spec.null_label && !options.keep_null ? " (and null, with --keep-null)" : ""));
    }
  }
  return options.classes;
}

// The subjects of recordings, in order, without repeats; "" (unknown) left out.
std::vector<std::string> subjects_of(const std::vector<data::Recording>& recordings) {
  std::vector<std::string> subjects;
  for (const auto& rec : recordings) {
    if (!rec.subject.empty() && std::find(subjects.begin(), subjects.end(), rec.subject) == subjects.end()) {
      subjects.push_back(rec.subject);
    }
  }
  return subjects;
}

// The model's name as the card and every file derived from it use it.
std::string card_name(const CardOptions& options) {
  if (!options.name.empty()) {
    check_name(options.name, "--name");
    return options.name;
  }
  const std::string stem = fs::path(options.model_path).stem().string();
  check_name(stem, "model name (the file's name; pass --name)", Location{options.model_path});
  return stem;
}

// "__torch__.models.DeepConvLSTM" -> "DeepConvLSTM".
std::string class_name(const torch::jit::Module& module) {
  const std::string qualified = module.type()->name() ? module.type()->name()->qualifiedName() : "module";
  return qualified.substr(qualified.rfind('.') + 1);
}

}  // namespace

CardResult write_card_for_model(const CardOptions& options) {
  CardResult result;
  result.card_path = options.out.empty() ? data::card_path_for_model(options.model_path) : options.out;
  std::error_code ec;
  if (!options.force && fs::exists(result.card_path, ec)) {
    throw input_error(Location{result.card_path}, "a model card already exists here; pass --force to replace it");
  }
  if (options.no_normalization == !options.fit_normalization.empty()) {
    throw input_error(Location{}, options.no_normalization
                                      ? "--fit-normalization and --no-normalization exclude each other"
                                      : "say how the model's inputs were normalized: --fit-normalization with the "
                                        "recordings it was trained on, or --no-normalization for raw values");
  }
  if (!options.train_subjects.empty() && options.fit_normalization.empty()) {
    throw input_error(Location{}, "--train-subjects selects recordings of --fit-normalization, which is not given");
  }

  data::ModelCard& card = result.card;
  card.trained_by_hare = false;
  card.name = card_name(options);
  const data::DatasetSpec spec = data::resolve_dataset_spec(options.spec);
  card.dataset_spec = spec.name;
  card.channels = card_channels(options, spec);
  card.sample_rate_hz = spec.sample_rate_hz;
  card.window_samples = data::parse_samples(options.window, spec.sample_rate_hz, "--window");
  card.step_samples = data::parse_samples(options.step, spec.sample_rate_hz, "--step");
  card.purity = options.purity;
  card.input_shape = {1, static_cast<int64_t>(card.channels.size()), card.window_samples};
  std::string classes_named_by;
  card.classes = card_classes(options, spec, &classes_named_by);

  // The model before any recording is read: a card that cannot describe it
  // is refused at once.
  torch::jit::Module module = load_module(options.model_path);
  check_model_fits_card(module, options.model_path, card.input_shape, card.classes.size(), Location{options.model_path},
                        classes_named_by);
  card.architecture = fmt::format("{} (TorchScript, not trained by hare)", class_name(module));
  card.model_sha256 = sha256_file(options.model_path);
  card.model_bytes = static_cast<int64_t>(fs::file_size(options.model_path));
  card.parameters = count_parameters(module);
  card.layers = card_layers(module, options.model_path);
  const fs::path card_dir = fs::absolute(result.card_path).parent_path();
  card.model_file = fs::absolute(options.model_path).lexically_normal().lexically_relative(card_dir).string();

  data::ReadOptions read_options;
  read_options.channels = card.channels;
  if (options.no_normalization) {
    card.normalization.mean.assign(card.channels.size(), 0.0);
    card.normalization.std.assign(card.channels.size(), 1.0);
  } else {
    std::vector<data::Recording> train =
        data::read_recordings(data::collect_files(options.fit_normalization, options.spec), options.spec, read_options);
    if (!options.train_subjects.empty()) train = data::split_by_subject(std::move(train), options.train_subjects, {}).train;
    card.normalization = data::fit_normalization(train);
    card.train_subjects = subjects_of(train);
    diag::note("normalization fitted on {} recordings", train.size());
  }
  if (!options.validation_data.empty()) {
    const auto files = data::collect_files(options.validation_data, options.spec);
    const auto recordings = data::read_for_card(card, files, options.spec);
    // The equivalence check takes its windows from these, as the card cuts them.
    if (data::card_windows(card, recordings).size() == 0) {
      throw input_error(Location{files.front()}, "--validation-data: no window of {} samples in these recordings",
                        card.window_samples);
    }
    card.validation_files = files;
    card.validation_subjects = subjects_of(recordings);
  }
  card.created = utc_now_iso8601();
  data::write_model_card(result.card_path, card);
  return result;
}

}  // namespace hare::model
