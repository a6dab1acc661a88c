#include <catch2/catch.hpp>

#include "common/error.h"
#include "partition/cluster.h"
#include "partition/problem.h"
#include "test_util.h"

using namespace hare;
using namespace hare::partition;

namespace {

// A profile of layers with these names, 1 ms each on one thread.
profile::Profile profile_of(const std::vector<std::string>& names) {
  profile::Profile p;
  p.threads = {1};
  p.in_bytes = 3072;
  for (size_t i = 0; i < names.size(); ++i) {
    profile::LayerProfile layer;
    layer.index = static_cast<int>(i) + 1;
    layer.name = names[i];
    layer.out_bytes = 1024;
    layer.latency[1].median_ms = 1.0;
    p.layers.push_back(layer);
  }
  return p;
}

// The pins of a two-node cluster whose pins section is `pins`, resolved
// against layers named `names`: each pin as "first..last@node" (0-based).
std::vector<std::string> resolve(const std::string& pins, const std::vector<std::string>& names) {
  const std::string text = "format: hare-cluster/1\n"
                           "nodes:\n"
                           "  - {name: gw, device: d, cores: 2, mem_bytes: 1GiB}\n"
                           "  - {name: edge, device: d, cores: 2, mem_bytes: 1GiB}\n"
                           "links:\n"
                           "  default: {bandwidth_mbps: 10, latency_ms: 1}\n"
                           "source: gw\n"
                           "pins:\n" +
                           pins;
  const ClusterConfig cluster = parse_cluster(text, "c.yaml");
  const Problem problem = build_problem(cluster, {{"d", profile_of(names)}}, 10.0);
  std::vector<std::string> out;
  for (const Pin& pin : problem.pins) {
    out.push_back(std::to_string(pin.first) + ".." + std::to_string(pin.last) + "@" +
                  problem.nodes[static_cast<size_t>(pin.node)].name);
  }
  return out;
}

const std::vector<std::string> kSequential = {"0", "1", "2", "3", "4", "5"};
const std::vector<std::string> kChain = {"conv1", "conv2", "conv3", "pool", "fc1", "out"};

}  // namespace

TEST_CASE("pins name layers by name only: an nn.Sequential's 0..3 are the layers named 0 to 3", "[partition]") {
  CHECK(resolve("  - {layers: 0..3, node: edge}\n", kSequential) == std::vector<std::string>{"0..3@edge"});
  CHECK(resolve("  - {layers: \"1..2\", node: gw}\n", kSequential) == std::vector<std::string>{"1..2@gw"});
  CHECK(resolve("  - {layers: conv2, node: gw}\n  - {layers: pool..out, node: edge}\n", kChain) ==
        std::vector<std::string>{"1..1@gw", "3..5@edge"});
}

TEST_CASE("pins name positions with '#', 1-based", "[partition]") {
  CHECK(resolve("  - {layers: \"#1..#3\", node: gw}\n", kChain) == std::vector<std::string>{"0..2@gw"});
  CHECK(resolve("  - layers: \"#4..out\"\n    node: edge\n", kChain) == std::vector<std::string>{"3..5@edge"});
  CHECK(resolve("  - {layers: \"#1..#3\", node: gw}\n", kSequential) == std::vector<std::string>{"0..2@gw"});
}

