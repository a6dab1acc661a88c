#include "data/dataset_spec.h"

#include <algorithm>

#include <fnmatch.h>

#include <filesystem>

#include <re2/re2.h>

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
    "label",   "segment_column", "subject_column",   "timestamp_column", "timestamp_unit",
    "subject_from_filename"};

// The units a timestamp column may be declared in, in seconds.
const std::vector<std::pair<std::string, double>> kTimestampUnits = {{"s", 1.0}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}};

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

std::string delimiter_name(const DatasetSpec& spec) {
  if (spec.whitespace) return "whitespace";
  switch (spec.delimiter) {
    case '\t': return "tab";
    case ',': return "comma";
    case ';': return "semicolon";
    case ' ': return "space";
    default: return std::string(1, spec.delimiter);
  }
}

}  // namespace

double DatasetSpec::timestamp_unit_s() const {
  for (const auto& [unit, seconds] : kTimestampUnits) {
    if (unit == timestamp_unit) return seconds;
  }
  return 1.0;  // parse_dataset_spec admits only the units above
}


DatasetSpec parse_dataset_spec(const std::string& text, const std::string& origin) {
  yaml::Reader r(text, origin, "hare-dataset/1", "dataset spec");
  const YAML::Node& root = r.root();
  r.keys(root, kTopKeys);
  DatasetSpec spec;
  spec.origin = origin;
  r.required(root, "name", r.into(spec.name, "name"));
  r.optional(root, "description", r.into(spec.description, "description"));
  r.optional(root, "files", r.into(spec.file_patterns, "files"));
  r.optional(root, "delimiter", [&](const YAML::Node& node) {
    const std::string value = r.str(node, "delimiter");
    if (!parse_delimiter(value, spec)) {
      throw r.error(node, fmt::format("unknown delimiter '{}' (use tab, comma, semicolon, space, "
                                      "whitespace or a single character)", value));
    }
  });
  r.optional(root, "header", [&](const YAML::Node& node) { spec.header = r.boolean(node, "header"); });
  r.optional(root, "columns", r.into(spec.columns, "columns"));
  r.required(root, "sample_rate_hz", [&](const YAML::Node& node) { spec.sample_rate_hz = r.positive(node, "sample_rate_hz"); });
  r.required(root, "channels", [&](const YAML::Node& node) {
    spec.channels = r.strings(node, "channels");
    if (spec.channels.empty()) throw r.error(node, "'channels' must list at least one column");
  });
  r.optional(root, "default_channels", r.into(spec.default_channels, "default_channels"));
  r.optional(root, "segment_column", r.into(spec.segment_column, "segment_column"));
  r.optional(root, "subject_column", r.into(spec.subject_column, "subject_column"));
  r.optional(root, "timestamp_column", r.into(spec.timestamp_column, "timestamp_column"));
  r.optional(root, "timestamp_unit", [&](const YAML::Node& node) {
    spec.timestamp_unit = r.str(node, "timestamp_unit");
    std::vector<std::string> units;
    for (const auto& unit : kTimestampUnits) units.push_back(unit.first);
    if (std::find(units.begin(), units.end(), spec.timestamp_unit) == units.end()) {
      throw r.error(node, fmt::format("timestamp_unit '{}' is not one of {}{}", spec.timestamp_unit, join(units, ", "),
                                      did_you_mean(spec.timestamp_unit, units)));
    }
    if (!root["timestamp_column"]) throw r.error(node, "timestamp_unit without a timestamp_column");
  });
  r.optional(root, "subject_from_filename", [&](const YAML::Node& node) {
    spec.subject_from_filename = r.str(node, "subject_from_filename");
    // RE2 matches in time linear in the name's length, whatever the pattern
    // (std::regex backtracked for minutes on '^(?:a|aa)*(c)'); it refuses
    // what it cannot do so, such as backreferences.
    const RE2 pattern(spec.subject_from_filename, RE2::Quiet);
    if (!pattern.ok()) {
      throw r.error(node, fmt::format("'subject_from_filename' is not a valid RE2 regular expression: {}", pattern.error()))
          .with_hint("RE2 syntax: https://github.com/google/re2/wiki/Syntax (no backreferences or lookaround)");
    }
    if (pattern.NumberOfCapturingGroups() != 1) {
      throw r.error(node, fmt::format("'subject_from_filename' needs exactly one capture group (it has {})",
                                      pattern.NumberOfCapturingGroups()))
          .with_hint("capture the subject's id, e.g. 'subject0*([0-9]+)'; group other parts with (?:...)");
    }
  });
  YAML::Node label;
  if (root["label"] && !root["label"].IsMap()) {
    r.add(root["label"], "'label' must be a mapping with 'column' and 'classes'");
  } else {
    label = r.optional_section(root, "label");
  }
  r.keys(label, {"column", "classes", "null_label"});
  r.required(label, "column", r.into(spec.label_column, "label.column"));
  r.required(label, "classes", [&](const YAML::Node& classes) {
    if (!classes.IsMap() || classes.size() == 0) {
      throw r.error(classes, "'label.classes' must map raw label values to class names");
    }
    for (const auto& entry : classes) {
      const std::string raw = r.str(entry.first, "label value");
      const std::string name = r.str(entry.second, "class name");
      for (const auto& existing : spec.classes) {
        if (existing.first == raw) throw r.error(entry.first, fmt::format("label value '{}' is listed twice", raw));
        if (existing.second == name) throw r.error(entry.second, fmt::format("class name '{}' is used twice", name));
      }
      spec.classes.emplace_back(raw, name);
    }
  });
  r.optional(label, "null_label", [&](const YAML::Node& n) {
    spec.null_label = r.str(n, "label.null_label");
    // A null value that is also a class's would drop that class's rows (1
    // and 1.0 are the same label, as in class_of).
    for (const auto& [raw, name] : spec.classes) {
      if (same_label(raw, *spec.null_label)) {
        throw r.error(n, fmt::format("null_label '{}' is also the label of class '{}'", *spec.null_label, name));
      }
    }
  });

  // Cross-field checks: every named column must exist when names are known.
  if (!spec.header && r.ok()) {
    auto check_column = [&](const std::string& column, const char* key) {
      if (column.empty()) return;
      if (parse_int(column)) return;  // a 1-based index, checked against each row
      bool found = false;
      for (const auto& name : spec.columns) found = found || name == column;
      if (!found) {
        r.add(root[key] ? root[key] : root, fmt::format("'{}' names column '{}', which is not in 'columns'{}", key, column,
                                                        did_you_mean(column, spec.columns)));
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
      r.add(root["default_channels"], fmt::format("default channel '{}' is not in 'channels'{}", channel,
                                                  did_you_mean(channel, spec.channels)));
    }
  }
  r.finish();
  if (spec.default_channels.empty()) spec.default_channels = spec.channels;
  return spec;
}

DatasetSpec read_dataset_spec(const std::string& path) { return parse_dataset_spec(read_file(path), path); }

std::string dataset_spec_to_yaml(const DatasetSpec& spec) {
  return yaml::write_document("hare-dataset/1", [&](YAML::Emitter& out) {
    out << YAML::Key << "name" << YAML::Value << spec.name;
    if (!spec.description.empty()) out << YAML::Key << "description" << YAML::Value << spec.description;
    if (!spec.file_patterns.empty()) out << YAML::Key << "files" << YAML::Value << YAML::Flow << spec.file_patterns;
    out << YAML::Key << "delimiter" << YAML::Value << delimiter_name(spec);
    out << YAML::Key << "header" << YAML::Value << spec.header;
    if (!spec.columns.empty()) out << YAML::Key << "columns" << YAML::Value << YAML::Flow << spec.columns;
    out << YAML::Key << "sample_rate_hz" << YAML::Value << yaml::exact(spec.sample_rate_hz);
    out << YAML::Key << "channels" << YAML::Value << YAML::Flow << spec.channels;
    out << YAML::Key << "default_channels" << YAML::Value << YAML::Flow << spec.default_channels;
    if (!spec.label_column.empty()) {
      out << YAML::Key << "label" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "column" << YAML::Value << spec.label_column;
      out << YAML::Key << "classes" << YAML::Value << YAML::BeginMap;
      for (const auto& [raw, name] : spec.classes) out << YAML::Key << raw << YAML::Value << name;
      out << YAML::EndMap;
      if (spec.null_label) out << YAML::Key << "null_label" << YAML::Value << *spec.null_label;
      out << YAML::EndMap;
    }
    const std::pair<const char*, const std::string*> optional_columns[] = {
        {"segment_column", &spec.segment_column},
        {"subject_column", &spec.subject_column},
        {"timestamp_column", &spec.timestamp_column},
        {"subject_from_filename", &spec.subject_from_filename}};
    for (const auto& [key, value] : optional_columns) {
      if (!value->empty()) out << YAML::Key << key << YAML::Value << *value;
      if (value == &spec.timestamp_column && !value->empty() && spec.timestamp_unit != "s") {
        out << YAML::Key << "timestamp_unit" << YAML::Value << spec.timestamp_unit;
      }
    }
  });
}

void write_dataset_spec(const std::string& path, const DatasetSpec& spec) {
  write_file_atomic(path, dataset_spec_to_yaml(spec));
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
  if (std::filesystem::exists(name_or_path)) return read_dataset_spec(name_or_path);
  std::vector<std::string> names;
  for (const auto& spec : builtin_dataset_specs()) names.push_back(spec.name);
  throw input_error(Location{name_or_path}, "no such dataset spec file or builtin spec{}",
                    did_you_mean(name_or_path, names))
      .with_hint(fmt::format("builtin specs: {}", join(names, ", ")));
}

}  // namespace hare::data
