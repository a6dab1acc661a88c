#pragma once

// User-facing errors. Every failure a user can cause (bad file, bad flag,
// bad config) is a hare::Error that names where it happened (file:line:col
// when known) and, where we can tell, what to do about it. The tools map the
// error's kind to an exit code; nothing else decides exit codes.

#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace hare {

enum class ExitCode : int { ok = 0, failure = 1, usage = 2, interrupted = 130 };

// A position in a text file; line and column are 1-based, 0 means unknown.
struct Location {
  std::string file;
  int line = 0;
  int column = 0;

  // "file:line:col", "file:line", "file" or "" depending on what is known.
  std::string str() const;
};

class Error : public std::runtime_error {
 public:
  enum class Kind {
    failure,      // something went wrong while doing valid work  -> exit 1
    input,        // bad input: file, config, flag value          -> exit 2
    interrupted,  // SIGINT/SIGTERM                                -> exit 130
  };

  Error(Kind kind, std::string message, Location location = {}, std::string hint = {});

  Kind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  const Location& location() const { return location_; }
  const std::string& hint() const { return hint_; }
  // The offending source line, shown under the message with a caret.
  const std::string& source_line() const { return source_line_; }
  Error& with_source_line(std::string line);
  Error& with_hint(std::string hint);

  ExitCode exit_code() const;

  // Validators collect every error of a phase; the first is this error, the
  // rest ride along here so that all of them are printed at once.
  const std::vector<Error>& more() const { return more_; }
  Error& with_more(std::vector<Error> more);

 private:
  Kind kind_;
  std::string message_;
  Location location_;
  std::string hint_;
  std::string source_line_;
  std::vector<Error> more_;
};

// Collects the errors of one validation phase.
class ErrorList {
 public:
  void add(Error error) { errors_.push_back(std::move(error)); }
  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  // Throws the first error carrying all the others, if there are any.
  void throw_if_any();

 private:
  std::vector<Error> errors_;
};

// Bad input at a known place: exit code 2.
template <typename... Args>
Error input_error(Location location, fmt::format_string<Args...> format, Args&&... args) {
  return Error(Error::Kind::input, fmt::format(format, std::forward<Args>(args)...),
               std::move(location));
}

// Something failed while doing valid work: exit code 1.
template <typename... Args>
Error failure(fmt::format_string<Args...> format, Args&&... args) {
  return Error(Error::Kind::failure, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace hare
