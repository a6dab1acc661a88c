// Black-box tests of hare-partition: config validation messages, exit codes,
// and a plan on the shipped default cluster.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "common/fs.h"
#include "common/json.h"
#include "common/sha256.h"
#include "partition/report.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

namespace {
const std::string kTool = test::tool_path("hare-partition");
std::string base_args() {
  return " --model " + test::source_path("models/hare-cnn.pt") + " --profiles " + test::source_path("profiles");
}
// One node of the shipped profile's device kind: plans on any machine.
const char* const kShippedProfileCluster = R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 10, latency_ms: 1}
source: gw
)";

// Checks that a YAML document carries exactly the keys and values of a JSON
// one (scalars compared in the JSON value's type); `where` names the path.
void check_same(const YAML::Node& yaml, const Json& json, const std::string& where) {
  INFO(where);
  if (json.is_object()) {
    REQUIRE(yaml.IsMap());
    CHECK(yaml.size() == json.size());
    for (const auto& [key, value] : json.items()) {
      REQUIRE(yaml[key]);
      check_same(yaml[key], value, where + "." + key);
    }
  } else if (json.is_array()) {
    REQUIRE(yaml.IsSequence());
    REQUIRE(yaml.size() == json.size());
    for (size_t i = 0; i < json.size(); ++i) check_same(yaml[i], json[i], where + "[" + std::to_string(i) + "]");
  } else if (json.is_boolean()) {
    CHECK(yaml.as<bool>() == json.get<bool>());
  } else if (json.is_number_integer()) {
    CHECK(yaml.as<int64_t>() == json.get<int64_t>());
  } else if (json.is_number()) {
    CHECK(yaml.as<double>() == json.get<double>());  // both forms print doubles so that they round-trip
  } else {
    CHECK(yaml.as<std::string>() == json.get<std::string>());
  }
}
}  // namespace

TEST_CASE("hare-partition: the default cluster gives an exact plan", "[tools]") {
  const auto table = test::run(kTool + base_args() + " --cluster " + test::source_path("configs/local-3node.yaml"));
  INFO(table.err);
  // The shipped profile is for this machine kind; elsewhere the profile is missing (exit 2, named).
  if (table.exit_code == 2) {
    CHECK_THAT(table.err, Catch::Contains("no profile of model 'hare-cnn' for device"));
    return;
  }
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("exact dynamic program over 3 nodes"));
  const auto yaml = test::run(kTool + base_args() + " --cluster " + test::source_path("configs/local-3node.yaml") +
                              " --objective resources --top 2 --format yaml");
  REQUIRE(yaml.exit_code == 0);
  const YAML::Node doc = YAML::Load(yaml.out);
  CHECK(doc["objective"].as<std::string>() == "resources");
  CHECK(doc["exact"].as<bool>());
  REQUIRE(doc["plans"].size() == 2);
  CHECK(doc["plans"][0]["cores"].as<int>() <= doc["plans"][1]["cores"].as<int>());
}

TEST_CASE("hare-partition --format json is the YAML report's record, one line for a JSON parser", "[tools]") {
  test::TempDir dir;
  // Three nodes so that several plans differ in placement and transfers.
  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}
  - {name: e1, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}
  - {name: e2, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 10, latency_ms: 1}
source: gw
pins:
  - {layers: conv1, node: gw}
  - {layers: conv3, node: e1}
)");
  const std::string args = kTool + base_args() + " --cluster " + dir.file("c.yaml") + " --top 3 --format ";
  const auto yaml = test::run(args + "yaml");
  const auto json = test::run(args + "json");
  INFO(yaml.err + json.err);
  REQUIRE(yaml.exit_code == 0);
  REQUIRE(json.exit_code == 0);
  CHECK(std::count(json.out.begin(), json.out.end(), '\n') == 1);
  const Json record = Json::parse(json.out);
  CHECK(record["objective"] == "latency");
  REQUIRE(record["plans"].size() == 3);
  // The pins hold: the first stage (conv1's) has gw among its members, and
  // some stage (conv3's) has e1. They no longer split the model: a stage
  // group of gw and e1 meets both (issue 16).
  bool e1_runs_a_stage = false;
  for (const auto& stage : record["plans"][0]["stages"]) {
    for (const auto& member : stage["members"]) e1_runs_a_stage = e1_runs_a_stage || member["node"] == "e1";
  }
  CHECK(e1_runs_a_stage);
  check_same(YAML::Load(yaml.out), record, "report");

  // The typed record reads it back.
  const auto report = parse_record<partition::SolveReport>(json.out, "hare-partition --format json");
  REQUIRE(report.plans.size() == 3);
  CHECK(report.plans[0].latency_ms <= report.plans[1].latency_ms);
  CHECK(report.plans[0].stages[0].node == "gw");
}

