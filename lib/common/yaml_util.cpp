#include "common/yaml_util.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/names.h"
#include "common/strings.h"

namespace hare::yaml {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string line_text(const std::vector<std::string>& lines, int line) {
  if (line <= 0 || static_cast<size_t>(line) > lines.size()) return {};
  return lines[static_cast<size_t>(line - 1)];
}

// yaml-cpp keeps the first of two equal keys and drops the second without
// a word (`sink: gateway` then `sink: edge2` ran on gateway). Every hare
// file goes through load_string, so every format refuses them here, all at
// once, each pointing at the repeat and naming where the first one is.
void check_duplicate_keys(const Document& doc) {
  ErrorList errors;
  std::vector<YAML::Node> pending{doc.root};
  // Bounded: an alias makes a node reachable twice, never endlessly often.
  for (size_t visited = 0; !pending.empty() && visited < 1'000'000; ++visited) {
    const YAML::Node node = pending.back();
    pending.pop_back();
    if (node.IsSequence()) {
      for (const auto& item : node) pending.push_back(item);
      continue;
    }
    if (!node.IsMap()) continue;
    std::map<std::string, YAML::Mark> seen;
    for (const auto& entry : node) {
      if (entry.first.IsScalar()) {
        const auto [first, fresh] = seen.emplace(entry.first.Scalar(), entry.first.Mark());
        if (!fresh) {
          errors.add(error_at(doc, entry.first,
                              fmt::format("duplicate key '{}' (first at line {}, column {}): give each key once",
                                          entry.first.Scalar(), first->second.line + 1, first->second.column + 1)));
        }
      }
      pending.push_back(entry.second);
    }
  }
  errors.throw_if_any();
}

}  // namespace

Document load_string(const std::string& text, const std::string& name) {
  Document doc;
  doc.path = name;
  doc.lines = split_lines(text);
  try {
    doc.root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    Location location{name, e.mark.line + 1, e.mark.column + 1};
    throw input_error(location, "YAML syntax error: {}", e.msg)
        .with_source_line(line_text(doc.lines, location.line));
  }
  if (!doc.root || doc.root.IsNull()) throw input_error(Location{name}, "the file is empty");
  if (!doc.root.IsMap()) {
    throw error_at(doc, doc.root, "expected a YAML mapping (key: value) at the top level");
  }
  check_duplicate_keys(doc);
  return doc;
}

Document load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error(Location{path}, "cannot open file (does it exist?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return load_string(buffer.str(), path);
}

Location where(const Document& doc, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return Location{doc.path};
  return Location{doc.path, mark.line + 1, mark.column + 1};
}

Error error_at(const Document& doc, const YAML::Node& node, std::string message) {
  Location location = where(doc, node);
  std::string line = line_text(doc.lines, location.line);
  return Error(Error::Kind::input, std::move(message), std::move(location))
      .with_source_line(std::move(line));
}

YAML::Node require(const Document& doc, const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) throw error_at(doc, map, fmt::format("expected a mapping containing '{}'", key));
  YAML::Node child = map[key];
  if (!child) throw error_at(doc, map, fmt::format("missing key '{}'", key));
  return child;
}

std::string as_string(const Document& doc, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) throw error_at(doc, node, fmt::format("'{}' must be a string", key));
  return node.Scalar();
}

double as_double(const Document& doc, const YAML::Node& node, const std::string& key) {
  std::optional<double> value;
  if (node.IsScalar()) value = parse_double(node.Scalar());
  if (!value) throw error_at(doc, node, fmt::format("'{}' must be a number", key));
  return *value;
}

long long as_int(const Document& doc, const YAML::Node& node, const std::string& key) {
  std::optional<long long> value;
  if (node.IsScalar()) value = parse_int(node.Scalar());
  if (!value) throw error_at(doc, node, fmt::format("'{}' must be an integer", key));
  return *value;
}

bool as_bool(const Document& doc, const YAML::Node& node, const std::string& key) {
  if (node.IsScalar()) {
    const std::string text = to_lower(node.Scalar());
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
  }
  throw error_at(doc, node, fmt::format("'{}' must be true or false", key));
}

std::vector<std::string> as_string_list(const Document& doc, const YAML::Node& node,
                                        const std::string& key) {
  if (!node.IsSequence()) throw error_at(doc, node, fmt::format("'{}' must be a list", key));
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(as_string(doc, item, key + " item"));
  return out;
}

std::vector<double> as_double_list(const Document& doc, const YAML::Node& node,
                                   const std::string& key) {
  if (!node.IsSequence()) throw error_at(doc, node, fmt::format("'{}' must be a list", key));
  std::vector<double> out;
  for (const auto& item : node) out.push_back(as_double(doc, item, key + " item"));
  return out;
}

