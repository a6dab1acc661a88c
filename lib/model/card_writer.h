#pragma once

// The model card of a model hare did not train (`hare-train card`): how to
// feed it (channels, window, step, rate, normalization, classes) from a
// dataset spec and what the user says, checked against the model itself.
// Torch-free header, like train.h.

#include <string>
#include <vector>

#include "data/model_card.h"

namespace hare::model {

struct CardOptions {
  std::string model_path;
  std::string spec;                   // builtin name or YAML file: channels, rate, labels
  std::vector<std::string> channels;  // empty = the spec's default channels
  std::string window;                 // samples, or "2.56s"
  std::string step;
  double purity = 0.75;
  // The model's output classes in its order; empty = the spec's labels (with
  // "null" first when keep_null, as hare-train orders them).
  std::vector<std::string> classes;
  bool keep_null = false;
  // Exactly one: the recordings the model was trained on (statistics fitted
  // on them, optionally only on these subjects), or none (the model takes raw
  // values: mean 0, std 1).
  std::vector<std::string> fit_normalization;
  std::vector<std::string> train_subjects;
  bool no_normalization = false;
  // Held-out recordings: hare-partition checks its slices on them.
  std::vector<std::string> validation_data;
  std::string name;  // empty = the model file's stem
  std::string out;   // empty = <model>.yaml next to the model
  bool force = false;
};

struct CardResult {
  data::ModelCard card;
  std::string card_path;
};

// Checks the options and the model (loaded as every hare tool loads it; one
// window of the card's input shape must give one float32 score per class),
// then writes the card atomically. An existing card is replaced only with
// `force`. Every problem is an input Error naming the option or file.
CardResult write_card_for_model(const CardOptions& options);

}  // namespace hare::model
