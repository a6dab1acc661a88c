#pragma once

// What every hare tool shares: CLI11 parsing with one usage style, where
// unknown flags and bad values print the usage and exit 2.

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "common/diag.h"

namespace hare::tools {

// Torch's OpenMP threads spin while waiting for work by default. On a small
// shared board (or a 2-core CI machine running two tests) a spinning pool
// oversubscribes the cores and every op runs ~10x slower; sleeping waiters
// cost only microseconds per op. libgomp reads the policy once, when it is
// loaded, so a torch tool sets it and re-executes itself. A user's own
// OMP_WAIT_POLICY is left alone.
inline void use_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // If exec fails we simply carry on with the default policy.
}

// Parses argv; returns an exit code when the tool should stop now (0 after
// --help, 2 after a usage error), or nothing to carry on.
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  app.set_help_all_flag("--help-all", "Show help for all subcommands");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& error) {
    diag::print_error_message(error.what());
    std::cerr << "Run with --help for usage.\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace hare::tools
