#pragma once

// What every hare tool shares: CLI11 parsing with one usage style, where
// unknown flags and bad values print the usage and exit 2.

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "common/diag.h"

namespace hare::tools {

// Torch's OpenMP threads either spin (ACTIVE) or sleep (PASSIVE) while
// waiting for work. Spinning gives the lowest latency when a process owns its
// cores (a pinned executor, or profiling one); on a shared machine (training
// on a dev box, or two tests at once on a 2-core CI runner) spinning threads
// oversubscribe the cores and every op runs ~10x slower. libgomp reads the
// policy once, when it is loaded, so a torch tool sets it and re-executes
// itself. `forced` (from a flag) wins over the environment, which wins over
// `fallback`.
inline void use_openmp_wait_policy(char** argv, const std::string& forced, const char* fallback) {
  const char* current = std::getenv("OMP_WAIT_POLICY");
  const std::string wanted = !forced.empty() ? forced : (current != nullptr ? current : fallback);
  if (current != nullptr && wanted == current) return;
  setenv("OMP_WAIT_POLICY", wanted.c_str(), 1);
  execv("/proc/self/exe", argv);
  // If exec fails we simply carry on with the policy already loaded.
}

// The value of "--flag VALUE" or "--flag=VALUE" in argv, before parsing.
inline std::string peek_flag(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == flag && i + 1 < argc) return argv[i + 1];
    if (arg.rfind(flag + "=", 0) == 0) return arg.substr(flag.size() + 1);
  }
  return {};
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
