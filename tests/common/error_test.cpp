#include <catch2/catch.hpp>

#include "common/error.h"

using namespace hare;

TEST_CASE("errors name their location and map to exit codes", "[common]") {
  const Error error = input_error(Location{"a.yaml", 3, 7}, "bad {}", "thing");
  CHECK(std::string(error.what()) == "a.yaml:3:7: bad thing");
  CHECK(error.exit_code() == ExitCode::usage);
  CHECK(std::string(failure("boom").what()) == "boom");
  CHECK(failure("boom").exit_code() == ExitCode::failure);
  CHECK(Location{"f", 2}.str() == "f:2");
}

TEST_CASE("an error list throws the first error carrying the rest", "[common]") {
  ErrorList list;
  list.throw_if_any();  // empty: nothing happens
  list.add(input_error(Location{"f", 1}, "one"));
  list.add(input_error(Location{"f", 2}, "two"));
  try {
    list.throw_if_any();
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.message() == "one");
    REQUIRE(error.more().size() == 1);
    CHECK(error.more()[0].message() == "two");
  }
}
