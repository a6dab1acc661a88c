#include <catch2/catch.hpp>

#include <tuple>

#include <fmt/format.h>

#include "common/error.h"
#include "partition/cluster.h"
#include "test_util.h"

using namespace hare;
using namespace hare::partition;

namespace {

// Field by field; `path` and the `line`s say where a value was read, not what it is.
void check_same(const ClusterConfig& a, const ClusterConfig& b) {
  CHECK(a.name == b.name);
  REQUIRE(a.devices.size() == b.devices.size());
  for (size_t i = 0; i < a.devices.size(); ++i) {
    CHECK(std::tie(a.devices[i].name, a.devices[i].profile, a.devices[i].time_factor) ==
          std::tie(b.devices[i].name, b.devices[i].profile, b.devices[i].time_factor));
  }
  REQUIRE(a.nodes.size() == b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const NodeConfig& x = a.nodes[i];
    const NodeConfig& y = b.nodes[i];
    CHECK(std::tie(x.name, x.device, x.cores, x.mem_bytes, x.address) ==
          std::tie(y.name, y.device, y.cores, y.mem_bytes, y.address));
    CHECK(std::tie(x.ssh.user, x.ssh.port, x.ssh.identity_file) == std::tie(y.ssh.user, y.ssh.port, y.ssh.identity_file));
  }
  auto link_tuple = [](const LinkConfig& l) { return std::make_tuple(l.bandwidth_mbps, l.latency_ms, l.codec); };
  CHECK(link_tuple(a.default_link) == link_tuple(b.default_link));
  REQUIRE(a.links.size() == b.links.size());
  for (const auto& [ends, link] : a.links) {
    REQUIRE(b.links.count(ends) == 1);
    CHECK(link_tuple(link) == link_tuple(b.links.at(ends)));
  }
  CHECK(std::tie(a.source, a.sink, a.streams, a.window_rate_hz, a.slo_latency_ms) ==
        std::tie(b.source, b.sink, b.streams, b.window_rate_hz, b.slo_latency_ms));
  REQUIRE(a.pins.size() == b.pins.size());
  for (size_t i = 0; i < a.pins.size(); ++i) {
    CHECK(std::tie(a.pins[i].first_layer, a.pins[i].last_layer, a.pins[i].node) ==
          std::tie(b.pins[i].first_layer, b.pins[i].last_layer, b.pins[i].node));
  }
}

// Every field away from its default.
ClusterConfig full_cluster() {
  ClusterConfig c;
  c.name = "everything";
  c.devices = {EmulatedDevice{"rpi", "local", 8.5, 0}};
  NodeConfig gw;
  gw.name = "gw";
  gw.device = "rpi";
  gw.cores = 2;
  gw.mem_bytes = 512LL << 20;
  gw.address = "10.0.0.1";
  gw.ssh = SshSettings{"pi", 2222, "~/.ssh/id_pi"};
  NodeConfig cloud;
  cloud.name = "cloud";
  cloud.device = "local";
  cloud.cores = 4;
  cloud.mem_bytes = 1234567;  // not a round size: written in bytes
  cloud.address = "192.0.2.7";
  cloud.ssh.user = "hare";
  NodeConfig edge;
  edge.name = "edge";
  edge.device = "local";
  edge.mem_bytes = 3LL << 30;
  c.nodes = {gw, cloud, edge};
  c.default_link = LinkConfig{12.5, 0.25, Codec::float16};
  c.links[{"gw", "cloud"}] = LinkConfig{20.1, 35.125, Codec::int8};  // one direction differs from the other
  c.links[{"cloud", "gw"}] = LinkConfig{80.0, 35.125, Codec::int8};
  c.links[{"gw", "edge"}] = LinkConfig{100.0, 0.1, Codec::float32};  // symmetric
  c.links[{"edge", "gw"}] = LinkConfig{100.0, 0.1, Codec::float32};
  c.source = "gw";
  c.sink = "edge";
  c.streams = 3;
  c.window_rate_hz = 0.3;
  c.slo_latency_ms = 120.5;
  c.pins = {PinConfig{"conv1", "conv2", "gw", 0, 0, {}}, PinConfig{"fc", "fc", "cloud", 0, 0, {}}};
  return c;
}

}  // namespace

