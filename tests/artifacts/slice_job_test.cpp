// The records exchanged with hare-slice: one JSON form each, read back whole.

#include <catch2/catch.hpp>

#include "artifacts/slice_job.h"

using namespace hare;
using namespace hare::artifacts;

TEST_CASE("a slicing job survives its JSON form", "[artifacts]") {
  SliceJob job;
  job.plan_dir = "/tmp/.plan.staging-1-a \"quoted\"\\";
  job.model_path = "models/hare-cnn.pt";
  job.card_path = "models/hare-cnn.yaml";
  job.expand = true;
  job.check_data = {"a.tsv.gz", "b\nc.log"};
  job.check_windows = 40;
  job.check_random = 3;
  const SliceJob back = parse_slice_job(slice_job_to_json(job));
  CHECK(back.plan_dir == job.plan_dir);
  CHECK(back.model_path == job.model_path);
  CHECK(back.card_path == job.card_path);
  CHECK(back.expand);
  CHECK(back.check_data == job.check_data);
  CHECK(back.check_windows == 40);
  CHECK(back.check_random == 3);
  CHECK_THROWS_WITH(parse_slice_job("{\"plan_dir\": 1}"), Catch::StartsWith("--job: not a slicing job"));
}

TEST_CASE("a slicing outcome carries the check or the whole error", "[artifacts]") {
  SliceOutcome passed;
  passed.check = model::EquivalenceReport{};
  passed.check->real_windows = 64;
  passed.check->random_windows = 16;
  passed.check->max_abs_diff = 1.5e-7;
  passed.check->passed = true;
  passed.check->slice_input_shapes = {{1, 6, 128}, {1, 64, 16}};
  passed.check->lossy = true;
  passed.check->lossy_agreement = 0.984375;
  passed.check->lossy_required = 0.97;
  const SliceOutcome back = parse_slice_outcome(slice_outcome_to_json(passed));
  REQUIRE(back.check);
  CHECK_FALSE(back.error);
  CHECK(back.check->real_windows == 64);
  CHECK(back.check->max_abs_diff == 1.5e-7);
  CHECK(back.check->passed);
  CHECK(back.check->slice_input_shapes == passed.check->slice_input_shapes);
  CHECK(back.check->lossy_agreement == 0.984375);

  SliceOutcome failed;
  failed.error = input_error(Location{"data/x.tsv", 3, 7}, "bad \"value\"\\ here");
  failed.error->with_hint("fix it").with_source_line("1\t2\t\"x\"");
  failed.error->with_more({failure("and another")});
  const SliceOutcome error = parse_slice_outcome(slice_outcome_to_json(failed));
  REQUIRE(error.error);
  CHECK_FALSE(error.check);
  CHECK(error.error->kind() == Error::Kind::input);
  CHECK(error.error->message() == "bad \"value\"\\ here");
  CHECK(error.error->location().str() == "data/x.tsv:3:7");
  CHECK(error.error->hint() == "fix it");
  CHECK(error.error->source_line() == "1\t2\t\"x\"");
  REQUIRE(error.error->more().size() == 1);
  CHECK(error.error->more()[0].kind() == Error::Kind::failure);
  CHECK(error.error->more()[0].message() == "and another");

  CHECK_THROWS_WITH(parse_slice_outcome(""), Catch::StartsWith("not a slicing outcome"));
  CHECK_THROWS_WITH(parse_slice_outcome("{}"), "a slicing outcome holds either a check or an error");
}
