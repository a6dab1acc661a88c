#include "data/recording.h"

#include <cmath>
#include <filesystem>

#include <re2/re2.h>

#include "common/error.h"
#include "common/strings.h"
#include "data/line_reader.h"

namespace hare::data {
namespace {

// Where each needed field sits in a row (0-based), resolved from the header
// or the spec's column names.
struct ColumnMap {
  std::vector<size_t> channels;
  long label = -1;
  long segment = -1;
  long subject = -1;
  long timestamp = -1;
  size_t num_fields = 0;
};

std::vector<std::string_view> split_row(std::string_view line, const DatasetSpec& spec) {
  if (spec.whitespace) return split_whitespace(line);
  return split(line, spec.delimiter);
}

std::string normalize_subject(std::string subject) {
  subject = std::string(trim(subject));
  if (auto number = parse_int(subject)) return std::to_string(*number);
  return subject;
}

}  // namespace

std::string subject_from_filename(const std::string& path, const std::string& pattern) {
  if (pattern.empty()) return {};
  const std::string name = std::filesystem::path(path).filename().string();
  // RE2: linear in the name's length (the spec reader checked the pattern).
  const RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) throw input_error(Location{path}, "bad subject pattern '{}': {}", pattern, re.error());
  std::string subject;
  if (re.NumberOfCapturingGroups() >= 1 && RE2::PartialMatch(name, re, &subject)) return normalize_subject(subject);
  return {};
}

