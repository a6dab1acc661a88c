#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "common/process.h"
#include "test_util.h"

using namespace hare;

namespace {

int wait_for(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    if (const auto status = try_reap(pid)) return *status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL("child " << pid << " did not exit within 5 s");
  return -1;
}

}  // namespace

TEST_CASE("spawn_process: runs the program with its arguments, output into the log", "[common]") {
  test::TempDir dir;
  SpawnOptions options;
  options.argv = {"/bin/sh", "-c", "echo \"$0 $1\"; echo oops >&2; exit 3", "a b", "c'd"};
  options.log_path = dir.file("log");
  const int status = wait_for(spawn_process(options));
  CHECK(describe_exit(status) == "exited with code 3");
  std::ifstream log(dir.file("log"));
  std::string first, second;
  std::getline(log, first);
  std::getline(log, second);
  CHECK(first == "a b c'd");  // arguments reach it as given: no shell in between
  CHECK(second == "oops");
}

TEST_CASE("spawn_process: a program that cannot run is an error naming it, a new group can be killed whole", "[common]") {
  SpawnOptions missing;
  missing.argv = {"/nonexistent/hare-nothing"};
  CHECK_THROWS_WITH(spawn_process(missing), "cannot run /nonexistent/hare-nothing: No such file or directory");

  SpawnOptions group;
  group.argv = {"/bin/sleep", "30"};
  group.new_process_group = true;
  const pid_t pid = spawn_process(group);
  CHECK(getpgid(pid) == pid);
  REQUIRE(kill(-pid, SIGKILL) == 0);
  CHECK(describe_exit(wait_for(pid)) == "was killed by signal 9");
}

TEST_CASE("fork_call: the child's return value, or 1 when it throws", "[common]") {
  CHECK(describe_exit(wait_for(fork_call([] { return 5; }))) == "exited with code 5");
  CHECK(describe_exit(wait_for(fork_call([]() -> int { throw std::runtime_error("x"); }))) == "exited with code 1");
  const pid_t slow = fork_call([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
  });
  CHECK_FALSE(try_reap(slow).has_value());  // still running: not reaped
  CHECK(describe_exit(wait_for(slow)) == "exited with code 0");
}

TEST_CASE("run_process: stdout collected, environment defaults only where unset", "[common]") {
  ::setenv("HARE_TEST_SET", "mine", 1);
  const ProcessResult r = run_process({"/bin/sh", "-c", "echo \"$HARE_TEST_SET $HARE_TEST_UNSET\"; exit 4"},
                                      {"HARE_TEST_SET=theirs", "HARE_TEST_UNSET=default"});
  CHECK(r.out == "mine default\n");
  CHECK(r.exit_code == 4);
  CHECK(r.term_signal == 0);
  const ProcessResult killed = run_process({"/bin/sh", "-c", "kill -9 $$"});
  CHECK(killed.exit_code == -1);
  CHECK(killed.term_signal == 9);
  CHECK_THROWS_WITH(run_process({"/nonexistent/hare-slice"}), Catch::StartsWith("cannot run /nonexistent/hare-slice"));
}
