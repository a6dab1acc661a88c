// hare's SSH layer against real sshd hosts of the test bed ([ssh]: root).

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "common/sha256.h"
#include "deploy/ssh.h"
#include "test_util.h"

using namespace hare;
using namespace hare::deploy;

namespace {

// One 2-host test bed for this test process, torn down at exit.
struct Testbed {
  test::TempDir dir;
  std::string script = test::source_path("tests/testbed/testbed.sh");
  Testbed() {
    const auto up = test::run(script + " up " + dir.path() + " 2");
    if (up.exit_code != 0) throw std::runtime_error("testbed up failed: " + up.err);
  }
  ~Testbed() { test::run(script + " down " + dir.path()); }
  SshTarget target(const std::string& host = "10.77.0.11") const {
    SshTarget t;
    t.name = "h1";
    t.host = host;
    t.user = "haretest";
    t.identity_file = dir.file("id_ed25519");
    t.known_hosts = dir.file("known_hosts");
    t.ssh_config = "/dev/null";
    t.connect_timeout_s = 3;
    return t;
  }
};

Testbed& testbed() {
  REQUIRE(::geteuid() == 0);
  static Testbed bed;
  return bed;
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("ssh: run commands and upload files over SFTP, checked by SHA-256 on the host", "[ssh]") {
  SshSession session(testbed().target());
  const CommandResult who = session.run("id -un; echo oops >&2; exit 3");
  CHECK(who.out == "haretest\n");
  CHECK(who.err == "oops\n");
  CHECK(who.exit_status == 3);
  std::string content(300000, 'x');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  session.upload_bytes(content, "/tmp/hare-ssh-test.bin");
  const CommandResult sum = session.run("sha256sum /tmp/hare-ssh-test.bin && rm /tmp/hare-ssh-test.bin");
  CHECK(sum.out.substr(0, 64) == sha256_hex(content));
}

TEST_CASE("ssh: unknown hosts are refused unless accept-new, changed keys always, with both fingerprints", "[ssh]") {
  Testbed& bed = testbed();
  const std::string offered = fingerprint_of_public_key_file(bed.dir.file("h1/host_key.pub"));
  SshTarget target = bed.target();
  target.known_hosts = bed.dir.file("empty_known_hosts");
  test::write_text(target.known_hosts, "");
  CHECK(error_of([&] { SshSession s(target); }) ==
        "node h1 (10.77.0.11:22): unknown host key " + offered + " (not in known_hosts)");
  target.policy = HostKeyPolicy::accept_new;
  { SshSession accepted(target); }
  std::ifstream recorded(target.known_hosts);
  const std::string entries((std::istreambuf_iterator<char>(recorded)), {});
  CHECK_THAT(entries, Catch::Contains("10.77.0.11"));
  target.policy = HostKeyPolicy::strict;
  { SshSession now_known(target); }  // strict mode now accepts it

  // Another host's key under h1's address: a changed key, refused even with accept-new.
  std::ifstream other(bed.dir.file("h2/host_key.pub"));
  std::string type, key;
  other >> type >> key;
  test::write_text(target.known_hosts, "10.77.0.11 " + type + " " + key + "\n");
  target.policy = HostKeyPolicy::accept_new;
  const std::string changed = error_of([&] { SshSession s(target); });
  CHECK_THAT(changed, Catch::StartsWith("node h1 (10.77.0.11:22): HOST KEY CHANGED: known_hosts has " +
                                        fingerprint_of_public_key_file(bed.dir.file("h2/host_key.pub")) +
                                        ", the host offers " + offered));
}

TEST_CASE("ssh: an unreachable host fails fast, naming it", "[ssh]") {
  SshTarget target = testbed().target("10.77.0.99");
  target.connect_timeout_s = 2;
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(error_of([&] { SshSession s(target); }), Catch::StartsWith("node h1 (10.77.0.99:22): cannot connect"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}
