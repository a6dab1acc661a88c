#pragma once

// Names a user gives in configs and on the command line that hare turns
// into file names, directory names, cgroups and words of remote commands:
// nodes, device types (emulated and profiled), models. One grammar for all,
// so that a name is safe wherever it lands:
//
//   name = [A-Za-z0-9] [A-Za-z0-9_.-]{0,63}     and no ".." anywhere
//
// That is 1 to 64 bytes of ASCII letters, digits, '_', '.' and '-', starting
// with a letter or digit: no '/', no blank, no shell metacharacter, never
// "." or "..", never a leading '-' (an option to a command). Examples: gw,
// edge-1, pi4_class, hare-cnn, amd-epyc-2c. Refused: "x;touch y" (';' and
// ' '), "../victim" ('.' first, ".."), "a..b", "-rf".
// Free text that never becomes a path (a cluster's `name:`, a description)
// is not a name.

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hare {

constexpr size_t kMaxNameBytes = 64;

// Why `name` is not a name, e.g. "contains ';'"; nothing if it is one.
std::optional<std::string> name_problem(std::string_view name);

// "<what> '<name>' is not a valid name: <problem>" (`what` is e.g. "node
// name"), or nothing for a valid name. Control bytes are shown escaped, so
// the message stays one line.
std::optional<std::string> name_error(std::string_view name, std::string_view what);

// The rule in one line, for hints and help texts.
std::string name_rule();

// Throws name_error as an input Error at `where`, with the rule as its hint.
void check_name(std::string_view name, std::string_view what, Location where = {});

}  // namespace hare