TEST_CASE("hare-partition: every config error is reported at once with file:line:col", "[tools]") {
  test::TempDir dir;
  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
nodes:
  - {name: gw, device: local, cores: 0, mem_bytes: 1GiB}
  - {name: edge, device: local, cores: 2, mem_bytes: lots}
links:
  default: {bandwidth_mbps: 10, latency_ms: 1, codec: int4}
  pairs:
    - {from: gw, to: egde, bandwidth_mbps: 5, latency_ms: 1}
source: gateway
)");
  const auto result = test::run(kTool + base_args() + " --cluster " + dir.file("c.yaml"));
  CHECK(result.exit_code == 2);
  const std::string f = dir.file("c.yaml");
  CHECK_THAT(result.err, Catch::Contains(f + ":3:38: 'cores' must be at least 1"));
  CHECK_THAT(result.err, Catch::Contains(f + ":4:54: 'mem_bytes' must be a positive size, e.g. 1073741824 or 1GiB"));
  CHECK_THAT(result.err, Catch::Contains(f + ":8:22: link end 'egde' is not a node (did you mean 'edge'?)"));
  CHECK_THAT(result.err, Catch::Contains(f + ":9:9: source 'gateway' is not a node"));
  CHECK_THAT(result.err, Catch::Contains(f + ":6:55: 'codec' must be float32, float16 or int8"));
  CHECK_THAT(result.err, Catch::Contains("5 errors"));
}

TEST_CASE("hare-partition: a missing cluster file or a device without a profile exits 2", "[tools]") {
  test::TempDir dir;
  const auto missing = test::run(kTool + base_args() + " --cluster " + dir.file("none.yaml"));
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains(dir.file("none.yaml") + ": cannot open file"));

  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
nodes:
  - {name: gw, device: jetson-nano, cores: 4, mem_bytes: 4GiB}
links:
  default: {bandwidth_mbps: 10, latency_ms: 1}
source: gw
)");
  const auto no_profile = test::run(kTool + base_args() + " --cluster " + dir.file("c.yaml"));
  CHECK(no_profile.exit_code == 2);
  CHECK_THAT(no_profile.err, Catch::Contains(dir.file("c.yaml") + ":3: node 'gw': no profile of model 'hare-cnn' for "
                                                                   "device 'jetson-nano'"));
}

TEST_CASE("hare-partition: emulated devices scale a measured profile", "[tools]") {
  test::TempDir dir;
  // One gateway node, as this machine and as an emulated device 8x slower.
  const std::string cluster = R"(format: hare-cluster/1
devices:
  pi4-class: {profile: local, time_factor: 8.0}
nodes:
  - {name: gateway, device: DEVICE, cores: 1, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 10, latency_ms: 40}
source: gateway
)";
  test::write_text(dir.file("local.yaml"), std::regex_replace(cluster, std::regex("DEVICE"), "local"));
  test::write_text(dir.file("pi.yaml"), std::regex_replace(cluster, std::regex("DEVICE"), "pi4-class"));
  const std::string args = base_args() + " --format yaml --cluster ";
  const auto local = test::run(kTool + args + dir.file("local.yaml"));
  const auto pi = test::run(kTool + args + dir.file("pi.yaml"));
  if (local.exit_code == 2) {  // no profile for this machine kind: both name the missing local profile
    CHECK(pi.exit_code == 2);
    CHECK_THAT(pi.err, Catch::Contains("no profile of model 'hare-cnn' for device"));
    return;
  }
  INFO(local.err + pi.err);
  REQUIRE(local.exit_code == 0);
  REQUIRE(pi.exit_code == 0);
  const YAML::Node a = YAML::Load(local.out)["plans"][0]["stages"][0];
  const YAML::Node b = YAML::Load(pi.out)["plans"][0]["stages"][0];
  CHECK(b["compute_ms"].as<double>() == Approx(8.0 * a["compute_ms"].as<double>()));
  // The configs that use emulated devices load too.
  CHECK(test::run(kTool + args + test::source_path("configs/edge-cloud.yaml")).exit_code == 0);
}

