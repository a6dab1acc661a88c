#include "artifacts/slice_job.h"

#include <nlohmann/json.hpp>

namespace hare::model {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EquivalenceReport, real_windows, random_windows, max_abs_diff, argmax_disagreements,
                                   passed, slice_input_shapes, lossy, lossy_max_abs_diff, lossy_agreement, lossy_required)

}  // namespace hare::model

namespace hare::artifacts {

namespace {

using nlohmann::json;

const char* kind_name(Error::Kind kind) {
  switch (kind) {
    case Error::Kind::input: return "input";
    case Error::Kind::interrupted: return "interrupted";
    case Error::Kind::failure: break;
  }
  return "failure";
}

json error_to_json(const Error& e) {
  json more = json::array();
  for (const Error& m : e.more()) more.push_back(error_to_json(m));
  return json{{"kind", kind_name(e.kind())},
              {"message", e.message()},
              {"file", e.location().file},
              {"line", e.location().line},
              {"column", e.location().column},
              {"hint", e.hint()},
              {"source_line", e.source_line()},
              {"more", more}};
}

Error error_from_json(const json& j) {
  const std::string kind = j.at("kind").get<std::string>();
  Error error(kind == "input" ? Error::Kind::input : kind == "interrupted" ? Error::Kind::interrupted : Error::Kind::failure,
              j.at("message").get<std::string>(),
              Location{j.at("file").get<std::string>(), j.at("line").get<int>(), j.at("column").get<int>()},
              j.at("hint").get<std::string>());
  error.with_source_line(j.at("source_line").get<std::string>());
  std::vector<Error> more;
  for (const json& m : j.at("more")) more.push_back(error_from_json(m));
  if (!more.empty()) error.with_more(std::move(more));
  return error;
}

}  // namespace

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SliceJob, plan_dir, model_path, card_path, expand, check_data, check_windows, check_random)

std::string slice_job_to_json(const SliceJob& job) { return json(job).dump(); }

SliceJob parse_slice_job(const std::string& json_text) {
  try {
    return json::parse(json_text).get<SliceJob>();
  } catch (const json::exception& e) {
    throw input_error(Location{"--job"}, "not a slicing job: {}", e.what());
  }
}

std::string slice_outcome_to_json(const SliceOutcome& outcome) {
  json j = json::object();
  if (outcome.check) j["check"] = *outcome.check;
  if (outcome.error) j["error"] = error_to_json(*outcome.error);
  return j.dump();
}

SliceOutcome parse_slice_outcome(const std::string& json_text) {
  try {
    const json j = json::parse(json_text);
    SliceOutcome outcome;
    if (j.contains("check")) outcome.check = j.at("check").get<model::EquivalenceReport>();
    if (j.contains("error")) outcome.error = error_from_json(j.at("error"));
    if (outcome.check.has_value() == outcome.error.has_value()) {
      throw failure("a slicing outcome holds either a check or an error");
    }
    return outcome;
  } catch (const json::exception& e) {
    throw failure("not a slicing outcome: {}", e.what());
  }
}

}  // namespace hare::artifacts
