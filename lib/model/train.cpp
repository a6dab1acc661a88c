#include "model/train.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <chrono>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/progress.h"
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
namespace {

at::Tensor windows_tensor(const data::WindowSet& windows) {
  return torch::from_blob(const_cast<float*>(windows.data.data()),
                          {static_cast<int64_t>(windows.size()), windows.channels, windows.window},
                          torch::kFloat32)
      .clone();
}

at::Tensor labels_tensor(const std::vector<int>& labels) {
  std::vector<int64_t> wide(labels.begin(), labels.end());
  return torch::tensor(wide, torch::kInt64);
}

std::vector<int> predict(torch::jit::Module& module, const at::Tensor& inputs, int batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<int> predictions;
  predictions.reserve(static_cast<size_t>(inputs.size(0)));
  for (int64_t begin = 0; begin < inputs.size(0); begin += batch_size) {
    const int64_t end = std::min<int64_t>(begin + batch_size, inputs.size(0));
    const at::Tensor logits = module.forward({inputs.slice(0, begin, end)}).toTensor();
    const at::Tensor classes = logits.argmax(1).contiguous();
    const int64_t* p = classes.data_ptr<int64_t>();
    for (int64_t i = 0; i < classes.size(0); ++i) predictions.push_back(static_cast<int>(p[i]));
  }
  return predictions;
}

// Channels that form a 3-axis sensor: names that differ only in a trailing
// _x/_y/_z ("chest_acc_x", "chest_acc_y", "chest_acc_z"), as index triads.
std::vector<std::array<int64_t, 3>> axis_triads(const std::vector<std::string>& channels) {
  std::vector<std::array<int64_t, 3>> triads;
  for (size_t i = 0; i < channels.size(); ++i) {
    const std::string& name = channels[i];
    if (name.size() < 3 || name.compare(name.size() - 2, 2, "_x") != 0) continue;
    const std::string stem = name.substr(0, name.size() - 1);
    const auto y = std::find(channels.begin(), channels.end(), stem + "y");
    const auto z = std::find(channels.begin(), channels.end(), stem + "z");
    if (y != channels.end() && z != channels.end()) {
      triads.push_back({static_cast<int64_t>(i), y - channels.begin(), z - channels.begin()});
    }
  }
  return triads;
}

// Rotation matrices Rz * Ry * Rx for per-window angles [B, 3] (radians).
at::Tensor rotation_matrices(const at::Tensor& angles) {
  const at::Tensor c = angles.cos();
  const at::Tensor s = angles.sin();
  const at::Tensor one = torch::ones({angles.size(0)});
  const at::Tensor zero = torch::zeros({angles.size(0)});
  auto matrix = [](std::initializer_list<at::Tensor> rows) { return torch::stack(rows, 1).view({-1, 3, 3}); };
  const at::Tensor cx = c.select(1, 0), cy = c.select(1, 1), cz = c.select(1, 2);
  const at::Tensor sx = s.select(1, 0), sy = s.select(1, 1), sz = s.select(1, 2);
  const at::Tensor rx = matrix({one, zero, zero, zero, cx, -sx, zero, sx, cx});
  const at::Tensor ry = matrix({cy, zero, sy, zero, one, zero, -sy, zero, cy});
  const at::Tensor rz = matrix({cz, -sz, zero, sz, cz, zero, zero, zero, one});
  return rz.bmm(ry).bmm(rx);
}

// Augmentation of one training batch [B, C, W], drawn from torch's seeded
// generator. What matters most on MHEALTH (measured: ~78% -> ~89% on
// held-out subjects) is a random 3D rotation of every 3-axis sensor, since
// people wear the sensors at slightly different angles; amplitude scaling
// and jitter add a little.
at::Tensor augment(const at::Tensor& batch, const TrainOptions& options,
                   const std::vector<std::array<int64_t, 3>>& triads) {
  const int64_t b = batch.size(0);
  at::Tensor x = batch.clone();
  if (options.rotation_deg > 0.0) {
    for (const auto& triad : triads) {
      const at::Tensor index = torch::tensor({triad[0], triad[1], triad[2]}, torch::kInt64);
      const at::Tensor angles = torch::randn({b, 3}).mul_(options.rotation_deg * M_PI / 180.0);
      x.index_copy_(1, index, rotation_matrices(angles).bmm(x.index_select(1, index)));
    }
  }
  if (options.scale_sd > 0.0) x.mul_(torch::randn({b, x.size(1), 1}).mul_(options.scale_sd).add_(1.0));
  if (options.jitter_sd > 0.0) x.add_(torch::randn_like(x).mul_(options.jitter_sd));
  return x;
}

// PyTorch's OneCycleLR (cosine): the rate warms up from max/25 to max over
// the first `warmup` share of the steps, then anneals to max/25e4; Adam's
// beta1 cycles 0.95 -> 0.85 -> 0.95 against it.
struct OneCycle {
  double max_lr;
  int64_t total_steps;
  double warmup = 0.15;

