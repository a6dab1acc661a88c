#include "data/dataset_spec.h"

#include <fnmatch.h>

#include <filesystem>
#include <regex>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/yaml_util.h"
#include "data/embedded_specs.h"

namespace hare::data {

std::vector<std::string> DatasetSpec::class_names() const {
  std::vector<std::string> names;
  for (const auto& entry : classes) names.push_back(entry.second);
  return names;
}

namespace {
// "1" and "1.0" name the same integer label.
bool same_label(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto x = parse_double(a);
  const auto y = parse_double(b);
  return x && y && *x == *y;
}
}  // namespace

std::optional<int> DatasetSpec::class_of(const std::string& raw) const {
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i].first == raw) return static_cast<int>(i);
  }
  for (size_t i = 0; i < classes.size(); ++i) {
    if (same_label(classes[i].first, raw)) return static_cast<int>(i);
  }
  return std::nullopt;
}

bool DatasetSpec::is_null(const std::string& raw) const { return null_label && same_label(raw, *null_label); }

namespace {

const std::vector<std::string> kTopKeys = {
    "format",  "name",           "description",      "files",          "delimiter",
    "header",  "columns",        "sample_rate_hz",   "channels",       "default_channels",
    "label",   "segment_column", "subject_column",   "timestamp_column", "subject_from_filename"};

bool parse_delimiter(const std::string& text, DatasetSpec& spec) {
  const std::string name = to_lower(text);
  spec.whitespace = false;
  if (name == "tab" || text == "\t") spec.delimiter = '\t';
  else if (name == "comma" || text == ",") spec.delimiter = ',';
  else if (name == "semicolon" || text == ";") spec.delimiter = ';';
  else if (name == "space" || text == " ") spec.delimiter = ' ';
  else if (name == "whitespace") spec.whitespace = true;
  else if (text.size() == 1) spec.delimiter = text[0];
  else return false;
  return true;
}

}  // namespace