Recording read_recording(const std::string& path, const DatasetSpec& spec, const ReadOptions& options) {
  LineReader reader(path);
  Recording rec;
  rec.path = path;
  rec.sample_rate_hz = spec.sample_rate_hz;
  rec.channels = options.channels.empty() ? spec.default_channels : options.channels;
  const bool has_labels = !spec.label_column.empty();
  if (has_labels) {
    if (options.keep_null && spec.null_label) rec.classes.push_back("null");
    for (const auto& name : spec.class_names()) rec.classes.push_back(name);
  }
  for (const auto& channel : rec.channels) {
    bool known = false;
    for (const auto& name : spec.channels) known = known || name == channel;
    if (!known) {
      throw input_error(Location{path}, "channel '{}' is not a channel of dataset spec '{}'{}", channel,
                        spec.name, did_you_mean(channel, spec.channels))
          .with_hint(fmt::format("available channels: {}", join(spec.channels, ", ")));
    }
  }

  std::string_view line;
  // Column names: from the header row, or from the spec.
  std::vector<std::string> names = spec.columns;
  int header_line = 0;
  if (spec.header) {
    bool got = false;
    while ((got = reader.next(line))) {
      if (!trim(line).empty()) break;
    }
    if (!got) throw input_error(Location{path}, "the file is empty (expected a header row)");
    header_line = reader.line_number();
    names.clear();
    for (auto field : split_row(line, spec)) names.emplace_back(trim(field));
  }

  ColumnMap map;
  auto resolve = [&](const std::string& column, const char* role) -> size_t {
    if (auto index = parse_int(column); index && names.empty()) {
      if (*index < 1) throw input_error(Location{spec.origin}, "{} column index {} must be >= 1", role, *index);
      return static_cast<size_t>(*index - 1);
    }
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == column) return i;
    }
    Location location = spec.header ? Location{path, header_line} : Location{spec.origin};
    throw input_error(location, "{} column '{}' (from dataset spec '{}') does not exist in the file{}", role,
                      column, spec.name, did_you_mean(column, names))
        .with_hint(fmt::format("columns found: {}", join(names, ", ")));
  };
  for (const auto& channel : rec.channels) map.channels.push_back(resolve(channel, "channel"));
  if (has_labels) map.label = static_cast<long>(resolve(spec.label_column, "label"));
  if (!spec.segment_column.empty()) map.segment = static_cast<long>(resolve(spec.segment_column, "segment"));
  if (!spec.subject_column.empty()) map.subject = static_cast<long>(resolve(spec.subject_column, "subject"));
  if (!spec.timestamp_column.empty()) map.timestamp = static_cast<long>(resolve(spec.timestamp_column, "timestamp"));
  map.num_fields = names.size();

  rec.subject = subject_from_filename(path, spec.subject_from_filename);

  const size_t num_channels = rec.channels.size();
  const double period_s = 1.0 / spec.sample_rate_hz;
  const double unit_s = spec.timestamp_unit_s();
  double stamp_s = 0.0;     // the last new timestamp, in seconds
  long since_stamp = 0;     // samples since it, itself included
  std::string previous_segment;
  std::string previous_subject;
  bool gap = true;  // a dropped row or the start of the file opens a new segment
  int segment = -1;

  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    const int line_number = reader.line_number();
    const auto fields = split_row(line, spec);
    if (map.num_fields == 0) map.num_fields = fields.size();  // no names: the first row decides
    if (fields.size() != map.num_fields) {
      throw input_error(Location{path, line_number}, "expected {} fields, found {} (ragged row)", map.num_fields,
                        fields.size());
    }
    auto column_name = [&](size_t index) {
      return index < names.size() ? fmt::format("'{}'", names[index]) : fmt::format("{}", index + 1);
    };

    // Label first: a null row is dropped before its values are checked.
    int label = -1;
    if (has_labels) {
      const std::string raw(trim(fields[static_cast<size_t>(map.label)]));
      const bool is_null = spec.is_null(raw);
      if (is_null && !options.keep_null) {
        gap = true;
        continue;
      }
      if (is_null) {
        label = 0;
      } else if (auto index = spec.class_of(raw)) {
        label = *index + ((options.keep_null && spec.null_label) ? 1 : 0);
      } else {
        throw input_error(Location{path, line_number}, "unknown label '{}' in column {}", raw,
                          column_name(static_cast<size_t>(map.label)))
            .with_hint(fmt::format("dataset spec '{}' knows the labels: {}", spec.name, [&] {
              std::vector<std::string> raws;
              for (const auto& entry : spec.classes) raws.push_back(entry.first);
              if (spec.null_label) raws.push_back(*spec.null_label + " (null)");
              return join(raws, ", ");
            }()));
      }
    }

    for (size_t c = 0; c < num_channels; ++c) {
      const size_t index = map.channels[c];
      const std::string_view text = fields[index];
      auto value = parse_double(text);
      if (!value) {
        throw input_error(Location{path, line_number}, "column {}: '{}' is not a number", column_name(index),
                          std::string(trim(text)));
      }
      if (!std::isfinite(*value)) {
        throw input_error(Location{path, line_number}, "column {}: value '{}' is not finite", column_name(index),
                          std::string(trim(text)));
      }
      rec.values.push_back(static_cast<float>(*value));
    }

    if (map.segment >= 0) {
      const std::string value(trim(fields[static_cast<size_t>(map.segment)]));
      if (value != previous_segment) gap = true;
      previous_segment = value;
    }
    if (map.subject >= 0) {
      const std::string value = normalize_subject(std::string(fields[static_cast<size_t>(map.subject)]));
      if (!rec.subject.empty() && !previous_subject.empty() && value != previous_subject) {
        throw input_error(Location{path, line_number}, "subject changes from '{}' to '{}' within one file",
                          previous_subject, value)
            .with_hint("split the file per subject: windows and splits are per subject");
      }
      if (value != previous_subject) gap = true;
      previous_subject = value;
      rec.subject = value;
    }
    if (map.timestamp >= 0) {
      const size_t column = static_cast<size_t>(map.timestamp);
      auto stamp = parse_double(fields[column]);
      if (!stamp || !std::isfinite(*stamp)) {
        throw input_error(Location{path, line_number}, "column {}: timestamp '{}' is not a number", column_name(column),
                          std::string(trim(fields[column])));
      }
      const double time_s = *stamp * unit_s;
      if (!gap && since_stamp > 0 && time_s != stamp_s) {
        const bool back = time_s < stamp_s;
        if (back || time_s - stamp_s > (static_cast<double>(since_stamp) + 0.5) * period_s) {
          gap = true;
          if (rec.first_time_split.empty()) {
            rec.first_time_split = fmt::format(
                "line {}: timestamp column {} {} from {} to {} ({}), {} sample(s) after the last new stamp",
                line_number, column_name(column), back ? "goes back" : "jumps", stamp_s / unit_s, *stamp,
                spec.timestamp_unit, since_stamp);
          }
        }
      }
      if (gap || time_s != stamp_s) {
        stamp_s = time_s;
        since_stamp = 0;
      }
      ++since_stamp;
    }
    if (gap) {
      ++segment;
      gap = false;
    }
    rec.labels.push_back(label);
    rec.segments.push_back(segment);
    rec.lines.push_back(line_number);
    ++rec.num_samples;
  }
  if (rec.num_samples == 0) {
    throw input_error(Location{path}, spec.header ? "no data rows after the header" : "the file is empty");
  }
  return rec;
}

Recording read_recording_auto(const std::string& path, const std::string& spec_name_or_path,
                              const ReadOptions& options) {
  const DatasetSpec spec =
      spec_name_or_path.empty() ? detect_dataset_spec(path) : resolve_dataset_spec(spec_name_or_path);
  return read_recording(path, spec, options);
}

}  // namespace hare::data
