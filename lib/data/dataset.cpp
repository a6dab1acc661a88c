#include "data/dataset.h"

#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "data/dataset_spec.h"
#include "data/normalization.h"

namespace hare::data {

std::vector<std::string> collect_files(const std::vector<std::string>& paths, const std::string& spec) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw input_error(Location{path}, "no such file or directory");
    if (!fs::is_directory(path, ec)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string name = entry.path().filename().string();
      bool recognized = !spec.empty();
      for (const auto& builtin : builtin_dataset_specs()) {
        for (const auto& pattern : builtin.file_patterns) {
          recognized = recognized || fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
        }
      }
      if (recognized && name.front() != '.') found.push_back(entry.path().string());
    }
    if (found.empty()) {
      throw input_error(Location{path}, "the directory holds no recordings of a known format")
          .with_hint("name the files, or give --spec");
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  if (files.empty()) throw input_error(Location{}, "no recordings given");
  return files;
}

std::vector<Recording> read_recordings(const std::vector<std::string>& files, const std::string& spec,
                                       const ReadOptions& options) {
  std::vector<Recording> recordings;
  recordings.reserve(files.size());
  for (const auto& file : files) recordings.push_back(read_recording_auto(file, spec, options));
  return recordings;
}

WindowSet make_all_windows(const std::vector<Recording>& recordings, const WindowOptions& options,
                           WindowStats* stats) {
  WindowSet all;
  for (size_t i = 0; i < recordings.size(); ++i) {
    all.append(make_windows(recordings[i], options, static_cast<int>(i), stats));
  }
  if (all.size() == 0) {
    all.channels = recordings.empty() ? 0 : static_cast<int>(recordings.front().channels.size());
    all.window = options.window_samples;
  }
  return all;
}

std::vector<Recording> read_for_card(const ModelCard& card, const std::vector<std::string>& files,
                                     const std::string& spec) {
  ReadOptions options;
  options.channels = card.channels;
  return read_recordings(files, spec, options);
}

WindowSet card_windows(const ModelCard& card, const std::vector<Recording>& recordings) {
  for (const auto& rec : recordings) {
    if (std::abs(rec.sample_rate_hz - card.sample_rate_hz) > 1e-9) {
      throw input_error(Location{rec.path}, "sampled at {} Hz, the model expects {} Hz", rec.sample_rate_hz,
                        card.sample_rate_hz);
    }
  }
  WindowSet windows = make_all_windows(recordings, {card.window_samples, card.step_samples, card.purity});
  apply_normalization(card.normalization, windows);
  return windows;
}

}  // namespace hare::data
