#include <catch2/catch.hpp>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/fs.h"
#include "fixtures/sample_card.h"
#include "fixtures/sample_plan.h"
#include "runtime/frame.h"
#include "runtime/node_spec.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

namespace {

// A plan directory as hare-partition writes it (slices are opaque here).
std::string write_plan_dir(const test::TempDir& dir, bool with_old_node_files) {
  const std::string plan = dir.file("plan");
  write_file_atomic(plan + "/plan.yaml", artifacts::plan_to_yaml(test::sample_plan()));
  data::write_model_card(plan + "/model.yaml", test::sample_card());
  write_file_atomic(plan + "/slices/stage-1.pt", "slice 1");
  write_file_atomic(plan + "/slices/stage-2.pt", "slice 2");
  // What earlier versions also wrote: must not stop a node from reading the plan.
  if (with_old_node_files) write_file_atomic(plan + "/nodes/gw.yaml", "format: hare-node/1\nnode: gw\n");
  artifacts::seal_plan_dir(plan);
  return plan;
}

}  // namespace

TEST_CASE("a node derives its wiring from plan.yaml", "[runtime]") {
  test::TempDir dir;
  const bool old_layout = GENERATE(false, true);
  const std::string plan = write_plan_dir(dir, old_layout);

  const NodeSpec gw = load_node_spec(plan, "gw");
  CHECK(gw.listen == "tcp://127.0.0.1:5550");
  CHECK(gw.source);
  CHECK(gw.sink);
  REQUIRE(gw.stage);
  CHECK(gw.stage->sends_to == "tcp://127.0.0.1:5551");
  CHECK(gw.stage->memory_limit_bytes == 164000000);
  CHECK(gw.stage->next_destination == 2);
  CHECK(gw.stage->sends_codec == Codec::float16);  // stage 2 takes float16 in

  const NodeSpec edge = load_node_spec(plan, "edge");
  CHECK_FALSE(edge.source);
  REQUIRE(edge.stage);
  CHECK(edge.stage->sends_to == "tcp://127.0.0.1:5550");  // the sink, on gw
  CHECK(edge.stage->next_destination == kSinkDestination);
  CHECK(edge.stage->threads == 2);

  CHECK_THROWS_WITH(load_node_spec(plan, "egde"), Catch::Contains("the plan has no node 'egde' (did you mean 'edge'?)"));
}
