#pragma once

// Running a helper program and collecting what it prints on stdout. Its
// stderr is the caller's, so its warnings reach the user as they happen.

#include <string>
#include <vector>

namespace hare {

struct ProcessResult {
  int exit_code = -1;   // when it exited normally
  int term_signal = 0;  // when a signal ended it (then exit_code is -1)
  std::string out;      // everything it wrote on stdout
};

// Runs argv[0] (a path, not looked up in PATH) with `argv` and waits for it.
// `defaults` ("NAME=value") are added to its environment where ours does not
// set NAME. Throws a failure Error naming the program when it cannot start.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& defaults = {});

}  // namespace hare
