// The planner end to end on a model whose slices cannot reproduce it: the
// equivalence check fails and nothing appears at --out.

#include <catch2/catch.hpp>

#include <filesystem>

#include "artifacts/planner.h"
#include "common/error.h"
#include "partition/cluster.h"
#include "partition/solver.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

TEST_CASE("a failed equivalence check writes nothing", "[artifacts]") {
  test::TempDir dir;
  REQUIRE(test::run("/usr/bin/python3 " + test::source_path("tests/fixtures/make_fixtures.py") + " " + dir.path()).exit_code == 0);
  // noisy.pt: conv, noise, flatten, linear; cut it into two stages on two nodes.
  partition::Problem problem;
  problem.layer_names = {"0", "1", "2", "3"};
  problem.out_bytes = {3072, 2048, 2048, 2048, 48};
  problem.param_bytes = {0, 0, 0, 0};
  problem.devices = {partition::DeviceCosts{"d", {1}, {{1.0}, {1.0}, {1.0}, {1.0}}, 1000, 0.0, {}}};
  problem.nodes = {partition::ProblemNode{"a", 0, 1, 1 << 30}, partition::ProblemNode{"b", 0, 1, 1 << 30}};
  problem.links = {{partition::Link{100, 0}, partition::Link{100, 0.1}}, {partition::Link{100, 0.1}, partition::Link{100, 0}}};
  problem.pins = {partition::Pin{0, 1, 0}, partition::Pin{2, 3, 1}};
  const partition::SolveResult result = partition::solve(problem, partition::SolveOptions{});
  REQUIRE(result.plans.front().stages.size() == 2);

  test::write_text(dir.file("c.yaml"), "format: hare-cluster/1\n");
  partition::ClusterConfig cluster;
  cluster.name = "c";
  cluster.nodes = {partition::NodeConfig{"a", "d", 1, 1 << 30, "127.0.0.1", {}, 1},
                   partition::NodeConfig{"b", "d", 1, 1 << 30, "127.0.0.1", {}, 2}};
  artifacts::WritePlanRequest request;
  request.model_path = dir.file("noisy.pt");
  request.card_path = test::source_path("models/hare-cnn.yaml");  // its input shape [1, 6, 128] fits
  request.cluster_path = dir.file("c.yaml");
  request.cluster = &cluster;
  request.problem = &problem;
  request.result = &result;
  request.check_data = {test::source_path("data/mhealth/subject08.tsv.gz")};
  request.out = dir.file("plan");
  CHECK_THROWS_WITH(artifacts::write_plan_dir(request),
                    Catch::StartsWith("the chained slices do not reproduce the model") &&
                        Catch::EndsWith("nothing was written"));
  CHECK_FALSE(fs::exists(dir.file("plan")));
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find("staging") == std::string::npos);
  }
}
