// Black-box tests of hare-train: the exact first line a user sees on stderr,
// the exit code, and that stdout carries only results.

#include <catch2/catch.hpp>

#include <yaml-cpp/yaml.h>

#include "test_util.h"

using namespace hare;

namespace {
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }
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