TEST_CASE("hare-partition --out writes a verified plan directory and never overwrites a different one", "[tools]") {
  test::TempDir dir;
  // Pins force a 3-stage plan, so that real slicing happens.
  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
nodes:
  - {name: gw, device: local, cores: 1, mem_bytes: 1GiB}
  - {name: e1, device: local, cores: 2, mem_bytes: 1GiB}
  - {name: e2, device: local, cores: 2, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 100, latency_ms: 1}
source: gw
pins:
  - {layers: conv1..conv2, node: gw}
  - {layers: conv3, node: e1}
  - {layers: fc1..out, node: e2}
)");
  const std::string plan = dir.file("plan");
  const std::string command = kTool + base_args() + " --cluster " + dir.file("c.yaml") + " --check-data " +
                              test::source_path("data/mhealth/subject08.tsv.gz") + " --out " + plan;
  const auto first = test::run(command);
  INFO(first.err);
  if (first.exit_code == 2 && first.err.find("no profile of model") != std::string::npos) return;  // other machine kind
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.err, Catch::Contains("slices match the whole model on 64 real and 16 random windows"));
  for (const char* file : {"plan.yaml", "model.yaml", "manifest.yaml", "slices/stage-1.pt", "slices/stage-2.pt",
                           "slices/stage-3.pt"}) {
    CHECK(std::ifstream(plan + "/" + file).good());
  }
  // Nodes derive their wiring from plan.yaml: no per-node copies.
  for (const char* file : {"nodes/gw.yaml", "nodes/e1.yaml", "nodes/e2.yaml"}) {
    CHECK_FALSE(std::ifstream(plan + "/" + file).good());
  }
  const YAML::Node doc = YAML::LoadFile(plan + "/plan.yaml");
  CHECK(doc["stages"].size() == 3);
  CHECK(doc["stages"][2]["layers"][0].as<std::string>() == "fc1");

  const auto again = test::run(command);
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.err, Catch::Contains("is unchanged"));

  const auto different = test::run(command + " --base-port 6000");
  CHECK(different.exit_code == 2);
  CHECK_THAT(different.err, Catch::Contains(plan + ": holds a different plan; not overwriting it"));
  CHECK(test::run(command + " --base-port 6000 --force").exit_code == 0);
}

TEST_CASE("hare-partition does not map LibTorch: only hare-slice, for --out, does", "[tools]") {
  // Linked libraries, and what the dynamic loader actually maps while it
  // runs: a solve on a shipped profile (any machine) and --help.
  const auto ldd = test::run("ldd " + kTool);
  REQUIRE(ldd.exit_code == 0);
  CHECK_THAT(ldd.out, !Catch::Contains("libtorch") && !Catch::Contains("libc10"));
  CHECK_THAT(test::run("ldd " + test::tool_path("hare-slice")).out, Catch::Contains("libtorch"));

  test::TempDir dir;
  test::write_text(dir.file("c.yaml"), kShippedProfileCluster);
  for (const std::string& args : {base_args() + " --cluster " + dir.file("c.yaml"), std::string(" --help")}) {
    const auto run = test::run("LD_DEBUG=files " + kTool + args);
    INFO(args);
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.err, Catch::Contains("libyaml-cpp"));  // the loader's trace is there
    CHECK_THAT(run.err, !Catch::Contains("libtorch") && !Catch::Contains("libc10"));
  }
}

