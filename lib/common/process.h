#pragma once

// Starting and reaping child processes: the one place hare forks. The
// supervisor starts its workers with it, `hare-deploy local` its nodes, and
// the hop measurement its echo process. Errors name the program.

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hare {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program's path (no PATH search)
  std::string log_path;           // stdout and stderr go here (truncated); "" = inherited
  bool new_process_group = false; // the child leads its own group: kill(-pid) ends it and its children
  bool die_with_parent = false;   // SIGKILL when the process that spawned it exits (Linux)
};

// Starts argv[0] with the arguments; returns its pid. Throws a failure when
// it cannot fork. A program that cannot be executed exits with code 127.
pid_t spawn_process(const SpawnOptions& options);

// Runs `body` in a forked child, which exits with its return value (1 if it
// throws). Only for code that needs no threads from before the fork (fresh
// ZeroMQ contexts are fine).
pid_t fork_call(const std::function<int()>& body, bool die_with_parent = true);

// The child's wait status if it has exited (reaping it), else nothing.
std::optional<int> try_reap(pid_t pid);

// "exited with code N" or "was killed by signal N", for a wait status.
std::string describe_exit(int wait_status);

}  // namespace hare
