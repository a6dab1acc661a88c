#include <catch2/catch.hpp>

#include "common/yaml_util.h"

using namespace hare;

TEST_CASE("YAML syntax errors point at the line", "[common]") {
  try {
    yaml::load_string("a: 1\nb: [1, 2\n", "x.yaml");
    FAIL("no error");
  } catch (const Error& error) {
    CHECK_THAT(error.what(), Catch::StartsWith("x.yaml:"));
    CHECK_THAT(error.what(), Catch::Contains("YAML syntax error"));
    CHECK(error.exit_code() == ExitCode::usage);
  }
}

TEST_CASE("an empty document and a non-map document are refused", "[common]") {
  CHECK_THROWS_WITH(yaml::load_string("", "e.yaml"), "e.yaml: the file is empty");
  CHECK_THROWS_WITH(yaml::load_string("- 1\n- 2\n", "l.yaml"),
                    Catch::Contains("l.yaml:1:1: expected a YAML mapping"));
}

TEST_CASE("typed getters report the key, the position and what was expected", "[common]") {
  const auto doc = yaml::load_string("rate: fast\nflag: maybe\n", "t.yaml");
  CHECK_THROWS_WITH(yaml::as_double(doc, doc.root["rate"], "rate"), "t.yaml:1:7: 'rate' must be a number");
  CHECK_THROWS_WITH(yaml::as_bool(doc, doc.root["flag"], "flag"), "t.yaml:2:7: 'flag' must be true or false");
  CHECK_THROWS_WITH(yaml::require(doc, doc.root, "missing"), Catch::Contains("missing key 'missing'"));
}

TEST_CASE("unknown keys are all reported with suggestions", "[common]") {
  const auto doc = yaml::load_string("sample_rate: 50\nchanels: [a]\nok: 1\n", "k.yaml");
  ErrorList errors;
  yaml::check_keys(doc, doc.root, {"sample_rate_hz", "channels", "ok"}, errors);
  REQUIRE(errors.size() == 2);
  try {
    errors.throw_if_any();
  } catch (const Error& error) {
    CHECK(std::string(error.what()) == "k.yaml:1:1: unknown key 'sample_rate' (did you mean 'sample_rate_hz'?)");
    CHECK(std::string(error.more()[0].what()) == "k.yaml:2:1: unknown key 'chanels' (did you mean 'channels'?)");
    CHECK(error.source_line() == "sample_rate: 50");
  }
}
