// The names grammar (common/names.h) and the path confinement helpers
// (common/fs.h): what becomes a file name, a directory or a command word.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/fs.h"
#include "common/names.h"
#include "common/yaml_util.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

TEST_CASE("names: letters, digits, '_', '.', '-', at most 64, starting with a letter or digit", "[common]") {
  for (const char* good : {"gw", "e1", "edge-1", "pi4_class", "hare-cnn", "amd-epyc-2c", "v1.2", "A", "9lives"}) {
    INFO(good);
    CHECK_FALSE(name_problem(good));
  }
  CHECK_FALSE(name_problem(std::string(64, 'a')));
  CHECK(*name_problem(std::string(65, 'a')) == "it is 65 bytes long, more than 64");
  CHECK(*name_problem("") == "it is empty");
  // The cases: a shell command and a way out of the directory.
  CHECK(*name_problem("x;touch /tmp/hareprobe-PWNED;y") == "it contains ';'");
  CHECK(*name_problem("../victim") == "it contains '/'");
  CHECK(*name_problem("..") == "it starts with '.', not a letter or digit");
  CHECK(*name_problem("a..b") == "it contains '..'");
  CHECK(*name_problem("-rf") == "it starts with '-', not a letter or digit");
  CHECK(*name_problem("a b") == "it contains a space");
  CHECK(*name_problem("a$(id)") == "it contains '$'");
  CHECK(*name_problem("a\nb") == "it contains byte 0x0a");
  CHECK(*name_problem("caf\xc3\xa9") == "it contains byte 0xc3");
}

TEST_CASE("check_name throws an input error naming what, with the rule, on one line", "[common]") {
  CHECK_NOTHROW(check_name("gw", "node name"));
  try {
    check_name("a\nb", "node name", Location{"c.yaml", 3, 5});
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.exit_code() == ExitCode::usage);
    CHECK(std::string(error.what()) == "c.yaml:3:5: node name 'a\\x0ab' is not a valid name: it contains byte 0x0a");
    CHECK_THAT(error.hint(), Catch::Contains("1 to 64 letters, digits"));
  }
}

TEST_CASE("a YAML reader refuses a bad name or path at its file:line:col", "[common]") {
  yaml::Reader r(yaml::load_string("node: 'x;touch /tmp/hareprobe-PWNED;y'\nslice: ../../etc/passwd\n", "r.yaml"));
  std::string node, slice;
  r.required(r.root(), "node", r.into_name(node, "node name"));
  r.required(r.root(), "slice", r.into_relative_path(slice, "slice"));
  const auto messages = test::error_messages([&] { r.finish(); });
  REQUIRE(messages.size() == 2);
  CHECK(messages[0] == "r.yaml:1:7: node name 'x;touch /tmp/hareprobe-PWNED;y' is not a valid name: it contains ';'");
  CHECK(messages[1] == "r.yaml:2:8: 'slice' must be a relative path that stays inside the directory, and "
                       "'../../etc/passwd' is not: it goes up with '..'");
}

TEST_CASE("relative paths: not empty, not absolute, never up with '..'", "[common]") {
  CHECK_FALSE(relative_path_problem("slices/stage-1.pt"));
  CHECK_FALSE(relative_path_problem("hare"));
  CHECK_FALSE(relative_path_problem("a/./b"));
  CHECK_FALSE(relative_path_problem("a..b/c"));  // a name with dots, not a step up
  CHECK(*relative_path_problem("") == "it is empty");
  // hare-profile --network removed <remote-dir>/<node>: '.' would be ~/<node>.
  CHECK(*relative_path_problem(".") == "it names no directory of its own ('.')");
  CHECK(*relative_path_problem("./") == "it names no directory of its own ('.')");
  CHECK(*relative_path_problem("/etc/passwd") == "it is absolute");
  CHECK(*relative_path_problem("../victim") == "it goes up with '..'");
  CHECK(*relative_path_problem("slices/../../x") == "it goes up with '..'");
  CHECK(*relative_path_problem("a/..") == "it goes up with '..'");
  CHECK(*relative_path_problem(std::string("a\0b", 3)) == "it contains a NUL byte");
}

TEST_CASE("resolve_inside keeps a path inside its root, symlinks included", "[common]") {
  test::TempDir dir;
  const std::string root = dir.file("plan");
  fs::create_directories(root + "/slices");
  test::write_text(root + "/slices/stage-1.pt", "x");
  const std::string canonical_root = fs::canonical(root).string();
  CHECK(resolve_inside(root, "slices/stage-1.pt", "slice") == canonical_root + "/slices/stage-1.pt");
  CHECK(resolve_inside(root, "slices/not-yet.pt", "slice") == canonical_root + "/slices/not-yet.pt");
  CHECK_THROWS_WITH(resolve_inside(root, "../../etc/passwd", "stage 1's slice"),
                    root + ": stage 1's slice '../../etc/passwd' must be a path inside this directory: it goes up with '..'");
  CHECK_THROWS_WITH(resolve_inside(root, "/etc/passwd", "slice"), Catch::Contains("it is absolute"));
  // A symlink inside that leads out, to a file or through a directory.
  fs::create_symlink("/etc/passwd", root + "/slices/stage-2.pt");
  fs::create_directory_symlink("/etc", root + "/up");
  CHECK_THROWS_WITH(resolve_inside(root, "slices/stage-2.pt", "slice"),
                    Catch::Contains("slice 'slices/stage-2.pt' leads outside this directory (to /etc/passwd)"));
  CHECK_THROWS_WITH(resolve_inside(root, "up/passwd", "slice"), Catch::Contains("leads outside this directory"));
  // A sibling that shares the root's name as a prefix is outside too.
  fs::create_directories(root + "-x");
  fs::create_symlink(root + "-x", root + "/sibling");
  CHECK_THROWS_WITH(resolve_inside(root, "sibling/f", "slice"), Catch::Contains("leads outside this directory"));
  // The root itself may be a symlink (a node's `current`): what counts is where it leads.
  fs::create_directory_symlink(root, dir.file("current"));
  CHECK(resolve_inside(dir.file("current"), "slices/stage-1.pt", "slice") == canonical_root + "/slices/stage-1.pt");
}
