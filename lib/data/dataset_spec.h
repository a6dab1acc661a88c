#pragma once

// A dataset spec describes how a delimited-text recording maps onto sensor
// channels, labels, segments and subjects (configs/datasets/*.yaml, format
// hare-dataset/1). The shipped specs are also compiled into the library so a
// tool can read the shipped formats from any working directory.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hare::data {

struct DatasetSpec {
  std::string name;
  std::string description;
  std::string origin;                    // the spec's file, or "builtin:<name>"
  std::vector<std::string> file_patterns;  // glob patterns on the file name, for detection
  // One delimiter character, or whitespace == true for runs of blanks.
  char delimiter = '\t';
  bool whitespace = false;
  bool header = true;
  // Column names when the file has no header row (may be empty: then columns
  // are referred to by 1-based index, "3").
  std::vector<std::string> columns;
  double sample_rate_hz = 0.0;
  std::vector<std::string> channels;          // every channel column that may be used
  std::vector<std::string> default_channels;  // the ones used unless asked otherwise
  // Labels: optional. Raw value -> class name, in class-index order.
  std::string label_column;
  std::vector<std::pair<std::string, std::string>> classes;
  std::optional<std::string> null_label;  // raw value of the null class, if any
  std::string segment_column;             // optional
  std::string subject_column;             // optional
  // Optional. A gap in time splits a segment: a stamp more than (n + 0.5)
  // sample periods after the last new stamp, n the samples since it (1.5
  // periods for a stamp per sample; packetized sensors stamp several samples
  // with one time, and repeated stamps continue the segment). A stamp that
  // goes back in time splits it too.
  std::string timestamp_column;
  std::string timestamp_unit = "s";       // s, ms, us or ns
  double timestamp_unit_s() const;        // seconds per unit
  std::string subject_from_filename;      // optional regex with one capture group

  std::vector<std::string> class_names() const;
  // The class index of a raw label value, or nothing.
  std::optional<int> class_of(const std::string& raw) const;
  // Whether a raw label value is the null class.
  bool is_null(const std::string& raw) const;
};

// Parses and validates a spec; every problem is reported with file:line:col
// (the idiom of common/yaml_util.h). `origin` is not written.
DatasetSpec parse_dataset_spec(const std::string& text, const std::string& origin);
DatasetSpec read_dataset_spec(const std::string& path);
std::string dataset_spec_to_yaml(const DatasetSpec& spec);
void write_dataset_spec(const std::string& path, const DatasetSpec& spec);

// The specs shipped in configs/datasets/, compiled in.
const std::vector<DatasetSpec>& builtin_dataset_specs();
const DatasetSpec* find_builtin_spec(const std::string& name);

// Picks the builtin spec whose file patterns match the file's name (and, for
// files with a header, whose columns are all present). Throws an input error
// naming the file and suggesting --spec when none fits.
DatasetSpec detect_dataset_spec(const std::string& path);

// Resolves --spec: a builtin name ("mhealth-tsv") or a path to a YAML spec.
DatasetSpec resolve_dataset_spec(const std::string& name_or_path);

}  // namespace hare::data
