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
  CHECK(p.stages[1].layers == std::vector<std::string>{"conv3", "conv4", "pool", "fc1", "out"});
  CHECK(p.stages[1].members[0].threads == 2);
  CHECK(p.nodes[0].roles == std::vector<std::string>{"source", "stage", "sink"});
  CHECK(p.slo_latency_ms == 50.0);
  CHECK(plan_to_yaml(p) == plan_to_yaml(test::sample_plan()));
}

TEST_CASE("a plan with every optional part round-trips", "[artifacts]") {
  test::TempDir dir;
  PlanDoc plan = test::sample_plan();
  plan.exact = false;
  plan.sink_hop_ms = 0.125;
  plan.codec_to_sink = Codec::int8;
  plan.nodes[1].time_factor = 8;
  plan.links = {PlanLink{"gw", "edge", 20, 2.5}, PlanLink{"edge", "gw", 10, 2.5}};
  plan.check_real_windows = 64;
  plan.check_random_windows = 16;
  plan.check_max_abs_diff = 1.5e-06;
  plan.check_lossy_agreement = 0.984;
  plan.check_lossy_required = 0.98;
  plan.check_lossy_max_abs_diff = 0.0312;
  write_plan(dir.file("plan.yaml"), plan);
  const PlanDoc back = read_plan(dir.file("plan.yaml"));
  CHECK(back.codec_to_sink == Codec::int8);
  CHECK(back.stages[1].members[0].codec_in == Codec::float16);
  CHECK(back.nodes[1].time_factor == 8);
  REQUIRE(back.find_link("edge", "gw") != nullptr);
  CHECK(back.find_link("edge", "gw")->bandwidth_mbps == 10);
  CHECK(back.check_lossy_agreement == 0.984);
  CHECK(plan_to_yaml(back) == plan_to_yaml(plan));
}

TEST_CASE("a bad plan reports every error at once with file:line:col", "[artifacts]") {
  std::string text = plan_to_yaml(test::sample_plan());
  auto replace = [&](const std::string& from, const std::string& to) { text = test::replaced(text, from, to); };
  replace("replicas: 1", "replicas: 0");
  replace("threads: 2", "thread: 2");
  replace("node: edge", "node: egde");
  const auto errors = test::error_messages([&] { parse_plan(text, "plan.yaml"); });
  CHECK(errors == std::vector<std::string>{
                      "plan.yaml:40:19: 'replicas' must be at least 1",
                      "plan.yaml:60:9: unknown key 'thread' (did you mean 'threads'?)",
                      "plan.yaml:58:9: missing key 'threads'",
                  });
  replace("replicas: 0", "replicas: 1");
  replace("thread: 2", "threads: 2");
  CHECK(test::error_messages([&] { parse_plan(text, "plan.yaml"); }) ==
        std::vector<std::string>{"plan.yaml:58:15: stage 2 runs on node 'egde', which the plan does not list"});
}

TEST_CASE("a plan's ports are TCP ports: 0, 70000 and -5 are refused at file:line:col", "[artifacts]") {
  for (const std::string port : {"0", "70000", "-5"}) {
    INFO(port);
    const std::string text = test::replaced(plan_to_yaml(test::sample_plan()), "port: 5551", "port: " + port);
    const auto errors = test::error_messages([&] { parse_plan(text, "plan.yaml"); });
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::StartsWith("plan.yaml:") && Catch::Contains("'port' must be"));
  }
}

TEST_CASE("a stage with more replicas x threads than its node's cores is refused at file:line:col", "[artifacts]") {
  // The sample's stage 2 runs 1 x 2 on edge, which has 2 cores.
  const std::string text = test::replaced(plan_to_yaml(test::sample_plan()), "threads: 2", "threads: 64");
  const auto errors = test::error_messages([&] { parse_plan(text, "plan.yaml"); });
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::StartsWith("plan.yaml:") &&
                            Catch::EndsWith("stage 2 runs 1 replica(s) x 64 thread(s) on node 'edge', which has 2 core(s)"));
}

TEST_CASE("the manifest round-trips and reports every error at once", "[artifacts]") {
  test::TempDir dir;
  const Manifest manifest = {{"plan.yaml", ManifestEntry{std::string(64, 'a'), 1234}},
                             {"slices/stage-1.pt", ManifestEntry{std::string(64, 'b'), 0}}};
  write_manifest(dir.file("manifest.yaml"), manifest);
  const Manifest back = read_manifest(dir.file("manifest.yaml"));
  REQUIRE(back.size() == 2);
  CHECK(back.at("plan.yaml").bytes == 1234);
  CHECK(back.at("slices/stage-1.pt").sha256 == std::string(64, 'b'));
  CHECK(manifest_to_yaml(back) == manifest_to_yaml(manifest));
  const auto errors = test::error_messages([] {
    parse_manifest("format: hare-manifest/1\nfiles:\n  a: {sha256: x, bytes: -1}\n  b: {sha: y, bytes: 2}\n", "m.yaml");
  });
  CHECK(errors == std::vector<std::string>{
                      "m.yaml:3:25: 'bytes' must be at least 0",
                      "m.yaml:4:7: unknown key 'sha'",
                      "m.yaml:4:6: missing key 'sha256'",
                  });
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

TEST_CASE("committing a plan: created, unchanged, refused, forced, never a foreign directory", "[artifacts]") {
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

TEST_CASE("plan and manifest names and paths that would leave the plan are refused at file:line:col", "[artifacts]") {
  std::string text = plan_to_yaml(test::sample_plan());
  text = test::replaced(text, "slice: slices/stage-1.pt", "slice: ../../etc/passwd");
  text = test::replaced(text, "slice: slices/stage-2.pt", "slice: /home/someone/model.pt");
  text = test::replaced(text, "{name: edge,", "{name: ../victim,");
  text = test::replaced(text, "name: hare-cnn", "name: 'x;touch /tmp/hareprobe-PWNED;y'");
  CHECK(test::error_messages([&] { parse_plan(text, "plan.yaml"); }) ==
        std::vector<std::string>{
            "plan.yaml:4:9: model.name 'x;touch /tmp/hareprobe-PWNED;y' is not a valid name: it contains ';'",
            "plan.yaml:36:12: 'slice' must be a relative path that stays inside the directory, and '../../etc/passwd' "
            "is not: it goes up with '..'",
            "plan.yaml:55:12: 'slice' must be a relative path that stays inside the directory, and "
            "'/home/someone/model.pt' is not: it is absolute",
            "plan.yaml:71:12: node name '../victim' is not a valid name: it contains '/'",
        });
  CHECK(test::error_messages([] {
          parse_manifest("format: hare-manifest/1\nfiles:\n  ../x: {sha256: x, bytes: 1}\n  /etc/passwd: {sha256: y, bytes: 2}\n",
                         "m.yaml");
        }) == std::vector<std::string>{
                  "m.yaml:3:3: 'file' must be a relative path that stays inside the directory, and '../x' is not: it "
                  "goes up with '..'",
                  "m.yaml:4:3: 'file' must be a relative path that stays inside the directory, and '/etc/passwd' is not: "
                  "it is absolute",
              });
}

TEST_CASE("a plan directory holding a symlink is refused", "[artifacts]") {
  test::TempDir dir;
  const std::string out = dir.file("plan");
  REQUIRE(commit_plan_dir(staged(out, "7.5"), out, false) == CommitResult::created);
  fs::create_symlink("/etc/passwd", out + "/slices/stage-2.pt");
  CHECK_THROWS_WITH(verify_plan_dir(out),
                    out + "/slices/stage-2.pt: is a symlink; a plan directory holds regular files only");
}
