// The planner end to end on a model whose slices cannot reproduce it: the
// equivalence check fails and nothing appears at --out. And the torch side
// (hare-slice, another process) failing in every way it can: its error
// comes back as the planner's own, and nothing is left behind.

#include <catch2/catch.hpp>

#include <filesystem>

#include "artifacts/plan.h"
#include "artifacts/planner.h"
#include "common/error.h"
#include "partition/cluster.h"
#include "partition/solver.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

namespace {

// Four layers cut into two stages on two nodes; `model` is whatever file the test needs.
struct TwoStages {
  partition::Problem problem;
  partition::SolveResult result;
  partition::ClusterConfig cluster;
  artifacts::WritePlanRequest request;

  TwoStages(const test::TempDir& dir, const std::string& model) {
    problem.layer_names = {"0", "1", "2", "3"};
    problem.out_bytes = {3072, 2048, 2048, 2048, 48};
    problem.param_bytes = {0, 0, 0, 0};
    problem.devices = {partition::DeviceCosts{"d", {1}, {{1.0}, {1.0}, {1.0}, {1.0}}, partition::MemoryCosts{0, 1000, 0, 1000, 0}, 0.0, {}}};
    problem.nodes = {partition::ProblemNode{"a", 0, 1, 1 << 30}, partition::ProblemNode{"b", 0, 1, 1 << 30}};
    problem.links = {{partition::Link{100, 0}, partition::Link{100, 0.1}}, {partition::Link{100, 0.1}, partition::Link{100, 0}}};
    problem.pins = {partition::Pin{0, 1, 0}, partition::Pin{2, 3, 1}};
    result = partition::solve(problem, partition::SolveOptions{});
    REQUIRE(result.plans.front().stages.size() == 2);

    test::write_text(dir.file("c.yaml"), "format: hare-cluster/1\n");
    cluster.name = "c";
    cluster.nodes = {partition::NodeConfig{"a", "d", 1, 1 << 30, "127.0.0.1", {}, 1},
                     partition::NodeConfig{"b", "d", 1, 1 << 30, "127.0.0.1", {}, 2}};
    request.model_path = model;
    request.card_path = test::source_path("models/hare-cnn.yaml");  // its input shape [1, 6, 128] fits
    request.cluster_path = dir.file("c.yaml");
    request.cluster = &cluster;
    request.problem = &problem;
    request.result = &result;
    request.check_data = {test::source_path("data/mhealth/subject08.tsv.gz")};
    request.out = dir.file("plan");
  }
  TwoStages(const TwoStages&) = delete;
  TwoStages& operator=(const TwoStages&) = delete;
};

void check_nothing_written(const test::TempDir& dir) {
  CHECK_FALSE(fs::exists(dir.file("plan")));
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find("staging") == std::string::npos);
  }
}

}  // namespace

TEST_CASE("a failed equivalence check writes nothing", "[artifacts]") {
  test::TempDir dir;
  REQUIRE(test::run("/usr/bin/python3 " + test::source_path("tests/fixtures/make_fixtures.py") + " " + dir.path()).exit_code == 0);
  // noisy.pt: conv, noise, flatten, linear; cut it into two stages on two nodes.
  TwoStages plan(dir, dir.file("noisy.pt"));
  CHECK_THROWS_WITH(artifacts::write_plan_dir(plan.request),
                    Catch::StartsWith("the chained slices do not reproduce the model") &&
                        Catch::EndsWith("nothing was written"));
  check_nothing_written(dir);
}

TEST_CASE("an error on the torch side comes back as the same Error and writes nothing", "[artifacts]") {
  test::TempDir dir;
  test::write_text(dir.file("model.pt"), "not a TorchScript archive\n");
  TwoStages plan(dir, dir.file("model.pt"));
  try {
    artifacts::write_plan_dir(plan.request);
    FAIL("the plan was written");
  } catch (const Error& error) {
    CHECK(error.kind() == Error::Kind::input);
    CHECK(error.location().file == dir.file("model.pt"));
    CHECK_THAT(error.message(), Catch::StartsWith("not a loadable TorchScript model"));
    CHECK_THAT(error.hint(), Catch::Contains("torch.jit.script"));
  }
  check_nothing_written(dir);
}