  static double anneal(double start, double end, double pct) {
    return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1.0);
  }
  std::pair<double, double> at(int64_t step) const {
    const double initial = max_lr / 25.0;
    const double final_lr = initial / 1e4;
    const double peak = warmup * static_cast<double>(total_steps) - 1.0;
    const auto s = static_cast<double>(step);
    if (s <= peak) {
      const double pct = peak > 0 ? s / peak : 1.0;
      return {anneal(initial, max_lr, pct), anneal(0.95, 0.85, pct)};
    }
    const double pct = (s - peak) / (static_cast<double>(total_steps) - 1.0 - peak);
    return {anneal(max_lr, final_lr, pct), anneal(0.85, 0.95, pct)};
  }
};

struct Snapshot {
  std::vector<at::Tensor> tensors;
};

Snapshot take_snapshot(const torch::jit::Module& module) {
  Snapshot snapshot;
  for (const auto& p : module.parameters()) snapshot.tensors.push_back(p.detach().clone());
  for (const auto& b : module.buffers()) snapshot.tensors.push_back(b.detach().clone());
  return snapshot;
}

void restore_snapshot(torch::jit::Module& module, const Snapshot& snapshot) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto p : module.parameters()) p.copy_(snapshot.tensors[i++]);
  for (auto b : module.buffers()) b.copy_(snapshot.tensors[i++]);
}

void set_schedule(torch::optim::AdamW& optimizer, std::pair<double, double> lr_and_beta1) {
  for (auto& group : optimizer.param_groups()) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(group.options());
    options.lr(lr_and_beta1.first);
    options.betas(std::make_tuple(lr_and_beta1.second, 0.999));
  }
}

Error unknown_architecture(const std::string& arch) {
  return input_error(Location{}, "unknown architecture '{}'{}: use one of {}", arch, did_you_mean(arch, architectures()),
                     join(architectures(), ", "));
}

struct BuiltModel {
  torch::jit::Module module;
  std::string description;  // the card's `architecture`
  bool is_chain = false;
  double grad_clip_norm = 0.0;  // the architecture's default; 0 = none
};

BuiltModel build_model(const TrainOptions& options, int channels, int window_samples, int classes) {
  if (options.arch == "cnn") {
    if (options.lstm_layers > 0) throw input_error(Location{}, "--lstm-layers is for --arch deepconvlstm only");
    ReferenceConfig config;
    config.in_channels = channels;
    config.window = window_samples;
    config.num_classes = classes;
    config.bottleneck_channels = options.bottleneck_channels;
    config.bottleneck_stride = options.bottleneck_stride;
    if (options.dropout >= 0.0) config.dropout = options.dropout;
    if (config.bottleneck_channels > 0 &&
        (config.bottleneck_stride < 1 || config.window % config.bottleneck_stride != 0)) {
      throw input_error(Location{}, "--bottleneck stride {} must divide the window of {} samples",
                        config.bottleneck_stride, config.window);
    }
    return {build_reference_model(config), describe(config), true};
  }
  if (options.arch == "deepconvlstm") {
    if (options.bottleneck_channels > 0) {
      throw input_error(Location{}, "--bottleneck is for --arch cnn only");
    }
    DeepConvLstmConfig config;
    if (options.lstm_layers > 0) config.lstm_layers = options.lstm_layers;
    config.in_channels = channels;
    config.window = window_samples;
    config.num_classes = classes;
    if (options.dropout >= 0.0) config.dropout = options.dropout;
    const int shrink = config.conv_layers * (config.kernel - 1);  // unpadded convs shorten the window
    if (window_samples <= shrink) {
      throw input_error(Location{}, "--arch deepconvlstm needs windows longer than {} samples (got {})", shrink,
                        window_samples);
    }
    // Clipping keeps the recurrent gradients of 100+ steps from exploding
    // early in the one-cycle warm-up (Pascanu et al. 2013).
    return {build_deepconvlstm(config), describe(config), false, 1.0};
  }
  throw unknown_architecture(options.arch);
}

}  // namespace

