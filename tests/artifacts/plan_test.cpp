// plan.yaml with stage groups: the members' fields, the plans written before
// groups, and the checks across stages and nodes.

#include <catch2/catch.hpp>

#include "artifacts/plan.h"
#include "fixtures/sample_plan.h"
#include "test_util.h"

using namespace hare;
using namespace hare::artifacts;

namespace {

// The sample plan's stages as hare-partition wrote them before groups: the
// one node's fields at the stage's level, no idle latency.
const char* const kPlanBeforeGroups = R"(format: hare-plan/1
model: {name: hare-cnn, sha256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, card: model.yaml}
cluster: {name: c, sha256: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb}
objective: latency
solver: {exact: true, method: exact dynamic program over 2 nodes}
workload: {window_rate: 8, slo_latency_ms: 50}
source: gw
sink: gw
predicted: {latency_ms: 7.5, throughput: 305.2, cores: 3, source_transfer_ms: 0, sink_hop_ms: 0,
            codec_to_sink: float32, in_bytes: 3072, bytes_leaving_source: 8192}
stages:
  - index: 1
    node: gw
    first_layer: 1
    last_layer: 2
    layers: [conv1, conv2]
    replicas: 1
    threads: 1
    codec_in: float32
    compute_ms: 0.07
    wake_ms: 0.05
    hops_ms: 0.1
    out_bytes: 4096
    transfer_ms: 5.3
    memory_bytes: 164000000
    slice: slices/stage-1.pt
    input_shape: [1, 6, 128]
  - index: 2
    node: edge
    first_layer: 3
    last_layer: 7
    layers: [conv3, conv4, pool, fc1, out]
    replicas: 1
    threads: 2
    codec_in: float16
    compute_ms: 0.1
    wake_ms: 0
    hops_ms: 0.1
    out_bytes: 8
    transfer_ms: 2
    memory_bytes: 165000000
    slice: slices/stage-2.pt
    input_shape: [1, 64, 16]
nodes:
  - {name: gw, address: 127.0.0.1, port: 5550, roles: [source, stage, sink], stage: 1, cores: 1, mem_bytes: 1073741824}
  - {name: edge, address: 127.0.0.1, port: 5551, roles: [stage], stage: 2, cores: 2, mem_bytes: 1073741824}
links: []
equivalence_check: {real_windows: 0, random_windows: 0, max_abs_diff: 0}
)";

std::vector<std::string> errors_of(const std::string& text) {
  return test::error_messages([&] { parse_plan(text, "plan.yaml"); });
}

}  // namespace

TEST_CASE("a plan whose stage 2 is a group of two nodes round-trips", "[artifacts]") {
  const PlanDoc plan = test::sample_group_plan();
  const std::string text = plan_to_yaml(plan);
  const PlanDoc back = parse_plan(text, "plan.yaml");
  REQUIRE(back.stages[1].members.size() == 2);
  const PlanMember& second = back.stages[1].members[1];
  CHECK(second.node == "edge2");
  CHECK(second.share == 0.4);
  CHECK(second.codec_in == Codec::int8);
  CHECK(second.queue_ms == 0.5);
  CHECK(second.transfer_ms == 2.5);
  CHECK(second.memory_bytes == 150000000);
  CHECK(back.stages[1].members[0].share == 0.6);
  CHECK(back.stages[1].lossiest_codec_in() == Codec::int8);
  CHECK(back.idle_latency_ms == 7.0);
  CHECK(back.utilization == 0.026);
  REQUIRE(back.stage_of("edge2") != nullptr);
  CHECK(back.stage_of("edge2")->index == 2);
  CHECK(back.stage_of("nobody") == nullptr);
  CHECK(plan_to_yaml(back) == text);
  // Only the group form is written.
  CHECK_THAT(text, Catch::Contains("    members:\n      - node: edge\n") && !Catch::Contains("    node: "));
}

