#include <catch2/catch.hpp>

#include "common/strings.h"

using namespace hare;

TEST_CASE("strict number parsing rejects trailing junk", "[common]") {
  CHECK(parse_double("1.5") == 1.5);
  CHECK(parse_double(" -2e3 ") == -2000.0);
  CHECK(parse_double("+0.25") == 0.25);
  CHECK_FALSE(parse_double("1.5x"));
  CHECK_FALSE(parse_double(""));
  CHECK_FALSE(parse_double("abc"));
  CHECK(parse_int("42") == 42);
  CHECK_FALSE(parse_int("4.2"));
}

TEST_CASE("splitting keeps empty fields, whitespace splitting does not", "[common]") {
  CHECK(split("a\t\tb", '\t').size() == 3);
  const auto fields = split_whitespace("  1 2\t 3  ");
  REQUIRE(fields.size() == 3);
  CHECK(fields[2] == "3");
}

TEST_CASE("did you mean suggests close names only", "[common]") {
  const std::vector<std::string> names = {"chest_acc_x", "chest_acc_y", "arm_gyro_z"};
  CHECK(did_you_mean("chest_acc_q", names) == " (did you mean 'chest_acc_x'?)");
  CHECK(did_you_mean("completely_different", names).empty());
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("integer lists accept ranges", "[common]") {
  CHECK(*parse_int_list("1-3,7") == std::vector<int>{1, 2, 3, 7});
  CHECK(*parse_int_list("07,08") == std::vector<int>{7, 8});
  CHECK_FALSE(parse_int_list("3-1"));
  CHECK_FALSE(parse_int_list("1,,2"));
}

TEST_CASE("integer lists refuse values an int does not hold instead of wrapping them", "[common]") {
  // --train-subjects 1,99999999999 looked for subject 1215752191.
  CHECK_FALSE(parse_int_list("1,99999999999"));
  CHECK_FALSE(parse_int_list("2147483646-2147483648"));
  CHECK(*parse_int_list("2147483647") == std::vector<int>{2147483647});
}
