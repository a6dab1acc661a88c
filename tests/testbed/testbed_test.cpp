// The SSH test bed itself: hosts come up in their own network namespaces,
// answer SSH with strict host-key checking, and disappear on teardown.

#include <catch2/catch.hpp>

#include <unistd.h>

#include "test_util.h"

using namespace hare;

TEST_CASE("the test bed's hosts answer SSH and are gone after teardown", "[ssh]") {
  REQUIRE(::geteuid() == 0);  // namespaces, veths and sshd need root (CI runs as root)
  test::TempDir dir;
  const std::string script = test::source_path("tests/testbed/testbed.sh");
  const auto up = test::run(script + " up " + dir.path() + " 2 50");
  INFO(up.err);
  REQUIRE(up.exit_code == 0);
  const auto who = test::run("ssh -F " + dir.file("ssh_config") + " -o BatchMode=yes h2 'id -un; hostname -I'");
  const auto down = test::run(script + " down " + dir.path());
  CHECK(who.exit_code == 0);
  CHECK(who.out == "haretest\n10.77.0.12 \n");
  CHECK(down.exit_code == 0);
  CHECK(test::run("ip netns list | grep -q hare-h").exit_code != 0);
  // A host key that does not match is refused (strict checking).
  const auto up_again = test::run(script + " up " + dir.path() + " 1");
  REQUIRE(up_again.exit_code == 0);
  test::write_text(dir.file("known_hosts"), "10.77.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDi0Gz3hA9bQ8W0yqSg3m7BO7P3UQ9w9W9s5J0lq1p3f\n");
  const auto refused = test::run("ssh -F " + dir.file("ssh_config") + " -o BatchMode=yes h1 true");
  test::run(script + " down " + dir.path());
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("REMOTE HOST IDENTIFICATION HAS CHANGED"));
}
