#include <catch2/catch.hpp>

#include <filesystem>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "fixtures/sample_card.h"
#include "fixtures/sample_plan.h"
#include "runtime/frame.h"
#include "runtime/node_spec.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

namespace {

// The sample card, fed the sample plan's windows: stage 1 takes the card's
// input shape.
data::ModelCard plan_card() {
  data::ModelCard card = test::sample_card();
  card.input_shape = {1, 6, 128};
  card.channels = {"a_x", "a_y", "a_z", "g_x", "g_y", "g_z"};
  card.window_samples = 128;
  card.step_samples = 50;
  card.normalization.mean.assign(6, 0.0);
  card.normalization.std.assign(6, 1.0);
  return card;
}

// A plan directory as hare-partition writes it (slices are opaque here).
std::string write_plan_dir(const test::TempDir& dir, bool with_old_node_files,
                           const artifacts::PlanDoc& doc = test::sample_plan()) {
  const std::string plan = dir.file("plan");
  write_file_atomic(plan + "/plan.yaml", artifacts::plan_to_yaml(doc));
  data::write_model_card(plan + "/model.yaml", plan_card());
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
  REQUIRE(gw.stage->sends_to.size() == 1);
  CHECK(gw.stage->sends_to[0].endpoint == "tcp://127.0.0.1:5551");
  CHECK(gw.stage->memory_limit_bytes == 164000000);
  CHECK(gw.stage->next_destination == 2);
  CHECK(gw.stage->sends_to[0].codec == Codec::float16);  // stage 2 takes float16 in

  const NodeSpec edge = load_node_spec(plan, "edge");
  CHECK_FALSE(edge.source);
  REQUIRE(edge.stage);
  REQUIRE(edge.stage->sends_to.size() == 1);
  CHECK(edge.stage->sends_to[0].endpoint == "tcp://127.0.0.1:5550");  // the sink, on gw
  CHECK(edge.stage->sends_to[0].share == 1.0);
  CHECK(edge.stage->next_destination == kSinkDestination);
  CHECK(edge.stage->threads == 2);

  CHECK_THROWS_WITH(load_node_spec(plan, "egde"), Catch::Contains("the plan has no node 'egde' (did you mean 'edge'?)"));
}

TEST_CASE("a node takes only the frames its plan sends it", "[runtime]") {
  test::TempDir dir;
  const std::string plan = write_plan_dir(dir, false);
  const NodeSpec gw = load_node_spec(plan, "gw");      // source, stage 1, sink
  const NodeSpec edge = load_node_spec(plan, "edge");  // stage 2 (float16 in)
  const size_t classes = gw.card.classes.size();

  // Every node of a plan tags its frames alike: 16 bits of plan.yaml's digest.
  CHECK(gw.plan_tag == edge.plan_tag);
  CHECK(gw.plan_tag == std::stoul(sha256_file(plan + "/plan.yaml").substr(0, 4), nullptr, 16));
  FrameHeader window;  // the source's window for stage 1
  window.destination = 1;
  window.shape = {1, 6, 128};
  window.plan_tag = gw.plan_tag;
  CHECK(unplanned_frame(gw, window).empty());
  FrameHeader earlier = window;  // in flight when the node switched plans
  earlier.plan_tag = static_cast<uint16_t>(gw.plan_tag + 1);
  CHECK(unplanned_frame(gw, earlier) ==
        "sent under another plan (in flight at a switch: the source sends it again under this one)");
  CHECK(unplanned_frame(edge, window) == "not addressed to this node");
  FrameHeader wide = window;
  wide.shape = {1, 6, 3000000};  // what killed workers: well formed, never planned
  CHECK(unplanned_frame(gw, wide) == "a shape or dtype the plan never sends to stage 1");
  FrameHeader half = window;
  half.dtype = DType::float16;
  CHECK(unplanned_frame(gw, half) == "a shape or dtype the plan never sends to stage 1");
  FrameHeader traced = window;
  traced.trace.push_back(HopTrace{1, 0, 0, 0, 0, 0});
  CHECK(unplanned_frame(gw, traced) == "for stage 1, not from the stage before it");

  FrameHeader activation;  // stage 1's output for stage 2, float16 on the link
  activation.destination = 2;
  activation.shape = {1, 64, 16};
  activation.dtype = DType::float16;
  activation.plan_tag = edge.plan_tag;
  activation.trace.push_back(HopTrace{1, 0, 0, 0, 0, 0});
  CHECK(unplanned_frame(edge, activation).empty());
  FrameHeader skipped = activation;
  skipped.trace.clear();  // straight from the source
  CHECK(unplanned_frame(edge, skipped) == "for stage 2, not from the stage before it");
  FrameHeader end_to_stage = activation;
  end_to_stage.kind = FrameKind::end;
  CHECK(unplanned_frame(edge, end_to_stage) == "an end of stream addressed to a stage");

  FrameHeader logits;  // stage 2's output for the sink on gw
  logits.destination = kSinkDestination;
  logits.shape = {1, static_cast<int64_t>(classes)};
  logits.plan_tag = gw.plan_tag;
  logits.trace.push_back(HopTrace{1, 0, 0, 0, 0, 0});
  logits.trace.push_back(HopTrace{2, 0, 0, 0, 0, 0});
  CHECK(unplanned_frame(gw, logits).empty());
  CHECK(unplanned_frame(edge, logits) == "not addressed to this node");
  FrameHeader forged = logits;
  forged.trace.pop_back();  // from stage 1, which never sends to the sink
  CHECK(unplanned_frame(gw, forged) == "for the sink, not from the last stage");
  FrameHeader bigger = logits;
  bigger.shape = {1, static_cast<int64_t>(classes) + 1};
  CHECK(unplanned_frame(gw, bigger) == "a shape or dtype the plan never sends to the sink");
  FrameHeader end;
  end.kind = FrameKind::end;
  end.destination = kSinkDestination;
  CHECK(unplanned_frame(gw, end).empty());
  end.plan_tag = static_cast<uint16_t>(gw.plan_tag + 1);  // the count holds whatever the plan
  CHECK(unplanned_frame(gw, end).empty());
  end.trace.push_back(HopTrace{2, 0, 0, 0, 0, 0});
  CHECK(unplanned_frame(gw, end) == "an end of stream with a shape or trace");

  // The largest frame each node is sent: gw the raw window (float32), edge
  // stage 2's input in float16.
  CHECK(max_frame_bytes(gw) == static_cast<int64_t>(kHeaderBytes + 6 * 128 * 4));
  CHECK(max_frame_bytes(edge) == static_cast<int64_t>(kHeaderBytes + 64 * 16 * 2));
}

TEST_CASE("a plan directory written before groups still runs: each stage's node is its group of one", "[runtime]") {
  test::TempDir dir;
  const std::string plan = write_plan_dir(dir, true);
  write_file_atomic(plan + "/plan.yaml", test::kSamplePlanBeforeGroups);
  artifacts::seal_plan_dir(plan);
  const NodeSpec gw = load_node_spec(plan, "gw");
  const NodeSpec edge = load_node_spec(plan, "edge");
  REQUIRE(gw.first_stage.size() == 1);
  CHECK(gw.first_stage[0].endpoint == "tcp://127.0.0.1:5550");
  REQUIRE(gw.stage->sends_to.size() == 1);
  CHECK(gw.stage->sends_to[0].endpoint == "tcp://127.0.0.1:5551");
  CHECK(gw.stage->sends_to[0].share == 1.0);
  CHECK(gw.stage->sends_to[0].codec == Codec::float16);
  CHECK(gw.stage->group == std::vector<std::string>{"gw"});
  REQUIRE(edge.stage);
  CHECK(edge.stage->member == 0);
  CHECK(edge.stage->threads == 2);
  CHECK(edge.stage->memory_limit_bytes == 165000000);
  CHECK(edge.stage->input_codec == Codec::float16);
  REQUIRE(edge.stage->sends_to.size() == 1);
  CHECK(edge.stage->sends_to[0].node == "gw");
}

TEST_CASE("a stage group: senders get every member with its share and codec, members take frames from any "
          "member before them",
          "[runtime]") {
  test::TempDir dir;
  const std::string plan = write_plan_dir(dir, false, test::sample_group_plan());
  const NodeSpec gw = load_node_spec(plan, "gw");
  const NodeSpec edge = load_node_spec(plan, "edge");
  const NodeSpec edge2 = load_node_spec(plan, "edge2");
  // Stage 1 (gw) sends to both members of stage 2, each in its own codec.
  REQUIRE(gw.stage->sends_to.size() == 2);
  CHECK(gw.stage->sends_to[0].node == "edge");
  CHECK(gw.stage->sends_to[0].share == 0.6);
  CHECK(gw.stage->sends_to[0].codec == Codec::float16);
  CHECK(gw.stage->sends_to[1].endpoint == "tcp://127.0.0.1:5552");
  CHECK(gw.stage->sends_to[1].share == 0.4);
  CHECK(gw.stage->sends_to[1].codec == Codec::int8);
  REQUIRE(gw.first_stage.size() == 1);
  CHECK(gw.first_stage[0].node == "gw");
  // Each member: its place, its own replicas, memory and codec in; both send to the sink.
  REQUIRE(edge2.stage);
  CHECK(edge2.stage->index == 2);
  CHECK(edge2.stage->member == 1);
  CHECK(edge2.stage->group == std::vector<std::string>{"edge", "edge2"});
  CHECK(edge2.stage->share == 0.4);
  CHECK(edge2.stage->threads == 1);
  CHECK(edge2.stage->memory_limit_bytes == 150000000);
  CHECK(edge2.stage->input_codec == Codec::int8);
  CHECK(edge2.stage->predicted_compute_ms == 0.2);
  CHECK(edge.stage->member == 0);
  CHECK(edge.stage->input_codec == Codec::float16);
  for (const NodeSpec* member : {&edge, &edge2}) {
    REQUIRE(member->stage->sends_to.size() == 1);
    CHECK(member->stage->sends_to[0].node == "gw");
    CHECK(member->stage->next_destination == kSinkDestination);
  }

  FrameHeader activation;  // stage 1's output, as edge2 takes it
  activation.destination = 2;
  activation.shape = {1, 64, 16};
  activation.dtype = DType::int8;
  activation.plan_tag = gw.plan_tag;
  activation.trace.push_back(HopTrace{1, 0, 0, 0, 0, 0});
  CHECK(unplanned_frame(edge2, activation).empty());
  CHECK(unplanned_frame(edge, activation) == "a shape or dtype the plan never sends to stage 2");  // edge takes float16
  FrameHeader stranger = activation;
  stranger.member = 1;  // stage 1's group has one member
  CHECK(unplanned_frame(edge2, stranger) == "for stage 2, from no member of the stage before it");

  FrameHeader logits;  // for the sink, from either member of stage 2
  logits.destination = kSinkDestination;
  logits.shape = {1, static_cast<int64_t>(gw.card.classes.size())};
  logits.trace = {HopTrace{1, 0, 0, 0, 0, 0}, HopTrace{2, 0, 0, 0, 0, 0}};
  logits.plan_tag = gw.plan_tag;
  for (uint8_t member : {0, 1}) {
    logits.member = member;
    CHECK(unplanned_frame(gw, logits).empty());
    CHECK(sender_of(gw.plan, logits) == (member == 0 ? "edge" : "edge2"));
  }
  logits.member = 2;
  CHECK(unplanned_frame(gw, logits) == "for the sink, from no member of the last stage");
  CHECK(sender_of(gw.plan, logits).empty());
  FrameHeader window;
  window.shape = {1, 6, 128};
  CHECK(sender_of(gw.plan, window) == "gw");  // the source
}

TEST_CASE("a node's slice is a file of the plan directory, listed in the manifest, with its hash", "[runtime]") {
  test::TempDir dir;
  const std::string plan = write_plan_dir(dir, false);
  const NodeSpec edge = load_node_spec(plan, "edge");
  REQUIRE(edge.stage);
  CHECK(edge.stage->slice_path == std::filesystem::canonical(plan).string() + "/slices/stage-2.pt");
  CHECK(edge.stage->slice_sha256 == sha256_hex("slice 2"));  // what its workers check the file against

  SECTION("a slice outside the plan directory is refused where plan.yaml names it") {
    // The case: loaded unverified, since the manifest covers only the plan's own files.
    std::string text = artifacts::plan_to_yaml(test::sample_plan());
    text = test::replaced(text, "slice: slices/stage-2.pt", "slice: ../../etc/passwd");
    write_file_atomic(plan + "/plan.yaml", text);
    artifacts::seal_plan_dir(plan);
    CHECK(test::error_messages([&] { load_node_spec(plan, "edge"); }) ==
          std::vector<std::string>{plan + "/plan.yaml:56:12: 'slice' must be a relative path that stays inside the "
                                          "directory, and '../../etc/passwd' is not: it goes up with '..'"});
  }
  SECTION("a slice the manifest does not list is refused") {
    std::filesystem::remove(plan + "/slices/stage-2.pt");
    std::string text = artifacts::plan_to_yaml(test::sample_plan());
    text = test::replaced(text, "slice: slices/stage-2.pt", "slice: slices/stage-9.pt");
    write_file_atomic(plan + "/plan.yaml", text);
    artifacts::seal_plan_dir(plan);
    CHECK_THROWS_WITH(load_node_spec(plan, "edge"),
                      plan + "/plan.yaml: stage 2's slice slices/stage-9.pt is not in the plan's manifest");
  }
  SECTION("a slice that is a symlink out of the plan is refused, whatever the manifest says") {
    test::write_text(dir.file("other.pt"), "slice 2");  // same bytes: the hash alone would pass it
    std::filesystem::remove(plan + "/slices/stage-2.pt");
    std::filesystem::create_symlink(dir.file("other.pt"), plan + "/slices/stage-2.pt");
    CHECK_THROWS_WITH(load_node_spec(plan, "edge"),
                      Catch::StartsWith(plan + "/slices/stage-2.pt: is a symlink; a plan directory holds regular files only"));
  }
}

TEST_CASE("a plan whose stages do not run the whole model, or do not end in one score per class, is refused",
          "[runtime]") {
  test::TempDir dir;
  const std::string plan = write_plan_dir(dir, false);
  data::ModelCard card = plan_card();
  card.layers = {"conv1", "conv2", "conv3", "conv4", "pool", "fc1", "out"};
  data::write_model_card(plan + "/model.yaml", card);
  artifacts::seal_plan_dir(plan);
  CHECK_NOTHROW(load_node_spec(plan, "gw"));

  SECTION("stages that stop at conv2 (the issue's plan ran to exit 0, predicting class 384)") {
    artifacts::PlanDoc cut = test::sample_plan();
    cut.stages.pop_back();
    cut.nodes.pop_back();
    cut.nodes[0].roles = {"source", "stage", "sink"};
    cut.links.clear();
    write_file_atomic(plan + "/plan.yaml", artifacts::plan_to_yaml(cut));
    std::filesystem::remove(plan + "/slices/stage-2.pt");
    artifacts::seal_plan_dir(plan);
    CHECK_THROWS_WITH(load_node_spec(plan, "gw"),
                      plan + ": the plan's stages run layers [conv1, conv2], but the model (" + plan +
                          "/model.yaml) has [conv1, conv2, conv3, conv4, pool, fc1, out]");
  }
  SECTION("a last stage whose output is not [1, classes]") {
    card.classes = {"a", "b", "c"};
    card.validation = data::classification_report({0, 1, 2}, {0, 1, 2}, card.classes);
    data::write_model_card(plan + "/model.yaml", card);
    artifacts::seal_plan_dir(plan);
    CHECK_THROWS_WITH(load_node_spec(plan, "edge"),
                      plan + ": the last stage outputs 8 bytes per window, not one float32 score for each of the "
                             "model's 3 classes (12 bytes)");
  }
}

TEST_CASE("a hand-edited plan whose stages or shapes or roles disagree is refused before anything runs", "[runtime]") {
  test::TempDir dir;
  const std::string plan = write_plan_dir(dir, false);
  auto load_edited = [&](const std::function<void(artifacts::PlanDoc&)>& edit) {
    artifacts::PlanDoc edited = test::sample_plan();
    edit(edited);
    write_file_atomic(plan + "/plan.yaml", artifacts::plan_to_yaml(edited));
    artifacts::seal_plan_dir(plan);
    return test::error_messages([&] { load_node_spec(plan, "gw"); });
  };
  // Each of these ran to exit 0 with every window dropped as a bad frame.
  SECTION("stage 1 takes another shape than the card's windows") {
    const auto errors = load_edited([](artifacts::PlanDoc& p) { p.stages[0].input_shape = {1, 6, 64}; });
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == plan + "/plan.yaml: stage 1 takes windows of shape [1, 6, 64], but the model card (" + plan +
                           "/model.yaml) gives them the shape [1, 6, 128]");
  }
  SECTION("a stage takes another size than the stage before puts out") {
    const auto errors = load_edited([](artifacts::PlanDoc& p) { p.stages[1].input_shape = {1, 128}; });
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("stage 2 takes 128 values per window, but stage 1 puts out 4096 bytes (1024 "
                                          "float32 values)"));
  }
  SECTION("two nodes say they run stage 1") {
    const auto errors = load_edited([](artifacts::PlanDoc& p) { p.nodes[1].stage = 1; });
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("node 'edge' says it runs stage 1, which runs on node 'gw'"));
  }
  SECTION("roles that are unknown, repeated, or not what the plan says") {
    const auto errors = load_edited([](artifacts::PlanDoc& p) {
      p.nodes[0].roles = {"stage", "sink", "sink"};
      p.nodes[1].roles = {"stage", "wizard"};
    });
    REQUIRE(errors.size() == 3);
    CHECK_THAT(errors[0], Catch::EndsWith("role 'sink' is listed twice"));
    CHECK_THAT(errors[1], Catch::EndsWith("node 'gw' lacks role 'source', but the plan names 'gw' as its source"));
    CHECK_THAT(errors[2], Catch::EndsWith("unknown role 'wizard' (roles: source, stage, sink)"));
  }
  SECTION("a shape with a fraction or beyond what a frame carries (LibTorch could not allocate the warm-up)") {
    const auto fraction = load_edited([](artifacts::PlanDoc& p) { p.stages[1].input_shape = {1, 64, 0}; });
    REQUIRE(fraction.size() == 1);
    CHECK_THAT(fraction[0], Catch::EndsWith("'input_shape' must be at least 1"));
    const auto huge = load_edited([](artifacts::PlanDoc& p) { p.stages[1].input_shape = {1, 6, 99999999999}; });
    REQUIRE(huge.size() == 1);
    CHECK_THAT(huge[0], Catch::EndsWith("'input_shape' must be at most 67108864"));
  }
}