void check_keys(const Document& doc, const YAML::Node& map, const std::vector<std::string>& allowed,
                ErrorList& errors) {
  if (!map.IsMap()) return;
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    bool known = false;
    for (const auto& name : allowed) known = known || name == key;
    if (!known) {
      errors.add(error_at(doc, entry.first,
                          fmt::format("unknown key '{}'{}", key, did_you_mean(key, allowed))));
    }
  }
}

Reader::Reader(const std::string& text, const std::string& origin, const std::string& format, const std::string& what)
    : doc_(load_string(text, origin)) {
  expect_format(format, what);
}

void Reader::expect_format(const std::string& format, const std::string& what) {
  required(root(), "format", [&](const YAML::Node& node) {
    const std::string found = str(node, "format");
    if (found != format) {
      throw error(node, fmt::format("unsupported {} format '{}' (expected {})", what, found, format));
    }
  });
  finish();
}

void Reader::keys(const YAML::Node& map, const std::vector<std::string>& allowed) {
  if (map && map.IsMap()) check_keys(doc_, map, allowed, errors_);
}

YAML::Node Reader::section(const YAML::Node& map, const std::string& key) {
  if (!readable(map)) return {};
  const YAML::Node node = map[key];
  if (!node) {
    add(map, fmt::format("missing key '{}'", key));
    return {};
  }
  return optional_section(map, key);
}

YAML::Node Reader::optional_section(const YAML::Node& map, const std::string& key) {
  if (!readable(map)) return {};
  const YAML::Node node = map[key];
  if (!node) return {};
  if (!node.IsMap()) {
    add(node, fmt::format("'{}' must be a mapping", key));
    return {};
  }
  return node;
}

double Reader::positive(const YAML::Node& n, const std::string& key, bool allow_zero) const {
  const double value = number(n, key);
  const bool ok = std::isfinite(value) && (allow_zero ? value >= 0.0 : value > 0.0);
  if (!ok) throw error(n, fmt::format("'{}' must be {}", key, allow_zero ? "a non-negative number" : "positive"));
  return value;
}

long long Reader::at_least(const YAML::Node& n, const std::string& key, long long min) const {
  const long long value = integer(n, key);
  if (value < min) throw error(n, fmt::format("'{}' must be at least {}", key, min));
  return value;
}

long long Reader::in_range(const YAML::Node& n, const std::string& key, long long min, long long max) const {
  const long long value = integer(n, key);
  if (value < min) throw error(n, fmt::format("'{}' must be at least {}", key, min));
  if (value > max) throw error(n, fmt::format("'{}' must be at most {}", key, max));
  return value;
}

std::string Reader::name(const YAML::Node& n, const std::string& what) const {
  std::string value = str(n, what);
  if (auto message = name_error(value, what)) throw error(n, std::move(*message)).with_hint(name_rule());
  return value;
}

std::string Reader::relative_path(const YAML::Node& n, const std::string& key) const {
  std::string value = str(n, key);
  if (const auto problem = relative_path_problem(value)) {
    throw error(n, fmt::format("'{}' must be a relative path that stays inside the directory, and '{}' is not: {}", key,
                               value, *problem));
  }
  return value;
}

Reader::FieldParser Reader::into_name(std::string& out, std::string what) {
  return [this, &out, what = std::move(what)](const YAML::Node& n) { out = name(n, what); };
}

Reader::FieldParser Reader::into_relative_path(std::string& out, std::string key) {
  return [this, &out, key = std::move(key)](const YAML::Node& n) { out = relative_path(n, key); };
}

Reader::FieldParser Reader::into(std::string& out, std::string key) {
  return [this, &out, key = std::move(key)](const YAML::Node& n) { out = str(n, key); };
}

Reader::FieldParser Reader::into(std::vector<std::string>& out, std::string key) {
  return [this, &out, key = std::move(key)](const YAML::Node& n) { out = strings(n, key); };
}

Reader::FieldParser Reader::into(double& out, std::string key) {
  return [this, &out, key = std::move(key)](const YAML::Node& n) { out = positive(n, key, /*allow_zero=*/true); };
}

std::string to_text(const YAML::Emitter& out) {
  if (!out.good()) throw failure("cannot write YAML: {}", out.GetLastError());
  return std::string(out.c_str()) + "\n";
}


void emit_json(YAML::Emitter& out, const nlohmann::ordered_json& value) {
  using Type = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Type::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        emit_json(out, item);
      }
      out << YAML::EndMap;
      return;
    case Type::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) emit_json(out, item);
      out << YAML::EndSeq;
      return;
    case Type::string: out << value.get_ref<const std::string&>(); return;
    case Type::boolean: out << value.get<bool>(); return;
    case Type::number_integer: out << value.get<long long>(); return;
    case Type::number_unsigned: out << value.get<unsigned long long>(); return;
    case Type::number_float: out << value.get<double>(); return;
    case Type::null:
    case Type::discarded: out << YAML::Null; return;
    case Type::binary: break;
  }
  throw failure("a record holds binary data, which has no YAML form");
}

std::string exact(double value) { return fmt::format("{}", value); }

}  // namespace hare::yaml
