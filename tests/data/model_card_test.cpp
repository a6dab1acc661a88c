#include <catch2/catch.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "data/model_card.h"
#include "fixtures/sample_card.h"
#include "test_util.h"

using namespace hare;
using namespace hare::data;

TEST_CASE("the model card round-trips through YAML", "[data]") {
  test::TempDir dir;
  write_model_card(dir.file("m.yaml"), test::sample_card());
  const ModelCard card = read_model_card(dir.file("m.yaml"));
  CHECK(card.channels == test::sample_card().channels);
  CHECK(card.normalization.std == test::sample_card().normalization.std);
  CHECK(card.input_shape == std::vector<int64_t>{1, 2, 8});
  CHECK(card.validation.accuracy == Approx(0.6667));
  CHECK(card.validation.confusion == test::sample_card().validation.confusion);
  CHECK(card_path_for_model("models/ref.pt") == "models/ref.yaml");
}

TEST_CASE("a card whose shape disagrees with its channels is refused at the line", "[data]") {
  test::TempDir dir;
  std::string text = model_card_to_yaml(test::sample_card());
  const size_t at = text.find("input_shape: [1, 2, 8]");
  REQUIRE(at != std::string::npos);
  text.replace(at, 22, "input_shape: [1, 3, 8]");
  test::write_text(dir.file("bad.yaml"), text);
  CHECK_THROWS_WITH(read_model_card(dir.file("bad.yaml")),
                    Catch::Contains("bad.yaml:") && Catch::Contains("input_shape must be [1, 2, 8]"));
}

TEST_CASE("a card with every field set round-trips, training details included", "[data]") {
  test::TempDir dir;
  ModelCard card = test::sample_card();
  card.architecture = "tiny: conv, out";
  card.model_bytes = 1234;
  card.parameters = 99;
  card.layers = {"conv", "out"};
  card.purity = 0.5;
  card.dataset_spec = "mhealth-tsv";
  card.train_subjects = {"1", "2"};
  card.validation_subjects = {"3"};
  card.validation_files = {"data/s3.tsv.gz"};
  card.training = TrainingInfo{7, 12, 9, 20, 4, 32, 0.002, 2, 16, 1000, 200, 12.5, "none", "deepconvlstm", 1.0, 1e-4, 0.1};
  card.created = "2026-11-30T12:00:00Z";
  write_model_card(dir.file("m.yaml"), card);
  const ModelCard back = read_model_card(dir.file("m.yaml"));
  CHECK(back.training.max_epochs == 20);
  CHECK(back.training.learning_rate == 0.002);
  CHECK(back.training.validation_windows == 200);
  CHECK(back.training.augmentation == "none");
  CHECK(back.training.arch == "deepconvlstm");
  CHECK(back.training.grad_clip_norm == 1.0);
  CHECK(back.training.weight_decay == 1e-4);
  CHECK(back.training.label_smoothing == 0.1);
  CHECK(back.validation.support == card.validation.support);
  CHECK(model_card_to_yaml(back) == model_card_to_yaml(card));
}

TEST_CASE("a card written before weight decay and label smoothing were recorded reads them as not recorded",
          "[data]") {
  ModelCard card = test::sample_card();
  card.training = TrainingInfo{7, 12, 9, 20, 4, 32, 0.002, 2, 16, 1000, 200, 12.5, "none", "cnn", 0.0};
  const std::string text = model_card_to_yaml(card);
  CHECK(text.find("weight_decay") == std::string::npos);
  const ModelCard back = parse_model_card(text, "old.yaml");
  CHECK(back.training.weight_decay < 0.0);
  CHECK(back.training.label_smoothing < 0.0);
  CHECK(model_card_to_yaml(back) == text);
}

TEST_CASE("the shipped model cards read back to the same text", "[data]") {
  for (const char* name : {"models/hare-cnn.yaml", "models/hare-cnn-ae.yaml", "models/deepconvlstm.yaml"}) {
    INFO(name);
    const std::string path = test::source_path(name);
    CHECK(model_card_to_yaml(read_model_card(path)) == read_file(path));
  }
}

TEST_CASE("a bad card reports every error at once with file:line:col", "[data]") {
  std::string text = model_card_to_yaml(test::sample_card());
  auto replace = [&](const std::string& from, const std::string& to) { text = test::replaced(text, from, to); };
  replace("window_samples: 8", "window_sample: 8");
  replace("step_samples: 4", "step_samples: four");
  replace("seed: 0", "seed: 0\n  epochs: 3");
  const auto errors = test::error_messages([&] { parse_model_card(text, "m.yaml"); });
  CHECK(errors == std::vector<std::string>{
                      "m.yaml:13:1: unknown key 'window_sample' (did you mean 'window_samples'?)",
                      "m.yaml:2:1: missing key 'window_samples'",
                      "m.yaml:14:15: 'step_samples' must be an integer",
                      "m.yaml:26:3: unknown key 'epochs'",
                  });
}

