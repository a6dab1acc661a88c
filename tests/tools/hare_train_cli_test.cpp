// Black-box tests of hare-train: the exact first line a user sees on stderr,
// the exit code, and that stdout carries only results.

#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "cli_checks.h"
#include "common/fs.h"
#include "test_util.h"

using namespace hare;

namespace {
using test::first_line;
const std::string kTool = test::tool_path("hare-train");
}  // namespace

TEST_CASE("hare-train: unknown flags print usage help and exit 2", "[tools]") {
  const auto result = test::run(kTool + " --no-such-flag");
  CHECK(result.exit_code == 2);
  CHECK(first_line(result.err) == "hare-train: error: The following argument was not expected: --no-such-flag");
  CHECK(result.out.empty());
}

TEST_CASE("hare-train: --help exits 0 with usage on stdout", "[tools]") {
  const auto result = test::run(kTool + " eval --help");
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("--model"));
}

TEST_CASE("hare-train: bad data files give file:line errors and exit 2", "[tools]") {
  test::TempDir dir;
  const std::string model = test::source_path("models/hare-cnn.pt");
  auto eval = [&](const std::string& files) { return test::run(kTool + " eval --model " + model + " " + files); };

  auto missing = eval(dir.file("subject09.tsv"));
  CHECK(missing.exit_code == 2);
  CHECK(first_line(missing.err) == "hare-train: error: " + dir.file("subject09.tsv") + ": no such file or directory");

  const std::string header = "segment\tlabel\tchest_acc_x\tchest_acc_y\tchest_acc_z\tarm_gyro_x\tarm_gyro_y\tarm_gyro_z\n";
  test::write_text(dir.file("empty.tsv"), "");
  CHECK(first_line(eval(dir.file("empty.tsv")).err) ==
        "hare-train: error: " + dir.file("empty.tsv") + ": the file is empty (expected a header row)");
  test::write_text(dir.file("ragged.tsv"), header + "0\t1\t1\t2\t3\t4\t5\t6\n0\t1\t1\t2\t3\n");
  const auto ragged = eval(dir.file("ragged.tsv"));
  CHECK(ragged.exit_code == 2);
  CHECK(first_line(ragged.err) == "hare-train: error: " + dir.file("ragged.tsv") + ":3: expected 8 fields, found 5 (ragged row)");
  test::write_text(dir.file("nan.tsv"), header + "0\t1\t1\tNaN\t3\t4\t5\t6\n");
  CHECK(first_line(eval(dir.file("nan.tsv")).err) ==
        "hare-train: error: " + dir.file("nan.tsv") + ":2: column 'chest_acc_y': value 'NaN' is not finite");
  test::write_text(dir.file("label.tsv"), header + "0\t13\t1\t2\t3\t4\t5\t6\n");
  CHECK(first_line(eval(dir.file("label.tsv")).err) ==
        "hare-train: error: " + dir.file("label.tsv") + ":2: unknown label '13' in column 'label'");
  std::string short_segment = header;
  for (int i = 0; i < 20; ++i) short_segment += "0\t1\t1\t2\t3\t4\t5\t6\n";
  test::write_text(dir.file("short.tsv"), short_segment);
  const auto too_short = eval(dir.file("short.tsv"));
  CHECK(too_short.exit_code == 2);
  CHECK(first_line(too_short.err) == "hare-train: error: " + dir.file("short.tsv") +
                                         ": window of 128 samples (2.56 s) is longer than every segment in the file "
                                         "(longest: 20 samples)");
}