const std::vector<std::string>& architectures() {
  static const std::vector<std::string> names = {"cnn", "deepconvlstm"};
  return names;
}

TrainResult train_reference_model(const TrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (options.max_epochs < 1 || options.batch_size < 1 || options.patience < 1 || options.threads < 1) {
    throw input_error(Location{}, "epochs, batch size, patience and threads must be at least 1");
  }
  if (options.dropout >= 1.0) throw input_error(Location{}, "--dropout {} must be below 1", options.dropout);
  const auto& known = architectures();
  if (std::find(known.begin(), known.end(), options.arch) == known.end()) throw unknown_architecture(options.arch);
  // Before minutes of training, not after: --out under a file was found only
  // when the model was to be saved.
  make_dirs(options.out_dir);
  at::set_num_threads(options.threads);
  torch::manual_seed(static_cast<uint64_t>(options.seed));

  // Data: read, split by subject, window, normalize with training statistics.
  const auto files = data::collect_files(options.data, options.spec);
  data::ReadOptions read_options;
  read_options.channels = options.channels;
  read_options.keep_null = options.keep_null;
  auto recordings = data::read_recordings(files, options.spec, read_options);
  const std::string spec_name =
      options.spec.empty() ? data::detect_dataset_spec(files.front()).name : data::resolve_dataset_spec(options.spec).name;
  const double rate_hz = recordings.front().sample_rate_hz;
  const std::vector<std::string> channels = recordings.front().channels;
  const std::vector<std::string> classes = recordings.front().classes;
  for (const auto& rec : recordings) {
    if (rec.classes != classes || rec.channels != channels || rec.sample_rate_hz != rate_hz) {
      throw input_error(Location{rec.path}, "differs from {} in classes, channels or sample rate",
                        recordings.front().path);
    }
  }
  if (classes.empty()) throw input_error(Location{files.front()}, "the recordings have no labels to train on");

  data::WindowOptions window_options;
  window_options.window_samples = data::parse_samples(options.window, rate_hz, "--window");
  window_options.step_samples = data::parse_samples(options.step, rate_hz, "--step");
  window_options.purity = options.purity;
  data::WindowOptions train_window_options = window_options;
  train_window_options.step_samples = data::parse_samples(options.train_step, rate_hz, "--train-step");

  auto split = data::split_by_subject(std::move(recordings), options.train_subjects, options.validation_subjects);
  const data::Normalization norm = data::fit_normalization(split.train);
  data::WindowSet train_windows = data::make_all_windows(split.train, train_window_options);
  data::WindowSet val_windows = data::make_all_windows(split.validation, window_options);
  if (train_windows.size() == 0 || val_windows.size() == 0) {
    throw input_error(Location{}, "no {} windows (window {} samples, purity {})",
                      train_windows.size() == 0 ? "training" : "validation", window_options.window_samples,
                      options.purity);
  }
  data::apply_normalization(norm, train_windows);
  data::apply_normalization(norm, val_windows);
  const at::Tensor train_x = windows_tensor(train_windows);
  const at::Tensor train_y = labels_tensor(train_windows.labels);
  const at::Tensor val_x = windows_tensor(val_windows);
  diag::note("training on {} windows of subjects {}, validating on {} windows of subjects {}", train_windows.size(),
             join(options.train_subjects, ","), val_windows.size(), join(options.validation_subjects, ","));

  // Model and optimizer.
  const BuiltModel built = build_model(options, static_cast<int>(channels.size()), window_options.window_samples,
                                       static_cast<int>(classes.size()));
  torch::jit::Module module = built.module;
  const double grad_clip_norm = options.grad_clip_norm >= 0.0 ? options.grad_clip_norm : built.grad_clip_norm;
  std::vector<at::Tensor> parameters;
  for (const auto& p : module.parameters()) parameters.push_back(p);
  torch::optim::AdamW optimizer(
      parameters, torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
  const auto loss_options = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing);

  const int64_t n = train_x.size(0);
  const int64_t batches = (n + options.batch_size - 1) / options.batch_size;
  const OneCycle schedule{options.learning_rate, batches * options.max_epochs};
  const auto triads = axis_triads(channels);
  int64_t step = 0;
  Snapshot best = take_snapshot(module);
  data::ClassificationReport best_report;
  double best_score = -1.0;
  int best_epoch = 0;
  int epochs_run = 0;
  for (int epoch = 1; epoch <= options.max_epochs; ++epoch) {
    diag::throw_if_interrupted();
    module.train(true);
    const at::Tensor order = torch::randperm(n, torch::kInt64);
    ProgressBar bar(fmt::format("epoch {}/{}", epoch, options.max_epochs), batches);
    double loss_sum = 0.0;
    for (int64_t b = 0; b < batches; ++b) {
      diag::throw_if_interrupted();
      const at::Tensor index = order.slice(0, b * options.batch_size, std::min<int64_t>(n, (b + 1) * options.batch_size));
      at::Tensor x = train_x.index_select(0, index);
      if (options.augment) x = augment(x, options, triads);
      set_schedule(optimizer, schedule.at(step++));
      const at::Tensor y = train_y.index_select(0, index);
      optimizer.zero_grad();
      const at::Tensor logits = module.forward({x}).toTensor();
      const at::Tensor loss = torch::nn::functional::cross_entropy(logits, y, loss_options);
      loss.backward();
      if (grad_clip_norm > 0.0) torch::nn::utils::clip_grad_norm_(parameters, grad_clip_norm);
      optimizer.step();
      loss_sum += loss.item<double>();
      bar.set_status(fmt::format("loss {:.3f}", loss_sum / static_cast<double>(b + 1)));
      bar.update(b + 1);
    }
    bar.finish();
    module.eval();
    const auto report = data::classification_report(val_windows.labels, predict(module, val_x, 512), classes);
    epochs_run = epoch;
    // Early stopping on validation accuracy; macro-F1 breaks ties.
    const double score = report.accuracy + 1e-3 * report.macro_f1;
    const bool improved = score > best_score;
    if (improved) {
      best_score = score;
      best_epoch = epoch;
      best_report = report;
      best = take_snapshot(module);
    }
    diag::note("epoch {:2d}/{}: loss {:.4f}, validation accuracy {:.4f}, macro-F1 {:.4f}{}", epoch,
               options.max_epochs, loss_sum / static_cast<double>(batches), report.accuracy, report.macro_f1,
               improved ? " (best)" : "");
    if (epoch - best_epoch >= options.patience) {
      diag::note("no improvement for {} epochs: stopping early", options.patience);
      break;
    }
  }
  restore_snapshot(module, best);
  module.eval();

  // Artifacts: model first, then the card that pins its hash.
  make_dirs(options.out_dir);
  TrainResult result;
  result.model_path = (std::filesystem::path(options.out_dir) / (options.name + ".pt")).string();
  result.card_path = data::card_path_for_model(result.model_path);
  save_module(module, result.model_path);

  data::ModelCard& card = result.card;
  card.name = options.name;
  card.architecture = built.description;
  card.model_file = options.name + ".pt";
  card.model_sha256 = sha256_file(result.model_path);
  card.model_bytes = static_cast<int64_t>(std::filesystem::file_size(result.model_path));
  card.parameters = count_parameters(module);
  card.input_shape = {1, static_cast<int64_t>(channels.size()), window_options.window_samples};
  card.layers = card_layers(module, result.model_path);
  card.channels = channels;
  card.sample_rate_hz = rate_hz;
  card.window_samples = window_options.window_samples;
  card.step_samples = window_options.step_samples;
  card.purity = options.purity;
  card.dataset_spec = spec_name;
  card.normalization = norm;
  card.classes = classes;
  card.train_subjects = options.train_subjects;
  card.validation_subjects = options.validation_subjects;
  for (const auto& rec : split.validation) card.validation_files.push_back(rec.path);
  card.training.arch = options.arch;
  card.training.seed = options.seed;
  card.training.epochs_run = epochs_run;
  card.training.best_epoch = best_epoch;
  card.training.max_epochs = options.max_epochs;
  card.training.patience = options.patience;
  card.training.batch_size = options.batch_size;
  card.training.learning_rate = options.learning_rate;
  card.training.threads = options.threads;
  card.training.train_step_samples = train_window_options.step_samples;
  card.training.train_windows = train_windows.size();
  card.training.validation_windows = val_windows.size();
  card.training.augmentation =
      options.augment ? fmt::format("3-axis rotation N(0,{} deg) per axis, amplitude x N(1,{}) per channel, "
                                    "jitter N(0,{})",
                                    options.rotation_deg, options.scale_sd, options.jitter_sd)
                      : "none";
  card.training.grad_clip_norm = grad_clip_norm;
  card.training.weight_decay = options.weight_decay;
  card.training.label_smoothing = options.label_smoothing;
  card.training.time_s =
      std::round(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * 10.0) / 10.0;
  card.validation = best_report;
  card.created = utc_now_iso8601();
  data::write_model_card(result.card_path, card);
  return result;
}