TEST_CASE("a torch side that is missing or dies is one clear failure and writes nothing", "[artifacts]") {
  test::TempDir dir;
  TwoStages plan(dir, test::source_path("models/hare-cnn.pt"));

  plan.request.slicer_path = dir.file("no-such-slicer");
  CHECK_THROWS_WITH(artifacts::write_plan_dir(plan.request),
                    dir.file("no-such-slicer") + " is missing: writing a plan directory needs it next to hare-partition");
  check_nothing_written(dir);

  test::write_text(dir.file("dies.sh"), "#!/bin/sh\nkill -KILL $$\n");
  fs::permissions(dir.file("dies.sh"), fs::perms::owner_all);
  plan.request.slicer_path = dir.file("dies.sh");
  CHECK_THROWS_WITH(artifacts::write_plan_dir(plan.request),
                    Catch::StartsWith(dir.file("dies.sh") + " (slicing the model) was killed by signal 9") &&
                        Catch::EndsWith("nothing was written"));
  check_nothing_written(dir);

  test::write_text(dir.file("mute.sh"), "#!/bin/sh\necho '{\"neither\": 1}'\nexit 3\n");
  fs::permissions(dir.file("mute.sh"), fs::perms::owner_all);
  plan.request.slicer_path = dir.file("mute.sh");
  CHECK_THROWS_WITH(artifacts::write_plan_dir(plan.request),
                    dir.file("mute.sh") + " (slicing the model) exited with code 3 and no result; nothing was written");
  check_nothing_written(dir);
}

TEST_CASE("a stage group in the solver's plan becomes a stage with its members, shares and codecs in plan.yaml",
          "[artifacts]") {
  test::TempDir dir;
  TwoStages two(dir, test::source_path("models/hare-cnn.pt"));
  partition::Problem& problem = two.problem;
  // A third node c, as fast as b, behind an int8 link from a.
  problem.nodes.push_back(partition::ProblemNode{"c", 0, 1, 1 << 30});
  problem.links = {{partition::Link{100, 0}, partition::Link{100, 0.1}, partition::Link{100, 0.1, Codec::int8}},
                   {partition::Link{100, 0.1}, partition::Link{100, 0}, partition::Link{100, 0.1}},
                   {partition::Link{100, 0.1}, partition::Link{100, 0.1}, partition::Link{100, 0}}};
  problem.pins.clear();
  problem.window_rate = 100;
  two.cluster.nodes.push_back(partition::NodeConfig{"c", "d", 1, 1 << 30, "127.0.0.1", {}, 3});
  partition::Plan plan;
  plan.stages = {partition::Stage{0, 1, {partition::Member{0, 1, 1}}},
                 partition::Stage{2, 3, {partition::Member{1, 1, 1}, partition::Member{2, 1, 1}}}};
  partition::SolveResult result;
  result.plans = {plan};
  result.metrics = {partition::evaluate(problem, plan)};
  REQUIRE(result.metrics[0].valid);
  two.request.result = &result;

  const artifacts::PlanDoc doc =
      artifacts::draft_plan(two.request, data::read_model_card(test::source_path("models/hare-cnn.yaml")));
  REQUIRE(doc.stages.size() == 2);
  const artifacts::PlanStage& group = doc.stages[1];
  CHECK(group.slice == "slices/stage-2.pt");  // one slice for the group
  REQUIRE(group.members.size() == 2);
  CHECK(group.members[0].node == "b");
  CHECK(group.members[1].node == "c");
  const partition::StageMetrics& predicted = result.metrics[0].stage[1];
  for (size_t j = 0; j < 2; ++j) {
    INFO("member " << j);
    CHECK(group.members[j].share == predicted.member[j].share);
    CHECK(group.members[j].compute_ms == predicted.member[j].compute_ms);
    CHECK(group.members[j].queue_ms == predicted.member[j].queue_ms);
    CHECK(group.members[j].memory_bytes == predicted.member[j].memory_bytes);
  }
  CHECK(group.members[0].share + group.members[1].share == Approx(1.0));
  CHECK(group.members[0].codec_in == Codec::float32);
  CHECK(group.members[1].codec_in == Codec::int8);  // a -> c
  CHECK(doc.idle_latency_ms == result.metrics[0].idle_latency_ms);
  CHECK(doc.utilization == result.metrics[0].utilization);
  for (const char* name : {"b", "c"}) {
    INFO(name);
    const artifacts::PlanNode* node = doc.find_node(name);
    REQUIRE(node != nullptr);
    CHECK(node->roles == std::vector<std::string>{"stage"});
    CHECK(node->stage == 2);
    CHECK(node->memory_bytes == partition::node_memory_bytes(problem.devices[0], group.find_member(name)->memory_bytes));
  }
  // What hare-node reads back passes every check of the plan.
  const artifacts::PlanDoc back = artifacts::parse_plan(artifacts::plan_to_yaml(doc), "plan.yaml");
  CHECK(artifacts::plan_to_yaml(back) == artifacts::plan_to_yaml(doc));
}