TEST_CASE("hare-train: a truncated model file is refused with exit 2", "[tools]") {
  test::TempDir dir;
  test::write_text(dir.file("cut.pt"), "PK\x03\x04 truncated");
  const auto result = test::run(kTool + " eval --model " + dir.file("cut.pt") + " --card " +
                                test::source_path("models/hare-cnn.yaml") + " " +
                                test::source_path("data/mhealth/subject08.tsv.gz"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(first_line(result.err), Catch::StartsWith("hare-train: error: " + dir.file("cut.pt") + ":"));
}

TEST_CASE("hare-train: a bad training option value is a usage error", "[tools]") {
  const auto result = test::run(kTool + " --window 2minutes --data " + test::source_path("data/mhealth/subject08.tsv.gz"));
  CHECK(result.exit_code == 2);
  CHECK(first_line(result.err) ==
        "hare-train: error: --window '2minutes' is not a length: use samples (128), seconds (2.56s) or ms (500ms)");
}

TEST_CASE("hare-train: --arch takes cnn or deepconvlstm, and anything else is a usage error", "[tools]") {
  const auto result = test::run(kTool + " --arch lstm");
  CHECK(result.exit_code == 2);
  CHECK(first_line(result.err) == "hare-train: error: --arch: lstm not in {cnn,deepconvlstm}");
}

TEST_CASE("hare-train eval prints YAML with accuracy and macro_f1 on stdout", "[tools]") {
  const auto result = test::run(kTool + " eval --model " + test::source_path("models/hare-cnn.pt") + " " +
                                test::source_path("data/mhealth/subject08.tsv.gz"));
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const YAML::Node report = YAML::Load(result.out);
  CHECK(report["arch"].as<std::string>() == "cnn");  // from the card
  CHECK(report["accuracy"].as<double>() > 0.5);
  CHECK(report["accuracy"].as<double>() <= 1.0);
  CHECK(report["macro_f1"].as<double>() > 0.5);
  CHECK(report["windows"].as<int>() > 500);
  CHECK(report["confusion_matrix"].size() == 12);
}

TEST_CASE("hare-train eval: a card that lies about its model's input is named, not an internal error", "[tools]") {
  test::TempDir dir;
  test::write_lying_card(dir.file("lie.yaml"), 3);
  const auto result = test::run(kTool + " eval --model " + test::source_path("models/hare-cnn.pt") + " --card " +
                                dir.file("lie.yaml") + " " + test::source_path("data/mhealth/subject08.tsv.gz"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(first_line(result.err), Catch::StartsWith("hare-train: error: " + dir.file("lie.yaml") +
                                                       ": the model rejects the card's input_shape [1, 3, 128] ("));
  CHECK_THAT(result.err, !Catch::Contains("internal error") && !Catch::Contains("Traceback"));
}

namespace {
// `name`.pt of the Python fixtures, copied into `dir` so that its card lands there.
std::string copy_fixture(const test::TempDir& dir, const std::string& name) {
  const std::string path = dir.file(name + ".pt");
  test::write_text(path, read_file(test::python_fixtures() + "/" + name + ".pt"));
  return path;
}
std::string missing_card_line(const std::string& tool, const std::string& model, const std::string& card) {
  return tool + ": error: " + card + ": no model card for " + model +
         " (hare needs the model's channels, window, normalization and classes); write one with 'hare-train card "
         "--model " + model + " --spec SPEC --window W --step S --fit-normalization TRAINING_FILES' (or "
         "--no-normalization)";
}
}  // namespace

TEST_CASE("hare-train card: a foreign traced model gets a card that eval then uses", "[tools]") {
  test::TempDir dir;
  const std::string model = copy_fixture(dir, "traced12");
  const std::string data = test::source_path("data/mhealth");
  const auto eval_before = test::run(kTool + " eval --model " + model + " " + data + "/subject08.tsv.gz");
  CHECK(eval_before.exit_code == 2);
  CHECK(first_line(eval_before.err) == missing_card_line("hare-train", model, dir.file("traced12.yaml")));

  const std::string card = kTool + " card --model " + model + " --spec mhealth-tsv --window 2.56s --step 1s " +
                           "--fit-normalization " + data + " --train-subjects 1-6";
  const auto written = test::run(card);
  INFO(written.err);
  REQUIRE(written.exit_code == 0);
  CHECK(written.out == dir.file("traced12.yaml") + "\n");
  const YAML::Node yaml = YAML::LoadFile(dir.file("traced12.yaml"));
  CHECK(yaml["input_shape"].as<std::vector<int>>() == std::vector<int>{1, 6, 128});
  CHECK(yaml["classes"].size() == 12);
  CHECK(!yaml["training"]);

  const auto eval = test::run(kTool + " eval --model " + model + " " + data + "/subject08.tsv.gz");
  INFO(eval.err);
  CHECK(eval.exit_code == 0);
  CHECK(YAML::Load(eval.out)["windows"].as<int>() > 500);

  // Never replaced without --force.
  const auto again = test::run(card);
  CHECK(again.exit_code == 2);
  CHECK(first_line(again.err) ==
        "hare-train: error: " + dir.file("traced12.yaml") + ": a model card already exists here; pass --force to replace it");
  CHECK(test::run(card + " --force").exit_code == 0);
}

TEST_CASE("hare-train card: a class count the model does not output is named with what it gave", "[tools]") {
  test::TempDir dir;
  const std::string model = copy_fixture(dir, "foreign10");
  const std::string base = kTool + " card --model " + model + " --spec mhealth-tsv --window 128 --step 50 --no-normalization";
  const auto twelve = test::run(base);
  CHECK(twelve.exit_code == 2);
  CHECK(first_line(twelve.err) == "hare-train: error: " + model +
                                      ": the model outputs [1, 10] for one window [1, 6, 128], but the spec's labels "
                                      "(mhealth-tsv) name 12 classes (expected [1, 12])");
  CHECK_THAT(twelve.err, Catch::Contains("the card must name the model's 10 classes in its output order"));
  const auto ten = test::run(base + " --classes standing,sitting,lying,walking,climbing_stairs,waist_bends,"
                                    "arm_elevation,knees_bending,cycling,jogging");
  INFO(ten.err);
  CHECK(ten.exit_code == 0);
  const auto three_channels = test::run(base + " --channels chest_acc_x,chest_acc_y,chest_acc_z --force");
  CHECK(three_channels.exit_code == 2);
  CHECK_THAT(first_line(three_channels.err),
             Catch::StartsWith("hare-train: error: " + model + ": the model rejects the card's input_shape [1, 3, 128] ("));
}

TEST_CASE("hare-train card: models exported in training mode are refused or switched with a warning", "[tools]") {
  test::TempDir dir;
  auto card = [&](const std::string& name) {
    return test::run(kTool + " card --model " + copy_fixture(dir, name) +
                     " --spec mhealth-tsv --window 128 --step 50 --no-normalization");
  };
  const auto traced = card("traced_training");
  CHECK(traced.exit_code == 2);
  CHECK(first_line(traced.err) == "hare-train: error: " + dir.file("traced_training.pt") +
                                      ": the model was traced in training mode: its graph runs aten::batch_norm with "
                                      "training fixed to true, which eval() cannot undo");
  CHECK_THAT(traced.err, Catch::Contains("call model.eval() before torch.jit.trace(model, example)"));
  const auto scripted = card("scripted_training");
  CHECK(scripted.exit_code == 0);
  CHECK(first_line(scripted.err) == "hare-train: warning: " + dir.file("scripted_training.pt") +
                                        ": the model was saved in training mode; hare runs it in eval mode (dropout "
                                        "off, batch norm on its running statistics): export it after model.eval() to "
                                        "silence this");
  const auto float64 = card("float64");
  CHECK(float64.exit_code == 2);
  CHECK(first_line(float64.err) == "hare-train: error: " + dir.file("float64.pt") +
                                       ": the model's parameters are Double ('0.weight'), and hare runs float32 models");
}

TEST_CASE("hare-train card: a missing normalization choice or a bad option exits 2", "[tools]") {
  test::TempDir dir;
  const std::string model = copy_fixture(dir, "traced12");
  const auto none = test::run(kTool + " card --model " + model + " --spec mhealth-tsv --window 128 --step 50");
  CHECK(none.exit_code == 2);
  CHECK(first_line(none.err) == "hare-train: error: say how the model's inputs were normalized: --fit-normalization "
                                "with the recordings it was trained on, or --no-normalization for raw values");
  const auto no_window = test::run(kTool + " card --model " + model + " --spec mhealth-tsv --no-normalization");
  CHECK(no_window.exit_code == 2);
  CHECK(first_line(no_window.err) == "hare-train: error: --window is required");
  CHECK_FALSE(std::filesystem::exists(dir.file("traced12.yaml")));
}
