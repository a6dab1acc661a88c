// Remote profiling and measured links on the test bed ([ssh]: root).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "deploy/shell.h"
#include "profile/remote_profile.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

TEST_CASE("measured links replace bandwidth and latency only: codecs and every other field stay", "[deploy]") {
  test::TempDir dir;
  test::write_text(dir.file("c.yaml"), R"(# a comment that the rewrite drops
format: hare-cluster/1
name: wan
devices:
  rpi: {profile: local, time_factor: 8}
nodes:
  - {name: gw, device: rpi, cores: 1, mem_bytes: 512MiB, address: 10.0.0.1, ssh: {user: pi, port: 2222}}
  - {name: cloud, device: local, cores: 4, mem_bytes: 4GiB, address: 10.0.0.2}
  - {name: edge, device: local, cores: 2, mem_bytes: 1GiB, address: 10.0.0.3}
links:
  default: {bandwidth_mbps: 100, latency_ms: 0.5, codec: float16}
  pairs:
    - {from: gw, to: cloud, bandwidth_mbps: 10, latency_ms: 40, codec: int8}
source: gw
sink: cloud
workload: {streams: 4, window_rate_hz: 2.5}
slo: {latency_ms: 200}
pins:
  - {layers: conv1..conv2, node: gw}
)");
  const partition::ClusterConfig before = partition::read_cluster(dir.file("c.yaml"));
  const std::vector<profile::LinkMeasurement> measured = {
      {"gw", "cloud", 61.2345, 9.87654}, {"cloud", "gw", 60.0, 10.0}, {"gw", "edge", 0.5, 94.56}};
  partition::write_cluster(dir.file("c.yaml"), profile::with_measured_links(before, measured));
  const partition::ClusterConfig after = partition::read_cluster(dir.file("c.yaml"));

  const partition::LinkConfig wan = after.link("gw", "cloud");
  CHECK(wan.codec == Codec::int8);
  CHECK(wan.bandwidth_mbps == 9.9);  // rounded to what the probe can tell
  CHECK(wan.latency_ms == 30.617);
  CHECK(after.link("cloud", "gw").codec == Codec::int8);
  CHECK(after.link("cloud", "gw").latency_ms == 30.0);
  // A pair measured for the first time keeps the default link's codec.
  CHECK(after.link("gw", "edge").codec == Codec::float16);
  CHECK(after.link("gw", "edge").bandwidth_mbps == 94.6);
  CHECK(after.link("edge", "gw").bandwidth_mbps == 100);  // not measured: still the default
  CHECK(after.default_link.codec == Codec::float16);
  // Everything else as it was: the clusters differ in the three measured links only.
  partition::ClusterConfig expected = before;
  expected.links[{"gw", "cloud"}] = wan;
  expected.links[{"cloud", "gw"}] = after.link("cloud", "gw");
  expected.links[{"gw", "edge"}] = after.link("gw", "edge");
  CHECK(partition::cluster_to_yaml(after) == partition::cluster_to_yaml(expected));
  CHECK(after.nodes[0].ssh.port == 2222);
  CHECK(after.pins.at(0).last_layer == "conv2");
}

TEST_CASE("hare-profile --network measures every node pair and writes the link table", "[ssh]") {
  REQUIRE(::geteuid() == 0);
  test::TempDir dir;
  const std::string script = test::source_path("tests/testbed/testbed.sh");
  // 50 Mbit/s each way (tc tbf) and 20 ms one-way between the hosts (hare-netdelay).
  const auto up = test::run("HARE_NETDELAY=" + test::tool_path("hare-netdelay") + " " + script + " up " + dir.path() + " 2 50 20");
  INFO(up.err);
  REQUIRE(up.exit_code == 0);
  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
name: two
nodes:
  - {name: h1, device: local, cores: 1, mem_bytes: 1GiB, address: 10.77.0.11, ssh: {user: haretest}}
  - {name: h2, device: rpi-emulated, cores: 1, mem_bytes: 1GiB, address: 10.77.0.12, ssh: {user: haretest}}
links:
  default: {bandwidth_mbps: 100, latency_ms: 0.5, codec: int8}
source: h1
)");
  // The remote directory and the tools' path carry shell syntax, which must
  // reach the nodes as text.
  const std::string bin = "/tmp/hare-bin-" + std::to_string(::getpid()) + " " + test::kShellPayload;
  fs::create_directory_symlink(fs::path(test::tool_path("hare-node")).parent_path(), bin);
  struct Unlink {
    std::string path;
    ~Unlink() { fs::remove(path); }
  } unlink_bin{bin};
  const std::string ssh = " --cluster " + dir.file("c.yaml") + " --known-hosts " + dir.file("known_hosts") + " --ssh-config " +
                          dir.file("ssh_config") + " --remote-bin " + deploy::shell_quote(bin) + " --remote-dir " +
                          deploy::shell_quote(std::string("hare-measure/odd ") + test::kShellPayload);
  const auto network = test::run(test::tool_path("hare-profile") + " --network" + ssh);
  const auto host = test::run(test::tool_path("hare-profile") + " --host h2 --model " + test::source_path("models/hare-cnn.pt") +
                              " --runs 50 -q --out " + dir.file("h2.yaml") + ssh);
  test::run(script + " down " + dir.path());
  INFO(network.err);
  REQUIRE(network.exit_code == 0);
  const YAML::Node config = YAML::LoadFile(dir.file("c.yaml"));
  REQUIRE(config["links"]["pairs"].size() == 2);
  for (const auto& pair : config["links"]["pairs"]) {
    const double bandwidth = pair["bandwidth_mbps"].as<double>();
    CHECK(bandwidth > 50 * 0.85);  // within 15% of the configured rate
    CHECK(bandwidth < 50 * 1.15);
    const double latency = pair["latency_ms"].as<double>();
    CHECK(latency > 20 * 0.85);  // within 15% of the configured one-way latency
    CHECK(latency < 20 * 1.15);
    CHECK(pair["codec"].as<std::string>() == "int8");  // the link's codec survives the rewrite
  }
  CHECK(config["links"]["default"]["codec"].as<std::string>() == "int8");
  INFO(host.err);
  REQUIRE(host.exit_code == 0);
  const YAML::Node profile = YAML::LoadFile(dir.file("h2.yaml"));
  CHECK(profile["device"]["id"].as<std::string>() == "rpi-emulated");
  CHECK(profile["layers"].size() == 7);
  CHECK(test::shell_payload_traces().empty());
  fs::remove_all("/home/haretest/hare-measure/" + std::string("odd ") + test::kShellPayload);
}
