#pragma once

// yaml-cpp with errors that point at the text. A Document keeps the file's
// lines so that an error can show the offending line and a caret; the typed
// getters turn a wrong type or a missing key into "file:line:col: ..." with
// the key's name and what was expected.
//
// Every hare file format (cluster, profile, plan, model card, dataset spec,
// manifest) is read and written the same way:
//   X    parse_X(text, origin)   a Reader collects every error of the file
//   X    read_X(path)            = parse_X(read_file(path), path)
//   std::string X_to_yaml(x)     a YAML::Emitter (yaml::to_text), never text glued by hand
//   void write_X(path, x)        = write_file_atomic(path, X_to_yaml(x))
// A reader checks the format tag first and stops there for a foreign file;
// otherwise it reports every missing key, wrong type, bad value and unknown
// key ("did you mean ...?") with file:line:col, all at once, then stops.

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <yaml-cpp/yaml.h>

#include "common/error.h"

namespace hare::yaml {

struct Document {
  std::string path;
  std::vector<std::string> lines;
  YAML::Node root;
};

// Throws an input Error (exit 2) for a missing/unreadable file, an empty
// document, or a YAML syntax error (with the position yaml-cpp reports).
Document load_file(const std::string& path);
Document load_string(const std::string& text, const std::string& name);

Location where(const Document& doc, const YAML::Node& node);
// An input error at the node's position, carrying its source line.
Error error_at(const Document& doc, const YAML::Node& node, std::string message);

// A map's child by key; Required throws "missing key 'k'" at the map.
YAML::Node require(const Document& doc, const YAML::Node& map, const std::string& key);

// Converts a scalar, or throws "'key' must be <what>" at the node.
std::string as_string(const Document& doc, const YAML::Node& node, const std::string& key);
double as_double(const Document& doc, const YAML::Node& node, const std::string& key);
long long as_int(const Document& doc, const YAML::Node& node, const std::string& key);
bool as_bool(const Document& doc, const YAML::Node& node, const std::string& key);
std::vector<std::string> as_string_list(const Document& doc, const YAML::Node& node,
                                        const std::string& key);
std::vector<double> as_double_list(const Document& doc, const YAML::Node& node,
                                   const std::string& key);

// Reports keys of `map` not in `allowed`, each with a "did you mean" hint.
void check_keys(const Document& doc, const YAML::Node& map, const std::vector<std::string>& allowed,
                ErrorList& errors);

// Reads the fields of one document, collecting every error instead of
// stopping at the first. Each field is parsed by a callback under a guard;
// an Error it throws is recorded and reading goes on with the next field.
// A callback never runs on a parent that was missing or not a mapping (that
// error is already recorded), so nested sections need no checks of their own.
// The integer type a field holds (an optional field holds its value type).
template <typename T>
struct IntegerOf {
  using type = T;
};
template <typename T>
struct IntegerOf<std::optional<T>> {
  using type = T;
};

class Reader {
 public:
  // Loads `text` and checks its format tag (see expect_format); a syntax
  // error or another format throws at once. `what` names the kind of file.
  Reader(const std::string& text, const std::string& origin, const std::string& format, const std::string& what);
  explicit Reader(Document doc) : doc_(std::move(doc)) {}

  const Document& doc() const { return doc_; }
  const YAML::Node& root() const { return doc_.root; }

  // Refuses a file of another format at once: its other errors would be noise.
  // `what` names the kind in the message ("unsupported profile format ...").
  void expect_format(const std::string& format, const std::string& what);
  // Unknown keys of `map`, each with a "did you mean" hint (no-op on a non-map).
  void keys(const YAML::Node& map, const std::vector<std::string>& allowed);

  // map[key] through `parse`; a missing key is an error at the map.
  template <typename Parse>
  void required(const YAML::Node& map, const std::string& key, Parse&& parse) {
    if (!readable(map)) return;
    const YAML::Node node = map[key];
    if (!node) {
      add(map, fmt::format("missing key '{}'", key));
      return;
    }
    guard([&] { parse(node); });
  }
  // map[key] through `parse` if present.
  template <typename Parse>
  void optional(const YAML::Node& map, const std::string& key, Parse&& parse) {
    if (!readable(map)) return;
    const YAML::Node node = map[key];
    if (node) guard([&] { parse(node); });
  }
  // map[key], or throws "missing key" at the map (inside a callback's guard).
  YAML::Node child(const YAML::Node& map, const std::string& key) const { return require(doc_, map, key); }
  // A nested mapping (or a null node after recording why there is none).
  YAML::Node section(const YAML::Node& map, const std::string& key);
  YAML::Node optional_section(const YAML::Node& map, const std::string& key);
  // A list of mappings under `key`; each goes through `parse` under its own guard.
  template <typename Parse>
  void each(const YAML::Node& map, const std::string& key, bool required_key, Parse&& parse) {
    if (!readable(map)) return;
    const YAML::Node list = map[key];
    if (!list) {
      if (required_key) add(map, fmt::format("missing key '{}'", key));
      return;
    }
    if (!list.IsSequence()) {
      add(list, fmt::format("'{}' must be a list", key));
      return;
    }
    for (const auto& item : list) {
      if (item.IsMap()) {
        guard([&] { parse(item); });
      } else {
        add(item, fmt::format("each item of '{}' must be a mapping", key));
      }
    }
  }

