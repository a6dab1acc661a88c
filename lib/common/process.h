#pragma once

// Starting child processes: the one place hare forks. The supervisor starts
// its workers with it, `hare-deploy local` its nodes, the hop measurement its
// echo process, and hare-partition its torch-side helper (hare-slice).
// Errors name the program.

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hare {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program's path (no PATH search)
  std::string log_path;           // stdout and stderr go here (truncated, mode 0600, never through a link: common/fs.h); "" = inherited
  bool new_process_group = false; // the child leads its own group: kill(-pid) ends it and its children
  bool die_with_parent = false;   // SIGKILL when the thread that spawned it exits (Linux PR_SET_PDEATHSIG): spawn from a long-lived thread
  // "NAME=value" entries added to the child's environment where ours does
  // not set NAME.
  std::vector<std::string> env_defaults;
};

// Starts argv[0] with the arguments; returns its pid. Throws a failure
// naming the program when it cannot fork or cannot be executed.
pid_t spawn_process(const SpawnOptions& options);

struct ProcessResult {
  int exit_code = -1;   // when it exited normally
  int term_signal = 0;  // when a signal ended it (then exit_code is -1)
  std::string out;      // everything it wrote on stdout
};

// Runs argv[0] to completion, collecting its stdout; its stderr is ours, so
// its warnings reach the user as they happen. `env_defaults` as above.
// Throws a failure naming the program when it cannot start.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env_defaults = {});

// Runs `body` in a forked child, which exits with its return value (1 if it
// throws). Only for code that needs no threads from before the fork (fresh
// ZeroMQ contexts are fine).
pid_t fork_call(const std::function<int()>& body, bool die_with_parent = true);

// The child's wait status if it has exited (reaping it), else nothing.
std::optional<int> try_reap(pid_t pid);

// "exited with code N" or "was killed by signal N", for a wait status.
std::string describe_exit(int wait_status);

}  // namespace hare
