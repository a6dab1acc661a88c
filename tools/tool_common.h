#pragma once

// What every hare tool shares: CLI11 parsing with one usage style, where
// unknown flags and bad values print the usage and exit 2; the options that
// several tools take, declared once; subcommands dispatched from a table.

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/diag.h"
#include "common/fs.h"
#include "common/names.h"

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

// The directory of the running program: hare's other tools live there.
inline std::string program_dir() { return std::filesystem::read_symlink("/proc/self/exe").parent_path().string(); }

// --- Lists -----------------------------------------------------------------
// Given comma-separated (--threads 1,2,4): CLI11 splits them and checks every
// element, so a malformed one is a usage error naming the option and the
// element. `example` shows a valid list in that message.

// Whole numbers of at least `min`.
inline CLI::Validator whole_numbers(long long min, const std::string& example) {
  return CLI::Validator(
      [min, example](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const long long value = std::stoll(text, &used);
          if (used == text.size() && value >= min) return {};
        } catch (const std::exception&) {
        }
        return "'" + text + "' is not a whole number of at least " + std::to_string(min) + " (give a list like " +
               example + ")";
      },
      "INT>=" + std::to_string(min));
}

// Numbers in (0, max].
inline CLI::Validator positive_numbers(double max, const std::string& example) {
  return CLI::Validator(
      [max, example](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && value > 0.0 && value <= max) return {};
        } catch (const std::exception&) {
        }
        return "'" + text + "' is not a number above 0 and at most " + CLI::detail::to_string(max) +
               " (give a list like " + example + ")";
      },
      "NUMBER>0");
}

// --- Numbers ---------------------------------------------------------------
// One value of a scalar option. CLI11's Range and PositiveNumber let NaN
// through (every comparison with it is false) and print their bounds as
// "0.000000 to 179769313486231570...": these refuse anything not finite and
// name the range they take.

// A number in [min, max].
inline CLI::Validator number_in(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && std::isfinite(value) && value >= min && value <= max) return {};
        } catch (const std::exception&) {
        }
        return fmt::format("'{}' is not a number from {} to {}", text, min, max);
      },
      fmt::format("NUMBER in [{} - {}]", min, max));
}

// A number in (0, max].
inline CLI::Validator positive_number(double max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && std::isfinite(value) && value > 0.0 && value <= max) return {};
        } catch (const std::exception&) {
        }
        return fmt::format("'{}' is not a number above 0 and at most {}", text, max);
      },
      "NUMBER>0");
}

// A whole number in [min, max].
inline CLI::Validator whole_number_in(long long min, long long max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const long long value = std::stoll(text, &used);
          if (used == text.size() && value >= min && value <= max) return {};
        } catch (const std::exception&) {
        }
        return fmt::format("'{}' is not a whole number from {} to {}", text, min, max);
      },
      max >= std::numeric_limits<int>::max() ? fmt::format("INT>={}", min) : fmt::format("INT in [{} - {}]", min, max));
}

// --- Names and paths -------------------------------------------------------
// A value that becomes a file name or a command word (--node, --name,
// --device-id): common/names.h's grammar. `what` names it in the message.
inline CLI::Validator valid_name(const std::string& what) {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        const auto message = name_error(text, what);
        return message ? *message + " (" + name_rule() + ")" : std::string();
      },
      "NAME");
}

// A directory relative to another that stays inside it (--remote-dir).
inline CLI::Validator inside_path() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto problem = relative_path_problem(text);
        return problem ? "'" + text + "' must be a relative path that stays inside the login directory: " + *problem
                       : std::string();
      },
      "RELATIVE-PATH");
}

template <typename T>
CLI::Option* add_list(CLI::App& app, const std::string& name, std::vector<T>& values, const std::string& help,
                      const CLI::Validator& each) {
  return app.add_option(name, values, help)->delimiter(',')->check(each);
}

// A list that must also ascend strictly, e.g. --idle-gaps-ms 1,5,25.
inline CLI::Option* add_ascending_list(CLI::App& app, const std::string& name, std::vector<double>& values,
                                       const std::string& help, const CLI::Validator& each) {
  std::string shown;
  for (double v : values) shown += (shown.empty() ? "" : ",") + CLI::detail::to_string(v);
  return app
      .add_option_function<std::vector<double>>(
          name,
          [&values, name](const std::vector<double>& given) {
            for (size_t i = 1; i < given.size(); ++i) {
              if (given[i] <= given[i - 1]) throw CLI::ValidationError(name, "the values must ascend, e.g. 1,5,25");
            }
            values = given;
          },
          help)
      ->delimiter(',')
      ->check(each)
      ->default_str(shown);
}

