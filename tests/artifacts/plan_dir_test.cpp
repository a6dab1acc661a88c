#include <catch2/catch.hpp>

#include <filesystem>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/error.h"
#include "common/fs.h"
#include "fixtures/sample_plan.h"
#include "test_util.h"

using namespace hare;
using namespace hare::artifacts;
namespace fs = std::filesystem;

namespace {

// A staging directory holding a small plan whose plan.yaml says `latency`.
std::string staged(const std::string& out, const std::string& latency) {
  const std::string dir = make_staging_dir(out);
  PlanDoc p = test::sample_plan();
  p.latency_ms = std::stod(latency);
  write_file_atomic(dir + "/plan.yaml", plan_to_yaml(p));
  write_file_atomic(dir + "/slices/stage-1.pt", "slice bytes");
  seal_plan_dir(dir);
  return dir;
}

}  // namespace

TEST_CASE("plan.yaml round-trips", "[artifacts]") {
  test::TempDir dir;
  write_file_atomic(dir.file("plan.yaml"), plan_to_yaml(test::sample_plan()));
  const PlanDoc p = read_plan(dir.file("plan.yaml"));
  CHECK(p.stages.size() == 2);
  CHECK(p.stages[1].layers == std::vector<std::string>{"conv3", "out"});
  CHECK(p.stages[1].threads == 2);
  CHECK(p.nodes[0].roles == std::vector<std::string>{"source", "stage", "sink"});
  CHECK(p.slo_latency_ms == 50.0);
  CHECK(plan_to_yaml(p) == plan_to_yaml(test::sample_plan()));
}

TEST_CASE("the manifest catches a corrupted, missing or extra file", "[artifacts]") {
  test::TempDir dir;
  const std::string out = dir.file("plan");
  REQUIRE(commit_plan_dir(staged(out, "7.5"), out, false) == CommitResult::created);
  CHECK(verify_plan_dir(out).size() == 2);

  write_file_atomic(out + "/slices/stage-1.pt", "slice bytEs");
  CHECK_THROWS_WITH(verify_plan_dir(out), Catch::StartsWith(out + "/slices/stage-1.pt: checksum mismatch"));
  fs::remove(out + "/slices/stage-1.pt");
  CHECK_THROWS_WITH(verify_plan_dir(out), out + ": file slices/stage-1.pt listed in the manifest is missing");
  write_file_atomic(out + "/slices/stage-1.pt", "slice bytes");
  write_file_atomic(out + "/extra.txt", "?");
  CHECK_THROWS_WITH(verify_plan_dir(out), out + ": file extra.txt is not in the manifest");
  CHECK_THROWS_WITH(verify_plan_dir(dir.path()), Catch::Contains("not a plan directory"));
}

TEST_CASE("committing a plan: created, unchanged, refused, forced; never a foreign directory", "[artifacts]") {
  test::TempDir dir;
  const std::string out = dir.file("plan");
  CHECK(commit_plan_dir(staged(out, "7.5"), out, false) == CommitResult::created);
  CHECK(commit_plan_dir(staged(out, "7.5"), out, false) == CommitResult::unchanged);
  CHECK_THROWS_WITH(commit_plan_dir(staged(out, "9.5"), out, false), out + ": holds a different plan; not overwriting it");
  CHECK(read_plan(out + "/plan.yaml").latency_ms == 7.5);  // the old plan is intact
  CHECK(commit_plan_dir(staged(out, "9.5"), out, true) == CommitResult::replaced);
  CHECK(read_plan(out + "/plan.yaml").latency_ms == 9.5);

  const std::string foreign = dir.file("mine");
  write_file_atomic(foreign + "/notes.txt", "precious");
  CHECK_THROWS_WITH(commit_plan_dir(staged(foreign, "1"), foreign, true),
                    foreign + ": exists and is not a plan directory; refusing to touch it");
  CHECK(read_file(foreign + "/notes.txt") == "precious");
  // No staging directories are left behind.
  int leftovers = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) leftovers += entry.path().filename().string().rfind(".", 0) == 0;
  CHECK(leftovers == 0);
}
