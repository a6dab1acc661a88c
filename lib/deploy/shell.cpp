#include "deploy/shell.h"

namespace hare::deploy {

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string home_path(const std::vector<std::string>& parts) {
  std::string relative;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    if (!relative.empty()) relative += '/';
    relative += part;
  }
  return "\"$HOME\"/" + shell_quote(relative);
}

std::string shell_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ' ';
    out += shell_quote(word);
  }
  return out;
}

}  // namespace hare::deploy
