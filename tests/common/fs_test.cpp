// Files and private run directories (common/fs.h). The tests run as root, so
// "another local user" is nobody (uid 65534): a directory chown'ed to it, or
// a forked child that has become it.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

namespace {

// The error `body` throws (its what() and its kind); fails the test if none.
std::pair<std::string, Error::Kind> error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return {e.what(), e.kind()};
  }
  FAIL("no error thrown");
  return {};
}

uid_t owner_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_uid;
}

}  // namespace

TEST_CASE("make_private_dir: a new directory is 0700 and its new parents 0755, whatever the umask", "[common]") {
  test::TempDir dir;
  const std::string run = dir.file("a/b/run");
  {
    test::ScopedUmask open_umask(0000);
    make_private_dir(run);
  }
  CHECK(test::mode_of(run) == 0700);
  CHECK(test::mode_of(dir.file("a")) == 0755);
  CHECK(test::mode_of(dir.file("a/b")) == 0755);
  {
    test::ScopedUmask closed_umask(0777);  // even a umask that would leave it unusable
    make_private_dir(dir.file("other"));
  }
  CHECK(test::mode_of(dir.file("other")) == 0700);
}

TEST_CASE("make_private_dir: an existing directory of ours, not writable by others, is used as it is", "[common]") {
  test::TempDir dir;
  const std::string run = dir.file("run");
  test::make_dir(run, 0755);
  test::write_text(run + "/kept", "kept");
  make_private_dir(run);
  CHECK(test::mode_of(run) == 0755);
  CHECK(read_file(run + "/kept") == "kept");
}

TEST_CASE("make_private_dir: a directory another user made first is refused, nothing in it changes", "[common]") {
  test::TempDir dir;
  const std::string run = dir.file("hare-gw");
  test::make_dir(run, 0755);
  test::write_text(run + "/gw.predictions.jsonl", "planted\n");
  REQUIRE(::chown(run.c_str(), test::kOtherUid, test::kOtherUid) == 0);
  const auto [message, kind] = error_of([&] { make_private_dir(run); });
  CHECK(kind == Error::Kind::input);  // exit 2
  CHECK(message == run + ": not used as a run directory: it is owned by uid 65534, not by you (uid " +
                       std::to_string(::geteuid()) +
                       "): another user may have made it first; remove it or choose another directory");
  CHECK(owner_of(run) == test::kOtherUid);
  CHECK(test::mode_of(run) == 0755);
  CHECK(read_file(run + "/gw.predictions.jsonl") == "planted\n");
  CHECK(std::distance(fs::directory_iterator(run), fs::directory_iterator()) == 1);
}

TEST_CASE("make_private_dir: a directory others may write to is refused, even if it is ours", "[common]") {
  test::TempDir dir;
  const std::string run = dir.file("run");
  test::make_dir(run, 0700);
  for (const int mode : {0777, 0770, 0702, 01777}) {
    INFO("mode " << std::oct << mode);
    REQUIRE(::chmod(run.c_str(), static_cast<mode_t>(mode)) == 0);
    const auto [message, kind] = error_of([&] { make_private_dir(run); });
    CHECK(kind == Error::Kind::input);
    CHECK_THAT(message, Catch::Contains("it is writable by others (mode " + fmt::format("{:04o}", mode)));
    CHECK(test::mode_of(run) == mode);
  }
}

TEST_CASE("make_private_dir: a symlink to a directory, or a file, is refused and the link's target is untouched", "[common]") {
  test::TempDir dir;
  const std::string target = dir.file("elsewhere");
  test::make_dir(target, 0700);
  test::write_text(target + "/secret", "secret");
  const std::string run = dir.file("run");
  REQUIRE(::symlink(target.c_str(), run.c_str()) == 0);
  const auto [message, kind] = error_of([&] { make_private_dir(run); });
  CHECK(kind == Error::Kind::input);
  CHECK(message == run + ": not used as a run directory: it is a symbolic link (to " + target +
                       "); remove it or choose another directory");
  CHECK(test::mode_of(target) == 0700);
  CHECK(std::distance(fs::directory_iterator(target), fs::directory_iterator()) == 1);

  const std::string dangling = dir.file("dangling");
  REQUIRE(::symlink(dir.file("nowhere").c_str(), dangling.c_str()) == 0);
  CHECK_THAT(error_of([&] { make_private_dir(dangling); }).first, Catch::Contains("it is a symbolic link"));
  CHECK_FALSE(fs::exists(dir.file("nowhere")));

  test::write_text(dir.file("file"), "x");
  CHECK_THAT(error_of([&] { make_private_dir(dir.file("file")); }).first,
             Catch::EndsWith("file: not used as a run directory: it is not a directory; remove it or choose another directory"));
}

TEST_CASE("make_private_dir: a symlink given as link/ or link/. is refused too (the kernel would follow it)", "[common]") {
  test::TempDir dir;
  const std::string target = dir.file("victims");
  test::make_dir(target, 0755);
  const std::string run = dir.file("hare-gw");
  REQUIRE(::symlink(target.c_str(), run.c_str()) == 0);
  for (const std::string& given : {run + "/", run + "//", run + "/."}) {
    INFO(given);
    const auto [message, kind] = error_of([&] { make_private_dir(given); });
    CHECK(kind == Error::Kind::input);
    CHECK_THAT(message, Catch::Contains("it is a symbolic link"));
  }
  CHECK(fs::is_empty(target));
  CHECK(test::mode_of(target) == 0755);
}

