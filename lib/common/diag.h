#pragma once

// Diagnostics on stderr in one voice: "hare-train: error: file:line:col: ...",
// then the offending line with a caret under the column, then a hint.
// stdout is reserved for results so that a tool's output can be piped.

#include <functional>
#include <string>

#include <fmt/format.h>

#include "common/error.h"

namespace hare::diag {

void set_program(std::string name);
const std::string& program();

// When quiet, notes (progress chatter) are suppressed; errors and warnings never are.
void set_quiet(bool quiet);
bool quiet();

void print_error(const Error& error);
void print_error_message(const std::string& message);
void print_warning(const std::string& message);
void print_note(const std::string& message);

template <typename... Args>
void warning(fmt::format_string<Args...> format, Args&&... args) {
  print_warning(fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void note(fmt::format_string<Args...> format, Args&&... args) {
  print_note(fmt::format(format, std::forward<Args>(args)...));
}

// Set by SIGINT/SIGTERM once install_interrupt_handler() ran; long loops poll
// it and throw an interrupted Error so that cleanup runs on the way out.
void install_interrupt_handler();
bool interrupted();
void throw_if_interrupted();

// Runs a tool's body, printing any error and returning the exit code.
int run_main(const std::string& program, const std::function<int()>& body);

}  // namespace hare::diag
