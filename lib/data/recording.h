#pragma once

// A recording: one file of sensor samples, as floats per channel, with a
// class label, a segment id and the file line of every sample.

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset_spec.h"

namespace hare::data {

struct Recording {
  std::string path;
  std::string subject;  // "" when unknown; numeric ids without leading zeros ("7")
  double sample_rate_hz = 0.0;
  std::vector<std::string> channels;
  std::vector<std::string> classes;  // label index -> class name
  size_t num_samples = 0;
  std::vector<float> values;       // [num_samples][channels], row-major
  std::vector<int> labels;         // class index per sample, -1 = unlabelled
  std::vector<int> segments;       // dense segment id per sample (0, 1, ...)
  std::vector<int> lines;          // 1-based file line of each sample
  // Where the timestamp column first split a segment ("" if it never did):
  // for messages about segments shorter than expected.
  std::string first_time_split;

  float at(size_t sample, size_t channel) const { return values[sample * channels.size() + channel]; }
  bool labelled() const { return !classes.empty(); }
};

struct ReadOptions {
  // Channels to read, by name; empty = the spec's default channels.
  std::vector<std::string> channels;
  // Keep the null class as a class named "null" (else its rows are dropped,
  // which splits the segment there).
  bool keep_null = false;
};

// Reads a recording. Every bad input is an input Error "file:line: what":
// missing/empty file, ragged rows, non-numeric or non-finite values, unknown
// labels, columns that do not exist.
Recording read_recording(const std::string& path, const DatasetSpec& spec,
                         const ReadOptions& options = {});

// Reads with the spec detected from the file name (or the given spec).
Recording read_recording_auto(const std::string& path, const std::string& spec_name_or_path = "",
                              const ReadOptions& options = {});

// "subject07.tsv.gz" with pattern 'subject0*([0-9]+)' -> "7".
std::string subject_from_filename(const std::string& path, const std::string& pattern);

}  // namespace hare::data
