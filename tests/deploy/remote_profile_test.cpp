// Remote profiling and measured links on the test bed ([ssh]: root).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include "test_util.h"

using namespace hare;

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
  default: {bandwidth_mbps: 100, latency_ms: 0.5}
source: h1
)");
  const std::string ssh = " --cluster " + dir.file("c.yaml") + " --known-hosts " + dir.file("known_hosts") + " --ssh-config " +
                          dir.file("ssh_config");
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
  }
  INFO(host.err);
  REQUIRE(host.exit_code == 0);
  const YAML::Node profile = YAML::LoadFile(dir.file("h2.yaml"));
  CHECK(profile["device"]["id"].as<std::string>() == "rpi-emulated");
  CHECK(profile["layers"].size() == 7);
}
