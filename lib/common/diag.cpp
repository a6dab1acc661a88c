#include "common/diag.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <exception>

namespace hare::diag {
namespace {

std::string g_program = "hare";
bool g_quiet = false;
std::atomic<bool> g_interrupted{false};

void on_signal(int) { g_interrupted.store(true); }

// Replaces tabs by spaces so that the caret lines up under the column.
std::string expand_tabs(const std::string& line) {
  std::string out;
  for (char c : line) out += (c == '\t') ? ' ' : c;
  return out;
}

}  // namespace

void set_program(std::string name) { g_program = std::move(name); }
const std::string& program() { return g_program; }
void set_quiet(bool quiet) { g_quiet = quiet; }
bool quiet() { return g_quiet; }

namespace {
void print_one(const Error& error) {
  std::string text = fmt::format("{}: error: {}\n", g_program, error.what());
  if (!error.source_line().empty()) {
    text += fmt::format("  {}\n", expand_tabs(error.source_line()));
    if (error.location().column > 0) {
      text += fmt::format("  {}^\n", std::string(static_cast<size_t>(error.location().column - 1), ' '));
    }
  }
  if (!error.hint().empty()) text += fmt::format("{}: note: {}\n", g_program, error.hint());
  std::fputs(text.c_str(), stderr);
}
}  // namespace

void print_error(const Error& error) {
  print_one(error);
  for (const Error& more : error.more()) print_one(more);
  if (!error.more().empty()) {
    std::fputs(fmt::format("{}: {} errors\n", g_program, error.more().size() + 1).c_str(), stderr);
  }
  std::fflush(stderr);
}

void print_error_message(const std::string& message) {
  std::fputs(fmt::format("{}: error: {}\n", g_program, message).c_str(), stderr);
}

void print_warning(const std::string& message) {
  std::fputs(fmt::format("{}: warning: {}\n", g_program, message).c_str(), stderr);
}

void print_note(const std::string& message) {
  if (g_quiet) return;
  std::fputs(fmt::format("{}: {}\n", g_program, message).c_str(), stderr);
}

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
}

bool interrupted() { return g_interrupted.load(); }

void throw_if_interrupted() {
  if (interrupted()) throw Error(Error::Kind::interrupted, "interrupted");
}

int run_main(const std::string& program, const std::function<int()>& body) {
  set_program(program);
  try {
    return body();
  } catch (const Error& error) {
    if (error.kind() == Error::Kind::interrupted) {
      std::fputs(fmt::format("{}: interrupted\n", g_program).c_str(), stderr);
    } else {
      print_error(error);
    }
    return static_cast<int>(error.exit_code());
  } catch (const std::bad_alloc&) {
    print_error_message("out of memory");
    return static_cast<int>(ExitCode::failure);
  } catch (const std::exception& error) {
    print_error_message(fmt::format("internal error: {} (please report this)", error.what()));
    return static_cast<int>(ExitCode::failure);
  }
}

}  // namespace hare::diag