TEST_CASE("hare-partition --out: an error on the torch side is one line of hare-partition's, and nothing is left", "[tools]") {
  // A "model" that matches its card and profile but is not TorchScript:
  // everything before slicing passes, hare-slice refuses it.
  test::TempDir dir;
  test::write_text(dir.file("hare-cnn.pt"), "not a TorchScript archive\n");
  const std::string sha = sha256_file(dir.file("hare-cnn.pt"));
  const std::string shipped_sha = sha256_file(test::source_path("models/hare-cnn.pt"));
  test::write_text(dir.file("hare-cnn.yaml"),
                   std::regex_replace(read_file(test::source_path("models/hare-cnn.yaml")), std::regex(shipped_sha), sha));
  fs::create_directories(dir.file("profiles/amd-epyc-2c"));
  test::write_text(dir.file("profiles/amd-epyc-2c/hare-cnn.yaml"),
                   std::regex_replace(read_file(test::source_path("profiles/amd-epyc-2c/hare-cnn.yaml")),
                                      std::regex(shipped_sha), sha));
  test::write_text(dir.file("c.yaml"), kShippedProfileCluster);
  const auto result = test::run(kTool + " --model " + dir.file("hare-cnn.pt") + " --profiles " + dir.file("profiles") +
                                " --cluster " + dir.file("c.yaml") + " --check-data " +
                                test::source_path("data/mhealth/subject08.tsv.gz") + " --out " + dir.file("plan"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::StartsWith("hare-partition: error: " + dir.file("hare-cnn.pt") +
                                           ": not a loadable TorchScript model"));
  CHECK_THAT(result.err, !Catch::Contains("internal error") && !Catch::Contains("hare-slice"));
  CHECK(std::count(result.err.begin(), result.err.end(), '\n') <= 2);  // the error and its hint
  CHECK_FALSE(fs::exists(dir.file("plan")));
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find("staging") == std::string::npos);
  }
}

