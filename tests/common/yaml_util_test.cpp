#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "common/yaml_util.h"
#include "test_util.h"

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

TEST_CASE("a Reader collects every error of a document, then stops", "[common]") {
  yaml::Reader r(R"(format: x/1
rate: fast
count: -2
box: 7
items:
  - {name: a}
  - 5
  - {nmae: b}
)", "r.yaml", "x/1", "test");  // the right format: goes on
  const YAML::Node& root = r.root();
  r.keys(root, {"format", "rate", "count", "box", "items", "extra"});
  double rate = 0;
  long long count = 0;
  std::string extra = "default";
  std::vector<std::string> names;
  r.required(root, "rate", [&](const YAML::Node& n) { rate = r.positive(n, "rate"); });
  r.required(root, "count", [&](const YAML::Node& n) { count = r.at_least(n, "count", 0); });
  r.optional(root, "extra", [&](const YAML::Node& n) { extra = r.str(n, "extra"); });
  const YAML::Node box = r.section(root, "box");
  r.required(box, "inside", [&](const YAML::Node&) { FAIL("a missing section's fields are not read"); });
  r.required(r.section(root, "absent"), "inside", [&](const YAML::Node&) { FAIL("nor an absent one's"); });
  r.each(root, "items", true, [&](const YAML::Node& item) {
    r.keys(item, {"name"});
    r.required(item, "name", [&](const YAML::Node& n) { names.push_back(r.str(n, "name")); });
  });
  CHECK_FALSE(r.ok());
  CHECK(extra == "default");
  CHECK(names == std::vector<std::string>{"a"});
  const auto errors = test::error_messages([&] { r.finish(); });
  CHECK(errors == std::vector<std::string>{
                      "r.yaml:2:7: 'rate' must be a number",
                      "r.yaml:3:8: 'count' must be at least 0",
                      "r.yaml:4:6: 'box' must be a mapping",
                      "r.yaml:1:1: missing key 'absent'",
                      "r.yaml:7:5: each item of 'items' must be a mapping",
                      "r.yaml:8:6: unknown key 'nmae' (did you mean 'name'?)",
                      "r.yaml:8:5: missing key 'name'",
                  });
}

TEST_CASE("a Reader stops at once for a file of another format", "[common]") {
  CHECK(test::error_messages([] { yaml::Reader("format: y/2\nrate: fast\n", "f.yaml", "x/1", "test"); }) ==
        std::vector<std::string>{"f.yaml:1:9: unsupported test format 'y/2' (expected x/1)"});
  yaml::Reader missing(yaml::load_string("rate: fast\n", "n.yaml"));
  CHECK(test::error_messages([&] { missing.expect_format("x/1", "test"); }) ==
        std::vector<std::string>{"n.yaml:1:1: missing key 'format'"});
}

TEST_CASE("numbers are written in the shortest form that reads back exactly", "[common]") {
  for (double value : {0.1, 1.0 / 3.0, 100.0, 1e-9, 123456789.125}) {
    CHECK(std::stod(yaml::exact(value)) == value);
  }
  CHECK(yaml::exact(0.1) == "0.1");
  CHECK(yaml::exact(100.0) == "100");
}

TEST_CASE("duplicate keys are refused at every level, all at once, naming both places", "[common]") {
  try {
    yaml::load_string("format: x\nsink: gateway\nnodes:\n  - {name: a, cores: 1, cores: 2}\nsink: edge2\n", "c.yaml");
    FAIL("duplicate keys were accepted");
  } catch (const Error& e) {
    CHECK(e.kind() == Error::Kind::input);
    std::vector<std::string> messages{e.location().str() + ": " + e.message()};
    for (const Error& more : e.more()) messages.push_back(more.location().str() + ": " + more.message());
    std::sort(messages.begin(), messages.end());
    CHECK(messages == std::vector<std::string>{
                          "c.yaml:4:25: duplicate key 'cores' (first at line 4, column 15): give each key once",
                          "c.yaml:5:1: duplicate key 'sink' (first at line 2, column 1): give each key once"});
  }
  // The same key in two different mappings is fine.
  CHECK_NOTHROW(yaml::load_string("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n", "ok.yaml"));
}
