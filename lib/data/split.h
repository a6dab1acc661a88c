#pragma once

// Subject-wise splits. HAR accuracy must be measured on people the model has
// never seen: random window splits put near-identical overlapping windows of
// the same bout on both sides and inflate accuracy by 10+ points.

#include <string>
#include <vector>

#include "data/recording.h"

namespace hare::data {

struct SubjectSplit {
  std::vector<Recording> train;
  std::vector<Recording> validation;
};

// Moves each recording into train or validation by its subject. Throws an
// input Error when a subject is in both lists, a requested subject has no
// recording, or a recording has no subject.
SubjectSplit split_by_subject(std::vector<Recording> recordings, const std::vector<std::string>& train_subjects,
                              const std::vector<std::string>& validation_subjects);

// "1-6" or "01,02" -> {"1", ..., "6"}; throws an input Error naming `what`.
std::vector<std::string> parse_subjects(const std::string& text, const std::string& what);

}  // namespace hare::data