  // Runs `body`, recording an Error it throws.
  template <typename Body>
  void guard(Body&& body) {
    try {
      body();
    } catch (Error& error) {
      errors_.add(std::move(error));
    }
  }
  void add(const YAML::Node& at, std::string message) { errors_.add(error_at(doc_, at, std::move(message))); }
  void add(Error error) { errors_.add(std::move(error)); }
  Error error(const YAML::Node& at, std::string message) const { return error_at(doc_, at, std::move(message)); }
  bool ok() const { return errors_.empty(); }
  // Throws every error recorded so far, if any.
  void finish() { errors_.throw_if_any(); }

  // Typed scalars; each throws an Error at the node (caught by the guard).
  std::string str(const YAML::Node& n, const std::string& key) const { return as_string(doc_, n, key); }
  double number(const YAML::Node& n, const std::string& key) const { return as_double(doc_, n, key); }
  long long integer(const YAML::Node& n, const std::string& key) const { return as_int(doc_, n, key); }
  bool boolean(const YAML::Node& n, const std::string& key) const { return as_bool(doc_, n, key); }
  std::vector<std::string> strings(const YAML::Node& n, const std::string& key) const {
    return as_string_list(doc_, n, key);
  }
  std::vector<double> numbers(const YAML::Node& n, const std::string& key) const { return as_double_list(doc_, n, key); }
  // A number > 0 (or >= 0 with allow_zero); finite.
  double positive(const YAML::Node& n, const std::string& key, bool allow_zero = false) const;
  // An integer >= min.
  long long at_least(const YAML::Node& n, const std::string& key, long long min) const;
  // An integer in [min, max]; the error names the bound it crosses.
  long long in_range(const YAML::Node& n, const std::string& key, long long min, long long max) const;
  // A name of a node, device or model (common/names.h), read as `what`
  // ("node name"): a string that may become a file name or a command word.
  std::string name(const YAML::Node& n, const std::string& what) const;
  // A relative path that stays inside the directory it is joined to
  // (common/fs.h: relative_path_problem).
  std::string relative_path(const YAML::Node& n, const std::string& key) const;

  // Parsers for required()/optional() that store the value into `out`; `key`
  // names it in messages ("training.seed"). Numbers are non-negative.
  using FieldParser = std::function<void(const YAML::Node&)>;
  FieldParser into(std::string& out, std::string key);
  FieldParser into(std::vector<std::string>& out, std::string key);
  FieldParser into(double& out, std::string key);
  // Through name() and relative_path().
  FieldParser into_name(std::string& out, std::string what);
  FieldParser into_relative_path(std::string& out, std::string key);
  // (A link codec: yaml::into_codec in runtime/codec.h, with the codecs.)
  // An integer field of type Int: at least `min`, and never more than Int
  // holds (a value that would wrap, e.g. cores: 4294967298 into an int, is
  // an error, not 2).
  template <typename Int>
  FieldParser into(Int& out, std::string key, long long min) {
    using Value = typename IntegerOf<Int>::type;
    constexpr long long kMax =
        static_cast<unsigned long long>(std::numeric_limits<Value>::max()) >
                static_cast<unsigned long long>(std::numeric_limits<long long>::max())
            ? std::numeric_limits<long long>::max()
            : static_cast<long long>(std::numeric_limits<Value>::max());
    return [this, &out, key = std::move(key), min, max = kMax](const YAML::Node& n) {
      out = static_cast<Value>(in_range(n, key, min, max));
    };
  }

 private:
  // A missing or non-map parent was recorded where it was looked up.
  static bool readable(const YAML::Node& map) { return map && map.IsMap(); }

  Document doc_;
  ErrorList errors_;
};

// The emitter's document plus a final newline. A failure of the emitter
// (unbalanced maps) is a bug: failure.
std::string to_text(const YAML::Emitter& out);

// A whole file of `format` (the tag a Reader checks first): an optional
// comment line, then one mapping whose first key is the format tag and whose
// other keys `body` emits. Returns the text (to_text).
template <typename Body>
std::string write_document(const std::string& format, const std::string& comment, Body&& body) {
  YAML::Emitter out;
  if (!comment.empty()) out << YAML::Comment(comment);
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << format;
  body(out);
  out << YAML::EndMap;
  return to_text(out);
}
template <typename Body>
std::string write_document(const std::string& format, Body&& body) {
  return write_document(format, "", std::forward<Body>(body));
}

// A record's JSON form as YAML, in the object's key order (a record made
// with HARE_DEFINE_RECORD keeps its declaration order): maps, lists and
// scalars as yaml-cpp writes the C++ values themselves.
void emit_json(YAML::Emitter& out, const nlohmann::ordered_json& value);

// A number in the shortest form that reads back to the same double.
std::string exact(double value);

}  // namespace hare::yaml
