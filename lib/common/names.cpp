#include "common/names.h"

#include <fmt/format.h>

namespace hare {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '-';
}

// A character as a person reads it in a message: printable ASCII as itself,
// anything else as its byte value.
std::string shown(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return fmt::format("'{}'", c);
  if (c == ' ') return "a space";
  return fmt::format("byte 0x{:02x}", byte);
}

// The name as one line of a message: control and non-ASCII bytes escaped.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte >= 0x20 && byte < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", byte);
  }
  return out;
}

}  // namespace

std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxNameBytes) return fmt::format("it is {} bytes long, more than {}", name.size(), kMaxNameBytes);
  for (char c : name) {
    if (!name_char(c)) return fmt::format("it contains {}", shown(c));
  }
  const char first = name.front();
  if (first == '_' || first == '.' || first == '-') {
    return fmt::format("it starts with {}, not a letter or digit", shown(first));
  }
  if (name.find("..") != std::string_view::npos) return "it contains '..'";
  return std::nullopt;
}

std::string name_rule() {
  return fmt::format("a name is 1 to {} letters, digits, '_', '.' or '-', starting with a letter or digit, without '..'",
                     kMaxNameBytes);
}

std::optional<std::string> name_error(std::string_view name, std::string_view what) {
  const auto problem = name_problem(name);
  if (!problem) return std::nullopt;
  return fmt::format("{} '{}' is not a valid name: {}", what, printable(name), *problem);
}

void check_name(std::string_view name, std::string_view what, Location where) {
  if (const auto message = name_error(name, what)) {
    throw Error(Error::Kind::input, *message, std::move(where), name_rule());
  }
}

}  // namespace hare
