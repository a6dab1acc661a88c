#include <catch2/catch.hpp>

#include <chrono>

#include "common/error.h"
#include "data/dataset_spec.h"
#include "data/recording.h"
#include "test_util.h"

using namespace hare;
using namespace hare::data;

TEST_CASE("the shipped specs parse and are compiled in", "[data]") {
  for (const char* file : {"configs/datasets/mhealth-tsv.yaml", "configs/datasets/mhealth-log.yaml"}) {
    const DatasetSpec spec = read_dataset_spec(test::source_path(file));
    const DatasetSpec* builtin = find_builtin_spec(spec.name);
    REQUIRE(builtin != nullptr);
    CHECK(builtin->channels == spec.channels);
    CHECK(spec.classes.size() == 12);
    CHECK(spec.null_label == std::string("0"));
  }
  CHECK(find_builtin_spec("mhealth-log")->whitespace);
  CHECK(find_builtin_spec("mhealth-log")->default_channels.size() == 6);
}

TEST_CASE("a bad spec reports every error at once with file:line:col", "[data]") {
  const char* text = R"(format: hare-dataset/1
name: broken
delimiter: pipe-ish
header: false
columns: [a, b, lbl]
sample_rate_hz: -5
channels: [a, c]
label:
  column: lbl
  classes: {1: x}
segmnet_column: s
)";
  try {
    parse_dataset_spec(text, "broken.yaml");
    FAIL("no error");
  } catch (const Error& error) {
    std::vector<std::string> all = {error.what()};
    for (const auto& more : error.more()) all.push_back(more.what());
    REQUIRE(all.size() == 3);
    CHECK(all[0] == "broken.yaml:11:1: unknown key 'segmnet_column' (did you mean 'segment_column'?)");
    CHECK(all[1] ==
          "broken.yaml:3:12: unknown delimiter 'pipe-ish' (use tab, comma, semicolon, space, whitespace or a single "
          "character)");
    CHECK(all[2] == "broken.yaml:6:17: 'sample_rate_hz' must be positive");
  }
}

TEST_CASE("a spec naming a column that does not exist is refused", "[data]") {
  const char* text = R"(format: hare-dataset/1
name: cols
header: false
columns: [a, b, lbl]
sample_rate_hz: 5
channels: [a, bb]
)";
  CHECK_THROWS_WITH(parse_dataset_spec(text, "c.yaml"),
                    "c.yaml:6:11: 'channels' names column 'bb', which is not in 'columns' (did you mean 'b'?)");
}

TEST_CASE("a missing spec file and an unknown builtin name are input errors", "[data]") {
  CHECK_THROWS_WITH(resolve_dataset_spec("mhealth-tvs"),
                    "mhealth-tvs: no such dataset spec file or builtin spec (did you mean 'mhealth-tsv'?)");
  CHECK_THROWS_WITH(read_dataset_spec("/nonexistent/spec.yaml"),
                    "/nonexistent/spec.yaml: cannot open file (does it exist?)");
}

TEST_CASE("dataset specs round-trip through their file", "[data]") {
  test::TempDir dir;
  for (const auto& shipped : builtin_dataset_specs()) {
    INFO(shipped.origin);
    write_dataset_spec(dir.file("spec.yaml"), shipped);
    const DatasetSpec back = read_dataset_spec(dir.file("spec.yaml"));
    CHECK(back.name == shipped.name);
    CHECK(back.description == shipped.description);
    CHECK(back.delimiter == shipped.delimiter);
    CHECK(back.whitespace == shipped.whitespace);
    CHECK(back.header == shipped.header);
    CHECK(back.columns == shipped.columns);
    CHECK(back.channels == shipped.channels);
    CHECK(back.default_channels == shipped.default_channels);
    CHECK(back.classes == shipped.classes);
    CHECK(back.null_label == shipped.null_label);
    CHECK(back.subject_from_filename == shipped.subject_from_filename);
    CHECK(dataset_spec_to_yaml(back) == dataset_spec_to_yaml(shipped));
  }
  DatasetSpec csv = *find_builtin_spec("mhealth-tsv");
  csv.delimiter = '|';
  csv.segment_column = "seg";
  csv.timestamp_column = "t";
  csv.timestamp_unit = "ns";
  write_dataset_spec(dir.file("csv.yaml"), csv);
  const DatasetSpec back = read_dataset_spec(dir.file("csv.yaml"));
  CHECK(back.delimiter == '|');
  CHECK(back.timestamp_column == "t");
  CHECK(back.timestamp_unit == "ns");
  CHECK(dataset_spec_to_yaml(back) == dataset_spec_to_yaml(csv));
}

