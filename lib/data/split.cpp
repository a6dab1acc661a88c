#include "data/split.h"

#include <algorithm>
#include <set>

#include "common/error.h"
#include "common/strings.h"

namespace hare::data {

std::vector<std::string> parse_subjects(const std::string& text, const std::string& what) {
  auto numbers = parse_int_list(text);
  if (numbers) {
    std::vector<std::string> out;
    for (int n : *numbers) out.push_back(std::to_string(n));
    return out;
  }
  // Non-numeric subject names, comma-separated.
  std::vector<std::string> out;
  for (auto part : split(text, ',')) {
    if (trim(part).empty()) throw input_error(Location{}, "{} '{}' is not a list of subjects (e.g. 1-6 or 7,8)", what, text);
    out.emplace_back(trim(part));
  }
  return out;
}

SubjectSplit split_by_subject(std::vector<Recording> recordings, const std::vector<std::string>& train_subjects,
                              const std::vector<std::string>& validation_subjects) {
  const std::set<std::string> train(train_subjects.begin(), train_subjects.end());
  const std::set<std::string> validation(validation_subjects.begin(), validation_subjects.end());
  for (const auto& subject : train) {
    if (validation.count(subject) != 0) {
      throw input_error(Location{}, "subject {} is in both the training and the validation subjects", subject)
          .with_hint("a subject-wise split needs disjoint subject lists");
    }
  }
  std::set<std::string> available;
  for (const auto& rec : recordings) {
    if (rec.subject.empty()) {
      throw input_error(Location{rec.path}, "no subject id for this recording")
          .with_hint("name files like subject07.tsv.gz or give the spec a subject column");
    }
    available.insert(rec.subject);
  }
  const std::vector<std::string> names(available.begin(), available.end());
  for (const auto* list : {&train, &validation}) {
    for (const auto& subject : *list) {
      if (available.count(subject) == 0) {
        throw input_error(Location{}, "no recording of subject {}{}", subject, did_you_mean(subject, names))
            .with_hint(fmt::format("subjects found: {}", join(names, ", ")));
      }
    }
  }
  SubjectSplit result;
  for (auto& rec : recordings) {
    if (train.count(rec.subject) != 0) {
      result.train.push_back(std::move(rec));
    } else if (validation.count(rec.subject) != 0) {
      result.validation.push_back(std::move(rec));
    }
  }
  return result;
}

}  // namespace hare::data