TEST_CASE("a card whose model name could not be a file name is refused at file:line:col", "[data]") {
  // The name becomes profiles/<device>/<name>.yaml and a plan's model name.
  const std::string text = test::replaced(model_card_to_yaml(test::sample_card()), "name: m", "name: ../../etc/m");
  CHECK(test::error_messages([&] { parse_model_card(text, "m.yaml"); }) ==
        std::vector<std::string>{"m.yaml:3:7: model name '../../etc/m' is not a valid name: it contains '/'"});
}

TEST_CASE("a card of a model hare did not train has no training or validation section and reads back so",
          "[data]") {
  test::TempDir dir;
  ModelCard card = test::sample_card();
  card.trained_by_hare = false;
  card.validation = {};
  write_model_card(dir.file("m.yaml"), card);
  const std::string text = read_file(dir.file("m.yaml"));
  CHECK_THAT(text, Catch::StartsWith("# hare model card: how to feed this model (not trained by hare"));
  CHECK_THAT(text, !Catch::Contains("training:") && !Catch::Contains("validation:"));
  const ModelCard back = read_model_card(dir.file("m.yaml"));
  CHECK_FALSE(back.trained_by_hare);
  CHECK(back.validation.windows == 0);
  CHECK(model_card_to_yaml(back) == text);
  // A card hare-train wrote says it was trained by hare.
  CHECK(read_model_card(test::source_path("models/hare-cnn.yaml")).trained_by_hare);
}

TEST_CASE("a card that does not exist is named with the command that writes one", "[data]") {
  test::TempDir dir;
  test::write_text(dir.file("m.pt"), "not read");
  const std::string expected =
      dir.file("m.yaml") + ": no model card for " + dir.file("m.pt") +
      " (hare needs the model's channels, window, normalization and classes); write one with 'hare-train card "
      "--model " + dir.file("m.pt") + " --spec SPEC --window W --step S --fit-normalization TRAINING_FILES' (or "
      "--no-normalization)";
  CHECK(test::error_messages([&] { read_card_for_model(dir.file("m.pt")); }) == std::vector<std::string>{expected});
  // A card given elsewhere: the command writes it there.
  CHECK_THAT(test::error_messages([&] { read_card_for_model(dir.file("m.pt"), dir.file("c.yaml")); }).at(0),
             Catch::StartsWith(dir.file("c.yaml") + ": no model card for ") &&
                 Catch::Contains("TRAINING_FILES --out " + dir.file("c.yaml") + "'"));
  // Without the model, the model is what is missing.
  CHECK(test::error_messages([&] { read_card_for_model(dir.file("none.pt")); }) ==
        std::vector<std::string>{dir.file("none.pt") + ": model file not found"});
  // A card that exists is read.
  write_model_card(dir.file("m.yaml"), test::sample_card());
  CHECK(read_card_for_model(dir.file("m.pt")).name == "m");
}

TEST_CASE("a card's keys are checked whether or not it has a training section", "[data]") {
  test::TempDir dir;
  ModelCard card = test::sample_card();
  card.trained_by_hare = false;
  std::string text = model_card_to_yaml(card) + "classes: [a, b]\n";
  test::write_text(dir.file("dup.yaml"), text);
  CHECK_THROWS_WITH(read_model_card(dir.file("dup.yaml")), Catch::Contains("dup.yaml:") && Catch::Contains("duplicate key 'classes'"));
}

TEST_CASE("a card's layers are the top-level children segments come from, however fine", "[data]") {
  using V = std::vector<std::string>;
  CHECK(data::top_level_layers(V{"conv1", "conv2", "out"}) == V{"conv1", "conv2", "out"});
  CHECK(data::top_level_layers(V{"block.0", "block.1", "head"}) == V{"block", "head"});
  // Segments spanning children (model/segments.h), expanded or not.
  CHECK(data::top_level_layers(V{"chest+ankle", "fuse", "head"}) == V{"chest", "ankle", "fuse", "head"});
  CHECK(data::top_level_layers(V{"chest.0", "chest.1+ankle.2", "fuse"}) == V{"chest", "ankle", "fuse"});
  CHECK(data::top_level_layers(V{"embed", "encoder+encoder.1", "classifier"}) == V{"embed", "encoder", "classifier"});
}
