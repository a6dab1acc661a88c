#include <catch2/catch.hpp>

#include <filesystem>

#include "common/sha256.h"
#include "data/model_card.h"
#include "model/train.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

namespace {

// Subject 1 trains, subject 8 validates, one thread, into `out_dir`.
TrainOptions short_run(const std::string& out_dir, const std::string& name) {
  TrainOptions options;
  options.data = {test::source_path("data/mhealth/subject01.tsv.gz"), test::source_path("data/mhealth/subject08.tsv.gz")};
  options.train_subjects = {"1"};
  options.validation_subjects = {"8"};
  options.threads = 1;
  options.out_dir = out_dir;
  options.name = name;
  return options;
}

}  // namespace

TEST_CASE("a short training run writes a consistent model and card, and eval reproduces its score", "[model]") {
  test::TempDir dir;
  TrainOptions options = short_run(dir.path(), "tiny");
  options.train_step = "50";
  options.max_epochs = 2;
  const TrainResult result = train_reference_model(options);

  REQUIRE(std::filesystem::exists(result.model_path));
  const data::ModelCard card = data::read_model_card(result.card_path);
  CHECK(card.model_sha256 == sha256_file(result.model_path));
  CHECK(card.input_shape == std::vector<int64_t>{1, 6, 128});
  CHECK(card.classes.size() == 12);
  CHECK(card.layers.size() >= 6);
  CHECK(card.training.arch == "cnn");  // the default
  CHECK(card.train_subjects == std::vector<std::string>{"1"});
  CHECK(card.training.epochs_run == 2);
  CHECK(card.validation.windows > 500);
  CHECK(card.validation.confusion.size() == 12);
  CHECK(card.validation.accuracy > 1.0 / 12.0);  // better than chance after two epochs

  EvalOptions eval;
  eval.model_path = result.model_path;
  eval.data = {test::source_path("data/mhealth/subject08.tsv.gz")};
  eval.threads = 1;
  const EvalResult scored = evaluate_model(eval);
  CHECK(scored.report.windows == card.validation.windows);
  CHECK(scored.report.accuracy == Approx(card.validation.accuracy).margin(1e-4));
}

TEST_CASE("hare-train's deepconvlstm arch trains DeepConvLSTM, and the card records the architecture", "[model]") {
  test::TempDir dir;
  TrainOptions options = short_run(dir.path(), "tiny-lstm");
  options.arch = "deepconvlstm";
  options.dropout = 0.25;
  options.train_step = "400";  // a few dozen windows: this checks the plumbing, not the accuracy
  options.step = "400";
  options.max_epochs = 1;
  const TrainResult result = train_reference_model(options);

  const data::ModelCard card = data::read_model_card(result.card_path);
  CHECK(card.training.arch == "deepconvlstm");
  CHECK_THAT(card.architecture, Catch::StartsWith("deepconvlstm: 4x conv64k5") && Catch::Contains("(dropout 0.25 "));
  // Not a chain: the children its segments come from (model::card_layers).
  CHECK(card.layers == std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "lstm", "out"});
  CHECK(card.parameters == 296588);
  CHECK(card.input_shape == std::vector<int64_t>{1, 6, 128});

  EvalOptions eval;
  eval.model_path = result.model_path;
  eval.data = {test::source_path("data/mhealth/subject08.tsv.gz")};
  eval.threads = 1;
  CHECK(evaluate_model(eval).report.windows > 0);
}

TEST_CASE("hare-train --lstm-layers sets DeepConvLSTM's LSTM depth, and the card records it with the loss's regularizers",
          "[model]") {
  test::TempDir dir;
  TrainOptions options = short_run(dir.path(), "shallow-lstm");
  options.arch = "deepconvlstm";
  options.lstm_layers = 1;
  options.weight_decay = 1e-3;
  options.label_smoothing = 0.05;
  options.train_step = "400";
  options.step = "400";
  options.max_epochs = 1;
  const data::ModelCard card = data::read_model_card(train_reference_model(options).card_path);
  CHECK_THAT(card.architecture, Catch::Contains(", 1x lstm128 over 112 steps"));
  // One LSTM layer fewer: 4 gates x (128 inputs + 128 recurrent + 2 biases) x 128 units.
  CHECK(card.parameters == 296588 - 4 * (128 + 128 + 2) * 128);
  CHECK(card.training.weight_decay == 1e-3);
  CHECK(card.training.label_smoothing == 0.05);

  TrainOptions cnn = short_run(dir.path(), "cnn-with-lstm");
  cnn.lstm_layers = 1;
  CHECK_THROWS_WITH(train_reference_model(cnn), Catch::Contains("--lstm-layers is for --arch deepconvlstm only"));
}

TEST_CASE("an unknown architecture is refused naming the known ones", "[model]") {
  TrainOptions options;
  options.arch = "deepconvlstn";
  CHECK_THROWS_WITH(train_reference_model(options),
                    "unknown architecture 'deepconvlstn' (did you mean 'deepconvlstm'?): use one of cnn, deepconvlstm");
}

TEST_CASE("the shipped reference model meets its targets on the held-out subjects", "[model]") {
  const std::string model = test::source_path("models/hare-cnn.pt");
  const data::ModelCard card = data::read_model_card(data::card_path_for_model(model));
  CHECK(card.model_sha256 == sha256_file(model));
  CHECK(std::filesystem::file_size(model) < 2u * 1024 * 1024);
  CHECK(card.validation_subjects == std::vector<std::string>{"7", "8"});

  EvalOptions eval;
  eval.model_path = model;
  eval.data = {test::source_path("data/mhealth/subject07.tsv.gz"), test::source_path("data/mhealth/subject08.tsv.gz")};
  const EvalResult scored = evaluate_model(eval);
  CHECK(scored.report.accuracy >= 0.80);
  CHECK(scored.report.accuracy == Approx(card.validation.accuracy).margin(1e-4));
}

TEST_CASE("the shipped DeepConvLSTM matches its card, and eval reproduces its validation score", "[model]") {
  const std::string model = test::source_path("models/deepconvlstm.pt");
  const data::ModelCard card = data::read_model_card(data::card_path_for_model(model));
  CHECK(card.model_sha256 == sha256_file(model));
  CHECK(card.training.arch == "deepconvlstm");
  CHECK(card.validation_subjects == std::vector<std::string>{"7", "8"});

  EvalOptions eval;
  eval.model_path = model;
  eval.data = {test::source_path("data/mhealth/subject07.tsv.gz"), test::source_path("data/mhealth/subject08.tsv.gz")};
  const EvalResult scored = evaluate_model(eval);
  CHECK(scored.arch == "deepconvlstm");
  CHECK(scored.report.accuracy == Approx(card.validation.accuracy).margin(1e-4));
}
