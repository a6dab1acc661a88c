#include <catch2/catch.hpp>

#include "common/error.h"
#include "data/split.h"

using namespace hare;
using namespace hare::data;

namespace {
Recording of_subject(const std::string& subject) {
  Recording rec;
  rec.path = "subject" + subject + ".tsv";
  rec.subject = subject;
  return rec;
}
}  // namespace

TEST_CASE("recordings are split by subject, never by window", "[data]") {
  auto split = split_by_subject({of_subject("1"), of_subject("2"), of_subject("7"), of_subject("9")},
                                parse_subjects("1-2", "--train-subjects"), parse_subjects("07", "--val-subjects"));
  REQUIRE(split.train.size() == 2);
  REQUIRE(split.validation.size() == 1);
  CHECK(split.validation[0].subject == "7");
}

TEST_CASE("bad subject lists are refused", "[data]") {
  CHECK_THROWS_WITH(split_by_subject({of_subject("1")}, {"1"}, {"1"}),
                    "subject 1 is in both the training and the validation subjects");
  CHECK_THROWS_WITH(split_by_subject({of_subject("1"), of_subject("2")}, {"1"}, {"3"}),
                    Catch::StartsWith("no recording of subject 3"));
  CHECK_THROWS_WITH(split_by_subject({of_subject("")}, {"1"}, {"2"}),
                    Catch::Contains("no subject id for this recording"));
  CHECK_THROWS_WITH(parse_subjects("1,,2", "--val-subjects"), Catch::Contains("is not a list of subjects"));
}