EvalResult evaluate_model(const EvalOptions& options) {
  at::set_num_threads(options.threads);
  const std::string card_path = options.card_path.empty() ? data::card_path_for_model(options.model_path) : options.card_path;
  const data::ModelCard card = data::read_card_for_model(options.model_path, card_path);
  torch::jit::Module module = load_module(options.model_path);
  const std::string actual = sha256_file(options.model_path);
  if (actual != card.model_sha256) {
    throw input_error(Location{card_path}, "model_sha256 does not match {} (the card belongs to another model)",
                      options.model_path);
  }
  // Checked on a zero window before any recording is read, so that a card
  // that lies is named as such.
  check_model_fits_card(module, options.model_path, card.input_shape, card.classes.size(), Location{card_path},
                        "the card names");

  const auto recordings = data::read_for_card(card, data::collect_files(options.data, options.spec), options.spec);
  EvalResult result;
  result.arch = card.training.arch;
  result.recordings = recordings.size();
  const data::WindowSet windows = data::card_windows(card, recordings);

  // Map each recording's class names onto the model's class indices.
  std::vector<int> labels(windows.size(), -1);
  for (size_t i = 0; i < windows.size(); ++i) {
    const int label = windows.labels[i];
    if (label < 0) continue;
    const auto& rec = recordings[static_cast<size_t>(windows.origins[i].recording)];
    const std::string& name = rec.classes[static_cast<size_t>(label)];
    const auto it = std::find(card.classes.begin(), card.classes.end(), name);
    if (it == card.classes.end()) {
      throw input_error(Location{rec.path, windows.origins[i].line}, "class '{}' is not one of the model's classes{}",
                        name, did_you_mean(name, card.classes));
    }
    labels[i] = static_cast<int>(it - card.classes.begin());
  }
  std::vector<int> predictions;
  try {
    predictions = predict(module, windows_tensor(windows), options.batch_size);
  } catch (const std::exception& error) {
    throw input_error(Location{options.model_path}, "the model rejected input of shape [N, {}, {}] ({})",
                      windows.channels, windows.window, short_torch_message(error))
        .with_hint("the model card's channels and window must match what the model was trained on");
  }
  result.unlabelled_windows = static_cast<size_t>(std::count(labels.begin(), labels.end(), -1));
  result.report = data::classification_report(labels, predictions, card.classes);
  return result;
}

}  // namespace hare::model
