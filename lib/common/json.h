#pragma once

// JSON for the records that cross a process or module boundary (node
// status, worker reports, sink summary, run and deploy reports; see
// docs/design.md "Records"). Every such record is a struct with
// to_json/from_json for nlohmann-json; nothing assembles JSON from strings.
// This header adds what nlohmann-json 3.11 lacks (std::optional: null <->
// nullopt; the key itself must be there, as every field must) and one way to parse a record whose failure names
// where the text came from.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  // Any json type: records (HARE_DEFINE_RECORD) are written as ordered_json too.
  template <typename BasicJson>
  static void to_json(BasicJson& j, const std::optional<T>& value) {
    if (value) {
      j = *value;
    } else {
      j = nullptr;
    }
  }
  template <typename BasicJson>
  static void from_json(const BasicJson& j, std::optional<T>& value) {
    if (j.is_null()) {
      value.reset();
    } else {
      value = j.template get<T>();
    }
  }
};
}  // namespace nlohmann

// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE, plus a to_json for ordered_json, whose
// object keeps the fields in declaration order (nlohmann::json sorts them):
// for a YAML rendering of the record (yaml::emit_json) that reads in the
// order a person expects. One field list serves both forms.
#define HARE_DEFINE_RECORD(Type, ...)                                                          \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, __VA_ARGS__)                                       \
  inline void to_json(nlohmann::ordered_json& nlohmann_json_j, const Type& nlohmann_json_t) { \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(NLOHMANN_JSON_TO, __VA_ARGS__))                  \
  }

namespace hare {

using Json = nlohmann::json;

// Parses `text` as a T. `origin` names where the text came from (a file, a
// node, a socket) for the error, which is a failure (exit 1): records are
// written by hare itself, so a bad one means a broken peer or file, not a
// user's typo.
template <typename T>
T parse_record(const std::string& text, const std::string& origin) {
  try {
    return Json::parse(text).get<T>();
  } catch (const Json::exception& e) {
    throw failure("{}: not a valid hare record: {}", origin, e.what());
  }
}

// One line of JSON (no newline), as written to JSON-lines files and sockets.
// Bytes that are not UTF-8 (a log tail from a node, say) become U+FFFD
// instead of failing the whole record.
template <typename T>
std::string record_line(const T& record) {
  return Json(record).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace hare