DatasetSpec parse_dataset_spec(const std::string& text, const std::string& origin) {
  const yaml::Document doc = yaml::load_string(text, origin);
  const YAML::Node& root = doc.root;
  ErrorList errors;
  yaml::check_keys(doc, root, kTopKeys, errors);
  DatasetSpec spec;
  spec.origin = origin;

  // Each field is parsed on its own so that one bad field does not hide the next.
  auto field = [&](const char* key, auto&& parse) {
    try {
      if (YAML::Node node = root[key]) parse(node);
    } catch (Error& error) {
      errors.add(error);
    }
  };
  auto required = [&](const char* key) {
    if (!root[key]) errors.add(yaml::error_at(doc, root, fmt::format("missing key '{}'", key)));
  };
  required("format");
  required("name");
  required("sample_rate_hz");
  required("channels");

  field("format", [&](const YAML::Node& node) {
    const std::string format = yaml::as_string(doc, node, "format");
    if (format != "hare-dataset/1") {
      throw yaml::error_at(doc, node, fmt::format("unsupported format '{}' (expected hare-dataset/1)", format));
    }
  });
  field("name", [&](const YAML::Node& node) { spec.name = yaml::as_string(doc, node, "name"); });
  field("files", [&](const YAML::Node& node) { spec.file_patterns = yaml::as_string_list(doc, node, "files"); });
  field("delimiter", [&](const YAML::Node& node) {
    const std::string value = yaml::as_string(doc, node, "delimiter");
    if (!parse_delimiter(value, spec)) {
      throw yaml::error_at(doc, node,
                           fmt::format("unknown delimiter '{}' (use tab, comma, semicolon, space, "
                                       "whitespace or a single character)", value));
    }
  });
  field("header", [&](const YAML::Node& node) { spec.header = yaml::as_bool(doc, node, "header"); });
  field("columns", [&](const YAML::Node& node) { spec.columns = yaml::as_string_list(doc, node, "columns"); });
  field("sample_rate_hz", [&](const YAML::Node& node) {
    spec.sample_rate_hz = yaml::as_double(doc, node, "sample_rate_hz");
    if (!(spec.sample_rate_hz > 0.0)) throw yaml::error_at(doc, node, "'sample_rate_hz' must be positive");
  });
  field("channels", [&](const YAML::Node& node) {
    spec.channels = yaml::as_string_list(doc, node, "channels");
    if (spec.channels.empty()) throw yaml::error_at(doc, node, "'channels' must list at least one column");
  });
  field("default_channels", [&](const YAML::Node& node) {
    spec.default_channels = yaml::as_string_list(doc, node, "default_channels");
  });
  field("segment_column", [&](const YAML::Node& node) { spec.segment_column = yaml::as_string(doc, node, "segment_column"); });
  field("subject_column", [&](const YAML::Node& node) { spec.subject_column = yaml::as_string(doc, node, "subject_column"); });
  field("timestamp_column", [&](const YAML::Node& node) { spec.timestamp_column = yaml::as_string(doc, node, "timestamp_column"); });
  field("subject_from_filename", [&](const YAML::Node& node) {
    spec.subject_from_filename = yaml::as_string(doc, node, "subject_from_filename");
    try {
      std::regex pattern(spec.subject_from_filename);
      if (pattern.mark_count() != 1) throw yaml::error_at(doc, node, "'subject_from_filename' needs exactly one capture group");
    } catch (const std::regex_error&) {
      throw yaml::error_at(doc, node, "'subject_from_filename' is not a valid regular expression");
    }
  });
  field("label", [&](const YAML::Node& node) {
    if (!node.IsMap()) throw yaml::error_at(doc, node, "'label' must be a mapping with 'column' and 'classes'");
    yaml::check_keys(doc, node, {"column", "classes", "null_label"}, errors);
    spec.label_column = yaml::as_string(doc, yaml::require(doc, node, "column"), "label.column");
    const YAML::Node classes = yaml::require(doc, node, "classes");
    if (!classes.IsMap() || classes.size() == 0) {
      throw yaml::error_at(doc, classes, "'label.classes' must map raw label values to class names");
    }
    for (const auto& entry : classes) {
      const std::string raw = yaml::as_string(doc, entry.first, "label value");
      const std::string name = yaml::as_string(doc, entry.second, "class name");
      for (const auto& existing : spec.classes) {
        if (existing.first == raw) throw yaml::error_at(doc, entry.first, fmt::format("label value '{}' is listed twice", raw));
        if (existing.second == name) throw yaml::error_at(doc, entry.second, fmt::format("class name '{}' is used twice", name));
      }
      spec.classes.emplace_back(raw, name);
    }
    if (YAML::Node null_node = node["null_label"]) spec.null_label = yaml::as_string(doc, null_node, "label.null_label");
  });

  // Cross-field checks: every named column must exist when names are known.
  if (!spec.header && errors.empty()) {
    auto check_column = [&](const std::string& column, const char* key) {
      if (column.empty()) return;
      if (parse_int(column)) return;  // a 1-based index, checked against each row
      bool found = false;
      for (const auto& name : spec.columns) found = found || name == column;
      if (!found) {
        errors.add(yaml::error_at(doc, root[key] ? root[key] : root,
                                  fmt::format("'{}' names column '{}', which is not in 'columns'{}", key,
                                              column, did_you_mean(column, spec.columns))));
      }
    };
    for (const auto& channel : spec.channels) check_column(channel, "channels");
    check_column(spec.label_column, "label");
    check_column(spec.segment_column, "segment_column");
    check_column(spec.subject_column, "subject_column");
    check_column(spec.timestamp_column, "timestamp_column");
  }
  for (const auto& channel : spec.default_channels) {
    bool found = false;
    for (const auto& name : spec.channels) found = found || name == channel;
    if (!found) {
      errors.add(yaml::error_at(doc, root["default_channels"],
                                fmt::format("default channel '{}' is not in 'channels'{}", channel,
                                            did_you_mean(channel, spec.channels))));
    }
  }
  errors.throw_if_any();
  if (spec.default_channels.empty()) spec.default_channels = spec.channels;
  return spec;
}

DatasetSpec load_dataset_spec(const std::string& path) {
  return parse_dataset_spec(read_file(path), path);
}

const std::vector<DatasetSpec>& builtin_dataset_specs() {
  static const std::vector<DatasetSpec> specs = [] {
    std::vector<DatasetSpec> out;
    for (const auto& embedded : embedded_dataset_specs()) {
      out.push_back(parse_dataset_spec(embedded.text, "builtin:" + embedded.file));
    }
    return out;
  }();
  return specs;
}

const DatasetSpec* find_builtin_spec(const std::string& name) {
  for (const auto& spec : builtin_dataset_specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

DatasetSpec detect_dataset_spec(const std::string& path) {
  const std::string file_name = std::filesystem::path(path).filename().string();
  std::vector<std::string> names;
  for (const auto& spec : builtin_dataset_specs()) {
    names.push_back(spec.name);
    for (const auto& pattern : spec.file_patterns) {
      if (fnmatch(pattern.c_str(), file_name.c_str(), 0) == 0) return spec;
    }
  }
  throw input_error(Location{path}, "cannot tell the file's format from its name")
      .with_hint(fmt::format("pass --spec with one of: {}, or a dataset spec YAML (see configs/datasets/)",
                             join(names, ", ")));
}

DatasetSpec resolve_dataset_spec(const std::string& name_or_path) {
  if (const DatasetSpec* spec = find_builtin_spec(name_or_path)) return *spec;
  if (std::filesystem::exists(name_or_path)) return load_dataset_spec(name_or_path);
  std::vector<std::string> names;
  for (const auto& spec : builtin_dataset_specs()) names.push_back(spec.name);
  throw input_error(Location{name_or_path}, "no such dataset spec file or builtin spec{}",
                    did_you_mean(name_or_path, names))
      .with_hint(fmt::format("builtin specs: {}", join(names, ", ")));
}

}  // namespace hare::data