TEST_CASE("a plan written before groups reads as one member per stage with share 1", "[artifacts]") {
  const PlanDoc old = parse_plan(kPlanBeforeGroups, "plan.yaml");
  REQUIRE(old.stages.size() == 2);
  for (const PlanStage& stage : old.stages) {
    REQUIRE(stage.members.size() == 1);
    CHECK(stage.members[0].share == 1.0);
    CHECK(stage.members[0].queue_ms == 0.0);
  }
  CHECK(old.idle_latency_ms == old.latency_ms);  // no queueing term then
  // Everything else as the sample plan has it: written anew, the same plan.
  PlanDoc expected = test::sample_plan();
  expected.idle_latency_ms = expected.latency_ms;
  expected.utilization = 0.0;
  expected.check_max_abs_diff = old.check_max_abs_diff;
  CHECK(plan_to_yaml(old) == plan_to_yaml(expected));
  // A stage that mixes both forms is refused where it does.
  const std::string mixed =
      test::replaced(kPlanBeforeGroups, "    input_shape: [1, 64, 16]\n",
                     "    input_shape: [1, 64, 16]\n    members:\n      - {node: edge, replicas: 1, threads: 2, share: 1, "
                     "compute_ms: 0.1, transfer_ms: 2, memory_bytes: 1}\n");
  const auto errors = errors_of(mixed);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors[0] == "plan.yaml:29:11: 'node' belongs to a member of the stage, under 'members'");
}

TEST_CASE("a group's shares, its nodes and their cores are checked at file:line:col", "[artifacts]") {
  const std::string text = plan_to_yaml(test::sample_group_plan());
  SECTION("shares that do not sum to 1") {
    CHECK(errors_of(test::replaced(text, "share: 0.4", "share: 0.3")) ==
          std::vector<std::string>{"plan.yaml:58:7: stage 2's members take shares that sum to 0.9 (edge 0.6, edge2 "
                                   "0.3); they must sum to 1"});
  }
  SECTION("a share of 0 or more than 1") {
    const auto errors = errors_of(test::replaced(test::replaced(text, "share: 0.4", "share: 0"), "share: 0.6", "share: 1.6"));
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "plan.yaml:61:16: 'share' is 1.6; a member takes at most all (1) of its stage's windows");
    CHECK(errors[1] == "plan.yaml:72:16: 'share' must be positive");
  }
  SECTION("a node in two stages") {
    PlanDoc plan = test::sample_group_plan();
    plan.stages[1].members[1].node = "gw";
    plan.stages[1].members[1].replicas = 1;
    const auto errors = errors_of(plan_to_yaml(plan));
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "plan.yaml:69:15: node 'gw' is a member of stage 1 and of stage 2; a node serves one stage");
    CHECK(errors[1] == "plan.yaml:83:74: node 'edge2' says it runs stage 2, whose group is edge, gw");
  }
  SECTION("a node twice in one group") {
    PlanDoc plan = test::sample_group_plan();
    plan.stages[1].members[1].node = "edge";
    const auto errors = errors_of(plan_to_yaml(plan));
    REQUIRE_FALSE(errors.empty());
    CHECK(errors[0] == "plan.yaml:69:15: node 'edge' is listed twice in stage 2's group");
  }
  SECTION("a member with more replicas x threads than its node's cores") {
    PlanDoc plan = test::sample_group_plan();
    plan.stages[1].members[1].replicas = 2;  // edge2 has 1 core
    CHECK(errors_of(plan_to_yaml(plan)) ==
          std::vector<std::string>{"plan.yaml:70:19: stage 2 runs 2 replica(s) x 1 thread(s) on node 'edge2', which has "
                                   "1 core(s)"});
  }
  SECTION("a member node the plan does not list, and a node that names a stage whose group it is not in") {
    PlanDoc plan = test::sample_group_plan();
    plan.nodes[2].stage = 1;
    CHECK(errors_of(plan_to_yaml(plan)) ==
          std::vector<std::string>{"plan.yaml:83:74: node 'edge2' says it runs stage 1, which runs on node 'gw'"});
    plan.nodes[2].stage.reset();
    plan.nodes[2].roles = {};
    const auto errors = errors_of(plan_to_yaml(plan));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("node 'edge2' is a member of stage 2's group, but says no stage"));
  }
  SECTION("an empty group") {
    PlanDoc plan = test::sample_group_plan();
    plan.stages[1].members.clear();
    const auto errors = errors_of(plan_to_yaml(plan));
    REQUIRE_FALSE(errors.empty());
    CHECK_THAT(errors[0], Catch::EndsWith("'members' must be a non-empty list"));
  }
}
