#include "torch_test.h"

#include <filesystem>
#include <functional>

#include "common/error.h"
#include "common/fs.h"
#include "data/model_card.h"
#include "model/card_writer.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

namespace {

// A copy of a Python fixture in `dir`, so that its card is written there.
std::string copy_fixture(const test::TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name + ".pt");
  test::write_text(path, read_file(test::python_fixtures() + "/" + name + ".pt"));
  return path;
}

CardOptions options_for(const std::string& model) {
  CardOptions options;
  options.model_path = model;
  options.spec = "mhealth-tsv";
  options.window = "2.56s";
  options.step = "50";
  options.no_normalization = true;
  return options;
}

}  // namespace

TEST_CASE("hare-train card: a traced foreign model gets the card hare-train would write for its data",
          "[model]") {
  test::TempDir dir;
  CardOptions options = options_for(copy_fixture(dir, "traced12"));
  options.no_normalization = false;
  options.fit_normalization = {test::source_path("data/mhealth")};
  options.train_subjects = {"1", "2", "3", "4", "5", "6"};
  options.validation_data = {test::source_path("data/mhealth/subject08.tsv.gz")};
  const CardResult result = write_card_for_model(options);
  CHECK(result.card_path == dir.file("traced12.yaml"));
  const data::ModelCard card = data::read_model_card(result.card_path);
  CHECK_FALSE(card.trained_by_hare);
  CHECK(card.name == "traced12");
  CHECK(card.model_file == "traced12.pt");
  CHECK(card.architecture == "Foreign (TorchScript, not trained by hare)");
  CHECK(card.input_shape == std::vector<int64_t>{1, 6, 128});
  CHECK(card.step_samples == 50);
  CHECK(card.train_subjects == std::vector<std::string>{"1", "2", "3", "4", "5", "6"});
  CHECK(card.validation_subjects == std::vector<std::string>{"8"});
  // Fitted on the same recordings and subjects as the reference model's card.
  const data::ModelCard reference = data::read_model_card(test::source_path("models/hare-cnn.yaml"));
  CHECK(card.classes == reference.classes);
  CHECK(card.channels == reference.channels);
  REQUIRE(card.normalization.mean.size() == reference.normalization.mean.size());
  for (size_t c = 0; c < card.normalization.mean.size(); ++c) {
    CHECK(card.normalization.mean[c] == Approx(reference.normalization.mean[c]).margin(1e-12));
    CHECK(card.normalization.std[c] == Approx(reference.normalization.std[c]).epsilon(1e-12));
  }
}

TEST_CASE("hare-train card: no normalization is the identity, and an existing card is kept without --force",
          "[model]") {
  test::TempDir dir;
  CardOptions options = options_for(copy_fixture(dir, "foreign10"));
  options.classes = {"standing", "sitting", "lying", "walking", "climbing_stairs",
                     "waist_bends", "arm_elevation", "knees_bending", "cycling", "jogging"};
  options.out = dir.file("cards/f.yaml");
  const data::ModelCard card = write_card_for_model(options).card;
  CHECK(card.normalization.mean == std::vector<double>(6, 0.0));
  CHECK(card.normalization.std == std::vector<double>(6, 1.0));
  CHECK(data::read_model_card(dir.file("cards/f.yaml")).model_file == "../foreign10.pt");

  const std::string before = read_file(dir.file("cards/f.yaml"));
  CHECK(test::error_messages([&] { write_card_for_model(options); }) ==
        std::vector<std::string>{dir.file("cards/f.yaml") + ": a model card already exists here; pass --force to "
                                                             "replace it"});
  CHECK(read_file(dir.file("cards/f.yaml")) == before);
  options.force = true;
  options.step = "1s";
  CHECK(write_card_for_model(options).card.step_samples == 50);
}

TEST_CASE("hare-train card: bad options are named before the model is run", "[model]") {
  test::TempDir dir;
  const std::string model = copy_fixture(dir, "foreign10");
  auto error_of = [&](const std::function<void(CardOptions&)>& change) {
    CardOptions options = options_for(model);
    change(options);
    const auto messages = test::error_messages([&] { write_card_for_model(options); });
    return messages.empty() ? std::string() : messages.front();
  };
  CHECK(error_of([](CardOptions& o) { o.no_normalization = false; }) ==
        "say how the model's inputs were normalized: --fit-normalization with the recordings it was trained on, or "
        "--no-normalization for raw values");
  CHECK(error_of([](CardOptions& o) { o.fit_normalization = {"x.tsv"}; }) ==
        "--fit-normalization and --no-normalization exclude each other");
  CHECK(error_of([](CardOptions& o) { o.classes = {"standing", "siting"}; }) ==
        "--classes: 'siting' is not a label of dataset spec 'mhealth-tsv' (did you mean 'sitting'?)");
  CHECK(error_of([](CardOptions& o) { o.classes = {"standing", "standing"}; }) == "--classes names 'standing' twice");
  CHECK(error_of([](CardOptions& o) { o.channels = {"chest_acc_q"}; }) ==
        "--channels: 'chest_acc_q' is not a channel of dataset spec 'mhealth-tsv' (did you mean 'chest_acc_x'?)");
  CHECK(error_of([](CardOptions& o) { o.window = "2minutes"; }) ==
        "--window '2minutes' is not a length: use samples (128), seconds (2.56s) or ms (500ms)");
  CHECK(error_of([](CardOptions& o) { o.spec = "mhealth-csv"; }) ==
        "mhealth-csv: no such dataset spec file or builtin spec (did you mean 'mhealth-tsv'?)");
  // The model is run with the card's shape: 12 labels for a 10-class model.
  CHECK(error_of([](CardOptions&) {}) ==
        model + ": the model outputs [1, 10] for one window [1, 6, 128], but the spec's labels (mhealth-tsv) name 12 "
                "classes (expected [1, 12])");
  CHECK_FALSE(std::filesystem::exists(dir.file("foreign10.yaml")));
}

TEST_CASE("hare-train card: classes come from --classes when the spec has no labels; --keep-null puts null first",
          "[model]") {
  test::TempDir dir;
  test::write_text(dir.file("raw.yaml"), "format: hare-dataset/1\nname: raw-six\nfiles: [\"*.csv\"]\ndelimiter: comma\n"
                                         "header: true\nsample_rate_hz: 50\nchannels: [ax, ay, az, gx, gy, gz]\n");
  CardOptions options = options_for(copy_fixture(dir, "traced12"));
  options.spec = dir.file("raw.yaml");
  CHECK(test::error_messages([&] { write_card_for_model(options); }) ==
        std::vector<std::string>{"dataset spec 'raw-six' has no labels to name the model's classes"});
  options.classes = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
  const data::ModelCard card = write_card_for_model(options).card;
  CHECK(card.classes.front() == "a");
  CHECK(card.channels == std::vector<std::string>{"ax", "ay", "az", "gx", "gy", "gz"});
  CHECK(card.dataset_spec == "raw-six");

  CardOptions with_null = options_for(copy_fixture(dir, "foreign10"));
  with_null.keep_null = true;
  CHECK(test::error_messages([&] { write_card_for_model(with_null); }) ==
        std::vector<std::string>{dir.file("foreign10.pt") +
                                 ": the model outputs [1, 10] for one window [1, 6, 128], but the spec's labels "
                                 "(mhealth-tsv) name 13 classes (expected [1, 13])"});
}
