// Black-box tests of hare-profile: exact first error line and exit codes.

#include <catch2/catch.hpp>

#include <filesystem>

#include "profile/profile.h"
#include "cli_checks.h"
#include "data/model_card.h"
#include "test_util.h"

using namespace hare;
using hare::profile::Profile;
using hare::profile::read_profile;

namespace {
using test::first_line;
const std::string kTool = test::tool_path("hare-profile");
}  // namespace

TEST_CASE("hare-profile: usage errors exit 2", "[tools]") {
  CHECK(test::run(kTool + " --bogus").exit_code == 2);
  const auto no_model = test::run(kTool);
  CHECK(no_model.exit_code == 2);
  CHECK(first_line(no_model.err) == "hare-profile: error: --model is required");
  const auto threads = test::run(kTool + " --model " + test::source_path("models/hare-cnn.pt") + " --threads 1,x");
  CHECK(threads.exit_code == 2);
  CHECK(first_line(threads.err) ==
        "hare-profile: error: --threads: 'x' is not a whole number of at least 1 (give a list like 1,2,4)");
}

TEST_CASE("hare-profile: a missing or non-TorchScript model exits 2 naming the file", "[tools]") {
  test::TempDir dir;
  const auto missing = test::run(kTool + " --model " + dir.file("none.pt") + " --input-shape 1,6,128");
  CHECK(missing.exit_code == 2);
  CHECK(first_line(missing.err) == "hare-profile: error: " + dir.file("none.pt") + ": model file not found");
  test::write_text(dir.file("junk.pt"), "junk");
  const auto junk = test::run(kTool + " --model " + dir.file("junk.pt") + " --input-shape 1,6,128");
  CHECK(junk.exit_code == 2);
  CHECK_THAT(first_line(junk.err), Catch::StartsWith("hare-profile: error: " + dir.file("junk.pt") +
                                                     ": not a loadable TorchScript model"));
  const auto no_shape = test::run(kTool + " --model " + dir.file("junk.pt"));
  CHECK(no_shape.exit_code == 2);
}