TEST_CASE("hare-partition: a duplicate key in the cluster config is refused with both places, exit 2", "[tools]") {
  test::TempDir dir;
  std::ifstream shipped(test::source_path("configs/local-3node.yaml"));
  std::string text((std::istreambuf_iterator<char>(shipped)), {});
  const size_t sink = text.find("\nsink: gateway");
  REQUIRE(sink != std::string::npos);
  text.insert(text.find('\n', sink + 1) + 1, "sink: edge2\n");  // the second one used to be ignored silently
  test::write_text(dir.file("c.yaml"), text);
  const auto result = test::run(kTool + base_args() + " --cluster " + dir.file("c.yaml"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("c.yaml:") && Catch::Contains("duplicate key 'sink' (first at line"));
}

TEST_CASE("hare-partition: integers that do not fit are refused, not wrapped", "[tools]") {
  test::TempDir dir;
  std::ifstream shipped(test::source_path("configs/local-3node.yaml"));
  std::string text((std::istreambuf_iterator<char>(shipped)), {});
  // 2^32 + 2 cores once became 2; 2^32 + 8 streams a window rate of 8.
  text.replace(text.find("cores: 1"), 8, "cores: 4294967298");
  text.replace(text.find("streams: 8"), 10, "streams: 4294967304");
  test::write_text(dir.file("c.yaml"), text);
  const auto result = test::run(kTool + base_args() + " --cluster " + dir.file("c.yaml"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("'cores' must be at most 2147483647"));
  CHECK_THAT(result.err, Catch::Contains("'streams' must be at most 2147483647"));
}


TEST_CASE("hare-partition: a profile that names the model's hash but not its layers, shape or classes is refused", "[tools]") {
  test::TempDir dir;
  test::write_text(dir.file("c.yaml"), kShippedProfileCluster);
  const std::string shipped = test::source_path("profiles/amd-epyc-2c/hare-cnn.yaml");
  fs::create_directories(dir.file("profiles/amd-epyc-2c"));
  const std::string profile = dir.file("profiles/amd-epyc-2c/hare-cnn.yaml");
  // 2 of the reference model's 7 layers (the hash still names the model).
  YAML::Node short_profile = YAML::LoadFile(shipped);
  YAML::Node two;
  for (int i = 0; i < 2; ++i) two.push_back(short_profile["layers"][i]);
  short_profile["layers"] = two;
  YAML::Emitter out;
  out << short_profile;
  test::write_text(profile, out.c_str());
  const auto result = test::run(kTool + " --model " + test::source_path("models/hare-cnn.pt") + " --profiles " +
                                dir.file("profiles") + " --cluster " + dir.file("c.yaml"));
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::StartsWith("hare-partition: error: " + profile + ": its layers [conv1, conv2] are not "
                                           "the model's [conv1, conv2, conv3, conv4, pool, fc1, out]"));

  // The shipped profile, and a card that says the model takes 3 channels.
  test::write_lying_card(dir.file("lie.yaml"), 3);
  const auto lying = test::run(kTool + base_args() + " --card " + dir.file("lie.yaml") + " --cluster " + dir.file("c.yaml"));
  CHECK(lying.exit_code == 2);
  CHECK_THAT(lying.err, Catch::StartsWith("hare-partition: error: " + shipped +
                                          ": profiled with input shape [1, 6, 128], but the model's card " +
                                          dir.file("lie.yaml") + " says [1, 3, 128]"));
}

TEST_CASE("hare-partition --out on a full disk: one line naming the file, exit 1, nothing left, the old plan kept",
          "[tools]") {
  REQUIRE(::geteuid() == 0);
  test::SmallDisk disk(1024);
  test::TempDir dir;
  test::write_text(dir.file("one.yaml"), kShippedProfileCluster);
  std::string two = kShippedProfileCluster;
  two.replace(two.find("links:"), 0, "  - {name: e1, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}\n");
  test::write_text(dir.file("two.yaml"), two);
  auto partition = [&](const std::string& cluster) {
    return test::run(kTool + base_args() + " --cluster " + cluster + " --check-data " +
                     test::source_path("data/mhealth/subject08.tsv.gz") + " --out " + disk.file("plan") + " --force");
  };
  REQUIRE(partition(dir.file("one.yaml")).exit_code == 0);
  const std::string before = read_file(disk.file("plan/manifest.yaml"));
  disk.fill(64);  // room for plan.yaml, not for the slices
  const auto full = partition(dir.file("two.yaml"));
  CHECK(full.exit_code == 1);
  CHECK_THAT(full.err, Catch::StartsWith("hare-partition: error: ") && Catch::Contains("No space left on device"));
  CHECK_THAT(full.err, !Catch::Contains("terminate") && !Catch::Contains("frame #") && !Catch::Contains("internal error"));
  CHECK(std::count(full.err.begin(), full.err.end(), '\n') <= 2);  // the error and its hint
  CHECK(read_file(disk.file("plan/manifest.yaml")) == before);
  for (const auto& entry : fs::directory_iterator(disk.path())) {
    CHECK(entry.path().filename().string().find("staging") == std::string::npos);
  }
}

TEST_CASE("hare-partition: a model without a card is named with the command that writes one", "[tools]") {
  test::TempDir dir;
  const std::string model = dir.file("foreign.pt");
  test::write_text(model, read_file(test::source_path("models/hare-cnn.pt")));
  test::write_text(dir.file("c.yaml"), kShippedProfileCluster);
  const auto result = test::run(kTool + " --model " + model + " --cluster " + dir.file("c.yaml"));
  CHECK(result.exit_code == 2);
  CHECK(result.err == "hare-partition: error: " + dir.file("foreign.yaml") + ": no model card for " + model +
                          " (hare needs the model's channels, window, normalization and classes); write one with "
                          "'hare-train card --model " + model + " --spec SPEC --window W --step S "
                          "--fit-normalization TRAINING_FILES' (or --no-normalization)\n");
}