// --- SSH -------------------------------------------------------------------
// The flags of every tool that reaches the nodes over SSH (hare-deploy's
// remote subcommands, hare-profile --host/--network). `Options` is
// deploy::RemoteOptions or profile::RemoteToolOptions, which share these
// fields; the remote directory's default is the struct's own.
template <typename Options>
void add_ssh_options(CLI::App& app, Options& options) {
  using Policy = decltype(options.policy);
  if (options.remote_bin.empty()) options.remote_bin = program_dir();
  app.add_option("--known-hosts", options.known_hosts, "known_hosts file (default: ~/.ssh/known_hosts)");
  app.add_option("--ssh-config", options.ssh_config, "ssh config file (default: ~/.ssh/config)");
  app.add_flag_callback(
      "--accept-new-host-keys", [&options] { options.policy = Policy::accept_new; },
      "Add unknown host keys (a changed key is still refused)");
  app.add_option("--remote-dir", options.remote_dir, "Directory under the login directory on each node")
      ->capture_default_str()
      ->check(inside_path());
  app.add_option("--remote-bin", options.remote_bin, "Where hare's tools are installed on the nodes (default: this hare's bin/)");
}

// --- Source ----------------------------------------------------------------
// Far above any replay a machine keeps up with; beyond them a value is a typo.
constexpr double kMaxSpeed = 1e6;
// Each stream keeps its own place in the recordings and its own schedule.
constexpr long long kMaxStreams = 1000000;

// What the plan's source streams: hare-node run, hare-deploy local, start and
// run. `spec` is null where a tool cannot pass a dataset spec on (remote start
// uploads the recordings only); `role` prefixes the help ("Source role: ").
inline void add_source_options(CLI::App& cmd, std::vector<std::string>& files, std::string* spec, double& speed,
                               int& streams, long long& limit, bool files_required, const std::string& role = "") {
  CLI::Option* data = cmd.add_option("--data", files, role + "Recordings the source streams");
  if (files_required) data->required();
  if (spec != nullptr) cmd.add_option("--spec", *spec, role + "Dataset spec of the recordings (default: from file names)");
  // 0 keeps its meaning only for --speed: --streams 0 or --limit -5 ran with
  // the defaults and exit 0, as if the flag had not been given.
  cmd.add_option("--speed", speed, role + "x real time; 0 = as fast as possible")
      ->capture_default_str()
      ->check(number_in(0.0, kMaxSpeed));
  cmd.add_option("--streams", streams, role + "Sensor streams (default: one per file)")
      ->check(whole_number_in(1, kMaxStreams));
  cmd.add_option("--limit", limit, role + "Windows per stream (default: all)")
      ->check(whole_number_in(1, std::numeric_limits<long long>::max()));
}

// --- Subcommands -------------------------------------------------------------
// A tool's subcommands as a table (ninja's kTools[]): each declares its
// options into the tool's Args and runs on them, so main() only dispatches.
template <typename Args>
struct Subcommand {
  const char* name;
  const char* help;
  void (*declare)(CLI::App& command, Args& args);
  int (*run)(Args& args);
  bool hidden = false;  // internal: not listed in --help
};

template <typename Args, size_t N>
void add_subcommands(CLI::App& app, const Subcommand<Args> (&table)[N], Args& args) {
  for (const Subcommand<Args>& entry : table) {
    CLI::App* command = app.add_subcommand(entry.name, entry.help);
    if (entry.hidden) command->group("");
    entry.declare(*command, args);
  }
}

// The subcommand given on the command line, or nullptr.
template <typename Args, size_t N>
const Subcommand<Args>* chosen_subcommand(const CLI::App& app, const Subcommand<Args> (&table)[N]) {
  for (const Subcommand<Args>& entry : table) {
    if (app.got_subcommand(entry.name)) return &entry;
  }
  return nullptr;
}

// The whole main() of a tool that is only subcommands (hare-deploy,
// hare-node): declare them from the table, parse, run the chosen one, map
// errors to exit codes.
template <typename Args, size_t N>
int run_subcommand_tool(const char* program, const char* about, const Subcommand<Args> (&table)[N], int argc,
                        char** argv) {
  return diag::run_main(program, [&] {
    CLI::App app{about};
    app.require_subcommand(1);
    Args args;
    add_subcommands(app, table, args);
    if (auto code = parse(app, argc, argv)) return *code;
    return chosen_subcommand(app, table)->run(args);
  });
}

}  // namespace hare::tools