TEST_CASE("a subject pattern that std::regex backtracked on for minutes matches at once (RE2)", "[data]") {
  // The issue's case: '^(?:a|aa)*(c)' against a 63-character file name.
  const DatasetSpec spec = parse_dataset_spec(R"(format: hare-dataset/1
name: slow
sample_rate_hz: 50
channels: [a]
subject_from_filename: '^(?:a|aa)*(c)'
)",
                                              "slow.yaml");
  const std::string no_match = std::string(62, 'a') + "b";
  const std::string match = std::string(62, 'a') + "c";
  REQUIRE(no_match.size() == 63);
  const auto started = std::chrono::steady_clock::now();
  CHECK(subject_from_filename("/data/" + no_match, spec.subject_from_filename).empty());
  CHECK(subject_from_filename("/data/" + match, spec.subject_from_filename) == "c");
  CHECK(subject_from_filename("/data/subject07.tsv.gz", "subject0*([0-9]+)") == "7");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(seconds < 1.0);
}

TEST_CASE("subject patterns that are not valid RE2 or lack exactly one group are refused at file:line:col", "[data]") {
  auto errors = [](const std::string& pattern) {
    return test::error_messages([&] {
      parse_dataset_spec("format: hare-dataset/1\nname: p\nsample_rate_hz: 50\nchannels: [a]\nsubject_from_filename: '" +
                             pattern + "'\n",
                         "p.yaml");
    });
  };
  CHECK(errors("subject(") == std::vector<std::string>{"p.yaml:5:24: 'subject_from_filename' is not a valid RE2 regular "
                                                       "expression: missing ): subject("});
  // A backreference: std::regex accepted it (and backtracks on it); RE2 cannot run it in linear time.
  CHECK(errors("(a)\\1") == std::vector<std::string>{"p.yaml:5:24: 'subject_from_filename' is not a valid RE2 regular "
                                                     "expression: invalid escape sequence: \\1"});
  CHECK(errors("s([0-9])([0-9])") ==
        std::vector<std::string>{"p.yaml:5:24: 'subject_from_filename' needs exactly one capture group (it has 2)"});
  CHECK(errors("subject[0-9]+") ==
        std::vector<std::string>{"p.yaml:5:24: 'subject_from_filename' needs exactly one capture group (it has 0)"});
}

TEST_CASE("a null_label that is also a class's label, an unknown timestamp unit, a unit without a column: refused", "[data]") {
  const std::string head = R"(format: hare-dataset/1
name: s
delimiter: comma
header: true
sample_rate_hz: 20
channels: [ax]
)";
  auto problem = [&](const std::string& text) {
    const auto messages = test::error_messages([&] { parse_dataset_spec(head + text, "s.yaml"); });
    return messages.empty() ? std::string() : messages.front();
  };
  // 1 and 1.0 are one label: the class's rows would all be dropped as null.
  CHECK(problem("label: {column: a, classes: {1: walking, 2: sitting}, null_label: '1.0'}\n") ==
        "s.yaml:7:67: null_label '1.0' is also the label of class 'walking'");
  CHECK(problem("timestamp_column: t\ntimestamp_unit: sec\n") ==
        "s.yaml:8:17: timestamp_unit 'sec' is not one of s, ms, us, ns (did you mean 's'?)");
  CHECK(problem("timestamp_unit: ms\n") == "s.yaml:7:17: timestamp_unit without a timestamp_column");
  CHECK(problem("timestamp_column: t\ntimestamp_unit: ns\n").empty());
}
