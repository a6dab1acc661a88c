#pragma once

// What the tools' black-box tests read of a run: the first line of stderr
// (what a user sees first), and the shape of every usage error.

#include <catch2/catch.hpp>

#include <string>

#include "test_util.h"

namespace hare::test {

inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Exit 2, this first line, and the pointer to --help.
inline void check_usage_error(const RunResult& result, const std::string& line) {
  INFO(result.err);
  CHECK(result.exit_code == 2);
  CHECK(first_line(result.err) == line);
  CHECK_THAT(result.err, Catch::Contains("Run with --help for usage."));
}

}  // namespace hare::test
