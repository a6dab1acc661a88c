// A run's key files: made fresh, written private, refused when they are not
// this node's, not this plan's, malformed or readable by others.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "common/fs.h"
#include "runtime/keys.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

TEST_CASE("every node gets its own keypair and every node's public key", "[runtime]") {
  const auto keys = generate_deployment_keys({"gw", "e1", "e2"});
  REQUIRE(keys.size() == 3);
  std::set<std::string> secrets;
  for (const auto& [node, k] : keys) {
    CHECK(k.node == node);
    CHECK(decode_key(k.public_key).has_value());
    CHECK(decode_key(k.secret_key).has_value());
    secrets.insert(k.secret_key);
    CHECK(k.peers.size() == 3);
    for (const auto& [peer, peer_keys] : keys) CHECK(k.peers.at(peer) == peer_keys.public_key);
  }
  CHECK(secrets.size() == 3);
  // Another run: other keys.
  CHECK(generate_deployment_keys({"gw"}).at("gw").secret_key != keys.at("gw").secret_key);
}

TEST_CASE("a key file is written 0600 whatever the umask, and read back checked", "[runtime]") {
  test::TempDir dir;
  const auto keys = generate_deployment_keys({"gw", "e1"});
  const std::string path = dir.file("run/gw.keys");
  const mode_t old_umask = ::umask(0);
  write_keys_file(path, keys.at("gw"));
  ::umask(old_umask);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const DeploymentKeys back = read_keys_file(path, "gw", {"gw", "e1"});
  CHECK(back.secret_key == keys.at("gw").secret_key);
  CHECK(back.peers == keys.at("gw").peers);

  CHECK_THROWS_WITH(read_keys_file(path, "e1", {"gw", "e1"}),
                    Catch::Contains("these are node gw's keys, not node e1's"));
  CHECK_THROWS_WITH(read_keys_file(path, "gw", {"gw", "e1", "e2"}),
                    Catch::Contains("no public key for plan node(s) e2"));
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  CHECK_THROWS_WITH(read_keys_file(path, "gw", {"gw"}), Catch::Contains("may be read by others (mode 640)"));
  REQUIRE(::chmod(path.c_str(), 0600) == 0);

  DeploymentKeys swapped = keys.at("gw");
  swapped.public_key = keys.at("e1").public_key;  // not the secret key's half
  write_keys_file(path, swapped);
  CHECK_THROWS_WITH(read_keys_file(path, "gw", {"gw"}), Catch::Contains("not the public half of secret_key"));
  DeploymentKeys broken = keys.at("gw");
  broken.peers["e1"] = "short";
  write_keys_file(path, broken);
  CHECK_THROWS_WITH(read_keys_file(path, "gw", {"gw"}), Catch::Contains("not a 40-character Z85 CURVE key: peers.e1"));
  test::write_text(path, "{}");
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(read_keys_file(path, "gw", {"gw"}), Catch::Contains("not a hare key file"));
  CHECK_THROWS_WITH(read_keys_file(dir.file("none.keys"), "gw", {"gw"}), Catch::Contains("cannot read the key file"));
}

TEST_CASE("a key file is never written through a symlink", "[runtime]") {
  test::TempDir dir;
  test::write_text(dir.file("victim"), "untouched");
  REQUIRE(::symlink(dir.file("victim").c_str(), dir.file("gw.keys").c_str()) == 0);
  write_keys_file(dir.file("gw.keys"), generate_deployment_keys({"gw"}).at("gw"));
  CHECK(read_file(dir.file("victim")) == "untouched");
  struct stat st {};
  REQUIRE(::lstat(dir.file("gw.keys").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
}