TEST_CASE("an unknown, ambiguous or out-of-range pin is an error at file:line:col with close names", "[partition]") {
  CHECK(test::error_messages([] { resolve("  - {layers: conv1..fc2, node: gw}\n", kChain); }) ==
        std::vector<std::string>{"c.yaml:9:21: pin names layer 'fc2', which the model does not have (close: fc1)"});
  CHECK(test::error_messages([] { resolve("  - {layers: 0..7, node: gw}\n", kSequential); }) ==
        std::vector<std::string>{"c.yaml:9:17: pin names layer '7', which the model does not have (a position is "
                                 "written #7)"});
  CHECK(test::error_messages([] { resolve("  - {layers: \"#0..#7\", node: gw}\n", kChain); }) ==
        std::vector<std::string>{"c.yaml:9:15: pin position '#0' is not a layer: the model has 6 layers, #1..#6",
                                 "c.yaml:9:19: pin position '#7' is not a layer: the model has 6 layers, #1..#6"});
  CHECK(test::error_messages([] { resolve("  - {layers: block, node: gw}\n", {"block.0", "block.1", "out"}); }) ==
        std::vector<std::string>{"c.yaml:9:14: pin name 'block' is ambiguous: it is the layers block.0, block.1; "
                                 "name one, or the range block.0..block.1"});
  CHECK(test::error_messages([] { resolve("  - {layers: ankle, node: gw}\n", {"chest+ankle", "fuse", "head"}); }) ==
        std::vector<std::string>{"c.yaml:9:14: pin names 'ankle', which is part of layer 'chest+ankle': pin that "
                                 "name"});
  CHECK(resolve("  - {layers: chest+ankle..fuse, node: gw}\n", {"chest+ankle", "fuse", "head"}) ==
        std::vector<std::string>{"0..1@gw"});
  CHECK(test::error_messages([] { resolve("  - {layers: relu, node: gw}\n", {"conv", "relu", "relu", "out"}); }) ==
        std::vector<std::string>{"c.yaml:9:14: pin name 'relu' is ambiguous: layers #2, #3 are all named so; pin "
                                 "them by position"});
  CHECK(test::error_messages([] { resolve("  - {layers: out..conv2, node: gw}\n", kChain); }) ==
        std::vector<std::string>{"c.yaml:9:14: pin range out..conv2 is backwards (out is layer #6, conv2 is #2)"});
  // The offending line rides along, for the caret.
  try {
    resolve("  - {layers: conv1..fc2, node: gw}\n", kChain);
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.source_line() == "  - {layers: conv1..fc2, node: gw}");
    CHECK(error.hint() == "layers: conv1, conv2, conv3, pool, fc1, out");
  }
}

TEST_CASE("pin syntax errors are reported where the cluster file is read", "[partition]") {
  auto parse = [](const std::string& pin) {
    return test::error_messages([&] {
      parse_cluster("format: hare-cluster/1\nnodes:\n  - {name: gw, device: d, cores: 2, mem_bytes: 1GiB}\n"
                    "links:\n  default: {bandwidth_mbps: 10, latency_ms: 1}\nsource: gw\npins:\n" + pin,
                    "c.yaml");
    });
  };
  CHECK(parse("  - {layers: conv1.., node: gw}\n") ==
        std::vector<std::string>{"c.yaml:8:14: pin layers 'conv1..' must be a layer or a range first..last (names, "
                                 "or positions like #1..#3)"});
  CHECK(parse("  - layers: #1..#3\n    node: gw\n") ==
        std::vector<std::string>{"c.yaml:8:5: 'layers' is empty: quote positions (layers: \"#1..#3\"), '#' starts "
                                 "a YAML comment"});
}

TEST_CASE("pins by position survive a rewrite of the cluster file", "[partition]") {
  // hare-profile --network rewrites the file; '#' must come back quoted.
  const ClusterConfig cluster = parse_cluster(
      "format: hare-cluster/1\nnodes:\n  - {name: gw, device: d, cores: 2, mem_bytes: 1GiB}\n"
      "links:\n  default: {bandwidth_mbps: 10, latency_ms: 1}\nsource: gw\npins:\n  - {layers: \"#1..#3\", node: gw}\n",
      "c.yaml");
  const ClusterConfig back = parse_cluster(cluster_to_yaml(cluster), "back.yaml");
  REQUIRE(back.pins.size() == 1);
  CHECK(back.pins[0].first_layer == "#1");
  CHECK(back.pins[0].last_layer == "#3");
}

TEST_CASE("the problem carries the arrivals' variability from the streams and the profile's spread", "[partition]") {
  const std::string text = "format: hare-cluster/1\n"
                           "nodes:\n"
                           "  - {name: gw, device: d, cores: 2, mem_bytes: 1GiB}\n"
                           "links:\n"
                           "  default: {bandwidth_mbps: 10, latency_ms: 1}\n"
                           "source: gw\n"
                           "workload: {streams: 3}\n";
  const ClusterConfig cluster = parse_cluster(text, "c.yaml");
  profile::Profile measured = profile_of({"a", "b"});
  // A profile from before the spread was recorded: no sd (cs² = 1 in the cost model).
  Problem problem = build_problem(cluster, {{"d", measured}}, 10.0);
  CHECK(problem.arrival_cv2 == Approx(0.5));  // (3 − 1)/(3 + 1)
  CHECK(problem.devices[0].latency_sd_ms.empty());
  for (auto& layer : measured.layers) {
    layer.latency[1].mean_ms = 1.1;
    layer.latency[1].sd_ms = 0.3;
  }
  problem = build_problem(cluster, {{"d", measured}}, 10.0);
  CHECK(problem.devices[0].latency_sd_ms == std::vector<std::vector<double>>{{0.3}, {0.3}});
}
