#pragma once

// Turning command-line paths into recordings and windows: directories are
// expanded to the recordings they hold (files a known spec recognizes, in
// name order), every file is read with its spec, and windows are made with
// one set of options.

#include <string>
#include <vector>

#include "data/model_card.h"
#include "data/recording.h"
#include "data/windows.h"

namespace hare::data {

// Files named directly are kept as given; directories contribute the files
// whose names match a builtin spec's patterns (or every regular file when
// `spec` is given). Throws an input Error for a missing path or an empty result.
std::vector<std::string> collect_files(const std::vector<std::string>& paths, const std::string& spec = "");

// Reads every file; `spec` is a builtin name or YAML path, or "" to detect.
std::vector<Recording> read_recordings(const std::vector<std::string>& files, const std::string& spec,
                                       const ReadOptions& options);

// Windows of all recordings, origins indexing into `recordings`.
WindowSet make_all_windows(const std::vector<Recording>& recordings, const WindowOptions& options,
                           WindowStats* stats = nullptr);

// Windows as the card prescribes — the one copy that evaluation, the plan's
// equivalence check and the runtime's source share, so that a model sees the
// same input everywhere. read_for_card reads the card's channels;
// card_windows refuses a recording sampled at another rate than the card's
// (input Error naming the file), cuts the card's window, step and purity and
// normalizes with the card's statistics. Origins index into `recordings`.
std::vector<Recording> read_for_card(const ModelCard& card, const std::vector<std::string>& files,
                                     const std::string& spec);
WindowSet card_windows(const ModelCard& card, const std::vector<Recording>& recordings);

}  // namespace hare::data
