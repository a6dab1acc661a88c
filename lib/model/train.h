#pragma once

// Training and evaluating the reference models. This header is torch-free so
// that tools and tests which only drive training do not compile torch headers.

#include <string>
#include <vector>

#include "data/metrics.h"
#include "data/model_card.h"

namespace hare::model {

// The models hare-train builds (--arch), the default first.
const std::vector<std::string>& architectures();

struct TrainOptions {
  std::string arch = "cnn";                          // one of architectures()
  std::vector<std::string> data = {"data/mhealth"};  // files or directories
  std::string spec;                                  // "" = detect from file names
  std::vector<std::string> channels;                 // "" = the spec's default channels
  bool keep_null = false;                            // train the null class as class "null"
  std::vector<std::string> train_subjects = {"1", "2", "3", "4", "5", "6"};
  std::vector<std::string> validation_subjects = {"7", "8"};
  std::string window = "128";       // samples, or "2.56s"
  std::string step = "50";          // deployment step (model card); also the validation step
  std::string train_step = "16";    // denser step for training windows
  double purity = 0.75;
  int max_epochs = 15;               // also the one-cycle schedule's length
  int patience = 8;
  int batch_size = 64;
  double learning_rate = 2e-3;       // one-cycle peak
  double weight_decay = 1e-4;
  double label_smoothing = 0.1;
  bool augment = true;
  double rotation_deg = 30.0;        // sd of each rotation angle of 3-axis sensors
  double scale_sd = 0.1;             // per-channel amplitude factor N(1, sd)
  double jitter_sd = 0.03;           // additive noise N(0, sd), in normalized units
  int seed = 42;
  int threads = 2;
  double grad_clip_norm = -1.0;     // < 0 = the architecture's (cnn: none, deepconvlstm: 1, as LSTMs need); 0 = none
  double dropout = -1.0;            // < 0 = the architecture's (cnn 0.3, deepconvlstm 0.5, as the paper)
  int lstm_layers = 0;              // deepconvlstm's stacked LSTM layers; 0 = the paper's 2
  int bottleneck_channels = 0;      // an encoder in front: C values per S samples (0 = none)
  int bottleneck_stride = 0;
  std::string name = "hare-cnn";
  std::string out_dir = "models";
};

struct TrainResult {
  data::ModelCard card;
  std::string model_path;
  std::string card_path;
};

// Trains the --arch model with early stopping on the validation subjects, restores the best
// epoch's weights, writes <out_dir>/<name>.pt and .yaml (atomically).
TrainResult train_reference_model(const TrainOptions& options);

struct EvalOptions {
  std::string model_path;
  std::string card_path;  // "" = next to the model
  std::vector<std::string> data;
  std::string spec;  // "" = detect from file names
  int threads = 2;
  int batch_size = 256;
};

struct EvalResult {
  std::string arch;  // the card's training.arch ("" when the card does not say)
  data::ClassificationReport report;
  size_t recordings = 0;
  size_t unlabelled_windows = 0;
};

// Applies the card's channels, windowing and normalization to the files and
// scores the model's predictions.
EvalResult evaluate_model(const EvalOptions& options);

}  // namespace hare::model