TEST_CASE("a cluster round-trips through its file with every field", "[partition]") {
  test::TempDir dir;
  const ClusterConfig written = full_cluster();
  write_cluster(dir.file("c.yaml"), written);
  const ClusterConfig read = read_cluster(dir.file("c.yaml"));
  check_same(read, written);
  CHECK(read.path == dir.file("c.yaml"));
  // Sizes stay readable; a pair the same both ways is one entry.
  const std::string text = cluster_to_yaml(written);
  CHECK_THAT(text, Catch::Contains("mem_bytes: 512MiB") && Catch::Contains("mem_bytes: 3GiB") &&
                       Catch::Contains("mem_bytes: 1234567"));
  CHECK_THAT(text, Catch::Contains("{from: edge, to: gw, bandwidth_mbps: 100, latency_ms: 0.1}"));
  CHECK_THAT(text, Catch::Contains("codec: int8, symmetric: false}"));
  CHECK(cluster_to_yaml(read) == text);
}

TEST_CASE("the shipped cluster configs read back the same after a rewrite", "[partition]") {
  test::TempDir dir;
  for (const char* name : {"local-3node.yaml", "edge-cloud.yaml", "testbed.yaml"}) {
    INFO(name);
    const ClusterConfig shipped = read_cluster(test::source_path(std::string("configs/") + name));
    write_cluster(dir.file(name), shipped);
    check_same(read_cluster(dir.file(name)), shipped);
  }
}

TEST_CASE("a bad cluster reports every error at once with file:line:col", "[partition]") {
  const std::string text = R"(format: hare-cluster/1
nodes:
  - {name: gw, device: local, cores: 0, mem_bytes: 1GiB}
  - {name: e1, device: local, cores: 1, mem_bytes: lots, adress: 10.0.0.2}
links:
  default: {bandwidth_mbps: 10, latency_ms: -1}
  pairs:
    - {from: gw, to: e2, bandwidth_mbps: 5, latency_ms: 1, codec: int4}
source: gw
workload: {streams: 2, rate_hz: 5}
)";
  const auto errors = test::error_messages([&] { parse_cluster(text, "c.yaml"); });
  CHECK(errors == std::vector<std::string>{
                      "c.yaml:3:38: 'cores' must be at least 1",
                      "c.yaml:4:58: unknown key 'adress' (did you mean 'address'?)",
                      "c.yaml:4:52: 'mem_bytes' must be a positive size, e.g. 1073741824 or 1GiB",
                      "c.yaml:6:45: 'latency_ms' must not be negative",
                      "c.yaml:8:22: link end 'e2' is not a node (did you mean 'e1'?)",
                      "c.yaml:8:67: 'codec' must be float32, float16 or int8",
                      "c.yaml:10:24: unknown key 'rate_hz'",
                  });
  CHECK(test::error_messages([] { parse_cluster("format: hare-cluster/2\nnodes: 7\n", "c.yaml"); }) ==
        std::vector<std::string>{"c.yaml:1:9: unsupported cluster format 'hare-cluster/2' (expected hare-cluster/1)"});
}

TEST_CASE("node and device names that would become commands or paths are refused at file:line:col", "[partition]") {
  // The issue's cases: a node name spliced into remote commands, one that
  // leads out of the node's directory, and devices that name profile paths.
  const std::string text = R"(format: hare-cluster/1
devices:
  ../pi: {profile: local, time_factor: 4}
  pi4: {profile: /etc, time_factor: 4}
nodes:
  - {name: 'x;touch /tmp/hareprobe-PWNED;y', device: local, cores: 1, mem_bytes: 1GiB}
  - {name: ../victim, device: local, cores: 1, mem_bytes: 1GiB}
  - {name: gw, device: '../../profiles', cores: 1, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 10, latency_ms: 1}
source: gw
)";
  const auto errors = test::error_messages([&] { parse_cluster(text, "c.yaml"); });
  CHECK(errors == std::vector<std::string>{
                      "c.yaml:3:3: device name '../pi' is not a valid name: it contains '/'",
                      "c.yaml:4:18: profile '/etc' is not a valid name: it contains '/'",
                      "c.yaml:6:12: node name 'x;touch /tmp/hareprobe-PWNED;y' is not a valid name: it contains ';'",
                      "c.yaml:7:12: node name '../victim' is not a valid name: it contains '/'",
                      "c.yaml:8:24: device '../../profiles' is not a valid name: it contains '/'",
                  });
}

TEST_CASE("a cluster of 32000 nodes is refused at its nodes, before anything grows with their square", "[partition]") {
  std::string text = "format: hare-cluster/1\nnodes:\n";
  for (int i = 0; i < 32000; ++i) text += fmt::format("  - {{name: n{}, device: local, cores: 1, mem_bytes: 1GiB}}\n", i);
  text += "links:\n  default: {bandwidth_mbps: 10, latency_ms: 1}\nsource: n0\n";
  const auto errors = test::error_messages([&] { parse_cluster(text, "c.yaml"); });
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front() == "c.yaml:3:3: 32000 nodes: hare plans for at most 256");
}