TEST_CASE("open_private_file: 0600 whatever the umask or the old mode, and a planted symlink is refused", "[common]") {
  test::TempDir dir;
  const std::string path = dir.file("gw.predictions.jsonl");
  {
    test::ScopedUmask open_umask(0000);
    const int fd = open_private_file(path, O_WRONLY | O_TRUNC);
    CHECK(::write(fd, "x", 1) == 1);
    ::close(fd);
  }
  CHECK(test::mode_of(path) == 0600);
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  ::close(open_private_file(path, O_WRONLY | O_TRUNC));
  CHECK(test::mode_of(path) == 0600);
  CHECK(read_file(path).empty());
  const int fd = open_private_file(path, O_WRONLY);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);  // not inherited by workers
  ::close(fd);

  const std::string target = dir.file("precious");
  test::write_text(target, "precious\n");
  REQUIRE(::chmod(target.c_str(), 0644) == 0);
  const std::string link = dir.file("link.jsonl");
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
  const auto [message, kind] = error_of([&] { open_private_file(link, O_WRONLY | O_TRUNC); });
  CHECK(kind == Error::Kind::input);
  CHECK(message == link + ": is a symbolic link: run state is never written through a link; remove it");
  CHECK(read_file(target) == "precious\n");
  CHECK(test::mode_of(target) == 0644);
}

TEST_CASE("write_file_atomic: owner_only is 0600, shared follows the umask, and a link at the path is replaced, not followed",
          "[common]") {
  test::TempDir dir;
  {
    test::ScopedUmask open_umask(0000);
    write_file_atomic(dir.file("report.json"), "{}\n", FileAccess::owner_only);
    write_file_atomic(dir.file("plan.yaml"), "a: 1\n");
  }
  CHECK(test::mode_of(dir.file("report.json")) == 0600);
  CHECK(test::mode_of(dir.file("plan.yaml")) == 0666);
  {
    test::ScopedUmask usual_umask(0022);
    write_file_atomic(dir.file("profile.yaml"), "a: 1\n");
  }
  CHECK(test::mode_of(dir.file("profile.yaml")) == 0644);

  test::write_text(dir.file("precious"), "precious\n");
  REQUIRE(::symlink(dir.file("precious").c_str(), dir.file("summary.json").c_str()) == 0);
  write_file_atomic(dir.file("summary.json"), "{\"done\":true}\n", FileAccess::owner_only);
  CHECK(read_file(dir.file("precious")) == "precious\n");
  CHECK(test::mode_of(dir.file("summary.json")) == 0600);  // a regular file now
  CHECK(read_file(dir.file("summary.json")) == "{\"done\":true}\n");
  // No temporaries left behind.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 5);
}

TEST_CASE("make_private_dir: another user cannot enter the directory or reach a file in it", "[common]") {
  test::TempDir dir;
  const std::string run = dir.file("run");
  {
    test::ScopedUmask open_umask(0000);
    make_private_dir(run);
    ::close(open_private_file(run + "/gw.log", O_WRONLY));
  }
  // The TempDir itself is 0700: open it for the other user, as /tmp is.
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  CHECK(test::run_as_other_user([&] { return ::access(dir.path().c_str(), X_OK) == 0 ? 0 : 3; }) == 0);
  CHECK(test::run_as_other_user([&] {
          const int fd = ::open((run + "/gw.log").c_str(), O_RDONLY);
          return fd < 0 && errno == EACCES ? 0 : 3;
        }) == 0);
  CHECK(test::run_as_other_user([&] {
          const int fd = ::open((run + "/planted").c_str(), O_WRONLY | O_CREAT, 0666);
          return fd < 0 && errno == EACCES ? 0 : 3;
        }) == 0);
  CHECK_FALSE(fs::exists(run + "/planted"));
}

TEST_CASE("a directory where a file is expected, or a file where a directory is, is an input error naming it",
          "[common]") {
  test::TempDir dir;
  // A directory read as a file was "the file is empty" (a card) or exit 1
  // "read error while hashing" (a model).
  auto [read_message, read_kind] = error_of([&] { read_file(dir.path()); });
  CHECK(read_message == dir.path() + ": is a directory, not a file");
  CHECK(read_kind == Error::Kind::input);
  auto [hash_message, hash_kind] = error_of([&] { sha256_file(dir.path()); });
  CHECK(hash_message == dir.path() + ": is a directory, not a file");
  CHECK(hash_kind == Error::Kind::input);

  // --out under a file was "internal error: filesystem error: cannot create directories".
  test::write_text(dir.file("file"), "x");
  auto [out_message, out_kind] = error_of([&] { make_dirs(dir.file("file/plan/slices")); });
  CHECK(out_message == dir.file("file") + ": cannot create directory: Not a directory");
  CHECK(out_kind == Error::Kind::input);
  auto [write_message, write_kind] = error_of([&] { write_file_atomic(dir.file("file/profile.yaml"), "x"); });
  CHECK(write_kind == Error::Kind::input);
  // A file written over a directory was exit 1 after all the work.
  fs::create_directory(dir.file("taken"));
  auto [rename_message, rename_kind] = error_of([&] { write_file_atomic(dir.file("taken"), "x"); });
  CHECK(rename_message == dir.file("taken") + ": cannot rename into place: Is a directory");
  CHECK(rename_kind == Error::Kind::input);

  make_dirs(dir.file("new/a/b"));
  CHECK(fs::is_directory(dir.file("new/a/b")));
}