TEST_CASE("hare-profile: a wrong input shape is refused with exit 2", "[tools]") {
  test::TempDir dir;
  const auto result = test::run(kTool + " --model " + test::source_path("models/hare-cnn.pt") +
                                " --input-shape 1,3,128 --runs 2 --out " + dir.file("p.yaml"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(first_line(result.err), Catch::Contains("the model rejects an input of shape [1, 3, 128]"));
}

TEST_CASE("hare-profile: profiles, shows, and refuses a profile of another model", "[tools]") {
  test::TempDir dir;
  const std::string model = test::source_path("models/hare-cnn.pt");
  const auto run = test::run(kTool + " --model " + model + " --runs 5 --warmup 1 --threads 1 --idle-runs 5 --idle-gaps-ms 1,3 -q --out " +
                             dir.file("p.yaml"));
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const auto show = test::run(kTool + " show " + dir.file("p.yaml") + " --model " + model);
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Catch::Contains("whole model"));
  // The runtime's hop between processes, after each idle gap: a real ZeroMQ round trip, not zero.
  CHECK_THAT(show.out, Catch::Contains("after 3 ms idle"));
  const Profile p = read_profile(dir.file("p.yaml"));
  REQUIRE(p.idle.size() == 2);
  CHECK(p.idle[0].hop.min_ms > 0.001);
  CHECK(p.idle[1].hop.median_ms < 5.0);
  CHECK(test::run(kTool + " --model " + model + " --idle-gaps-ms 5,1 --out " + dir.file("q.yaml")).exit_code == 2);

  test::write_text(dir.file("other.pt"), "other bytes");
  const auto mismatch = test::run(kTool + " show " + dir.file("p.yaml") + " --model " + dir.file("other.pt"));
  CHECK(mismatch.exit_code == 2);
  CHECK_THAT(first_line(mismatch.err),
             Catch::StartsWith("hare-profile: error: " + dir.file("p.yaml") + ": profile was measured for another model"));
}

TEST_CASE("hare-profile: a model calling an unknown operator, or in float64, is refused naming the cause", "[tools]") {
  const std::string& fixtures = test::python_fixtures();
  const auto unknown = test::run(kTool + " --model " + fixtures + "/unknown_op.pt --input-shape 1,6,128 --runs 2");
  CHECK(unknown.exit_code == 2);
  CHECK(first_line(unknown.err) == "hare-profile: error: " + fixtures +
                                       "/unknown_op.pt: not a loadable TorchScript model (Unknown builtin op: "
                                       "harefixture::scale)");
  CHECK_THAT(unknown.err, Catch::Contains("calls an operator that this LibTorch ("));
  const auto float64 = test::run(kTool + " --model " + fixtures + "/float64.pt --input-shape 1,6,128 --runs 2");
  CHECK(float64.exit_code == 2);
  CHECK(first_line(float64.err) == "hare-profile: error: " + fixtures +
                                       "/float64.pt: the model's parameters are Double ('0.weight'), and hare runs "
                                       "float32 models");
  CHECK_THAT(float64.err, Catch::Contains("model.float()"));
}

TEST_CASE("hare-profile: without --input-shape, a missing card is named with the command that writes one", "[tools]") {
  test::TempDir dir;
  const std::string model = test::source_path("models/hare-cnn.pt");
  const auto absent = test::run(kTool + " --model " + model + " --card " + dir.file("none.yaml") + " --runs 2");
  CHECK(absent.exit_code == 2);
  CHECK(absent.err == "hare-profile: error: " + dir.file("none.yaml") + ": no model card for " + model +
                          " (hare needs the model's channels, window, normalization and classes); write one with "
                          "'hare-train card --model " + model + " --spec SPEC --window W --step S "
                          "--fit-normalization TRAINING_FILES --out " + dir.file("none.yaml") +
                          "' (or --no-normalization)\n");
  const std::string foreign = test::python_fixtures() + "/traced12.pt";
  const auto beside = test::run(kTool + " --model " + foreign + " --runs 2");
  CHECK(beside.exit_code == 2);
  CHECK_THAT(beside.err, Catch::StartsWith("hare-profile: error: " + test::python_fixtures() +
                                           "/traced12.yaml: no model card for " + foreign));
}

TEST_CASE("hare-profile: a card of another model, or one whose classes the model does not give, is refused before timing", "[tools]") {
  test::TempDir dir;
  std::filesystem::copy_file(test::source_path("models/deepconvlstm.pt"), dir.file("m.pt"));
  std::filesystem::copy_file(test::source_path("models/hare-cnn.yaml"), dir.file("m.yaml"));
  const auto other = test::run(kTool + " --model " + dir.file("m.pt") + " --runs 2");
  CHECK(other.exit_code == 2);
  CHECK(first_line(other.err) == "hare-profile: error: " + dir.file("m.yaml") + ": model_sha256 does not match " +
                                     dir.file("m.pt") + " (the card belongs to another model)");

  std::filesystem::copy_file(test::source_path("models/hare-cnn.pt"), dir.file("m.pt"),
                             std::filesystem::copy_options::overwrite_existing);
  data::ModelCard card = data::read_model_card(test::source_path("models/hare-cnn.yaml"));
  card.classes.pop_back();  // 11 named, the model gives 12 scores
  card.trained_by_hare = false;
  card.validation = {};
  data::write_model_card(dir.file("m.yaml"), card);
  const auto classes = test::run(kTool + " --model " + dir.file("m.pt") + " --runs 2");
  CHECK(classes.exit_code == 2);
  CHECK_THAT(first_line(classes.err), Catch::StartsWith("hare-profile: error: " + dir.file("m.yaml")));
  CHECK_THAT(first_line(classes.err), Catch::Contains("11"));
}

TEST_CASE("hare-profile: without hare-node beside it, the memory probe's program is named before any timing", "[tools]") {
  test::TempDir dir;
  std::filesystem::copy_file(kTool, dir.file("hare-profile"));
  std::filesystem::permissions(dir.file("hare-profile"), std::filesystem::perms::owner_all);
  const auto lone = test::run(dir.file("hare-profile") + " --model " + test::source_path("models/hare-cnn.pt") +
                              " --runs 2 --threads 1 --out " + dir.file("p.yaml"));
  CHECK(lone.exit_code == 1);
  CHECK(first_line(lone.err) == "hare-profile: error: the supervisor memory probe needs " + dir.file("hare-node") +
                                    ", which is not there");
  CHECK_FALSE(std::filesystem::exists(dir.file("p.yaml")));
}
