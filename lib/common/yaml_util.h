#pragma once

// yaml-cpp with errors that point at the text. A Document keeps the file's
// lines so that an error can show the offending line and a caret; the typed
// getters turn a wrong type or a missing key into "file:line:col: ..." with
// the key's name and what was expected.

#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/error.h"

namespace hare::yaml {

struct Document {
  std::string path;
  std::vector<std::string> lines;
  YAML::Node root;
};

// Throws an input Error (exit 2) for a missing/unreadable file, an empty
// document, or a YAML syntax error (with the position yaml-cpp reports).
Document load_file(const std::string& path);
Document load_string(const std::string& text, const std::string& name);

Location where(const Document& doc, const YAML::Node& node);
// An input error at the node's position, carrying its source line.
Error error_at(const Document& doc, const YAML::Node& node, std::string message);

// A map's child by key; Required throws "missing key 'k'" at the map.
YAML::Node require(const Document& doc, const YAML::Node& map, const std::string& key);

// Converts a scalar, or throws "'key' must be <what>" at the node.
std::string as_string(const Document& doc, const YAML::Node& node, const std::string& key);
double as_double(const Document& doc, const YAML::Node& node, const std::string& key);
long long as_int(const Document& doc, const YAML::Node& node, const std::string& key);
bool as_bool(const Document& doc, const YAML::Node& node, const std::string& key);
std::vector<std::string> as_string_list(const Document& doc, const YAML::Node& node,
                                        const std::string& key);
std::vector<double> as_double_list(const Document& doc, const YAML::Node& node,
                                   const std::string& key);

// Reports keys of `map` not in `allowed`, each with a "did you mean" hint.
void check_keys(const Document& doc, const YAML::Node& map, const std::vector<std::string>& allowed,
                ErrorList& errors);

}  // namespace hare::yaml
