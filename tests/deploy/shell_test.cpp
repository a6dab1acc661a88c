// The one quoting rule for commands run on a node's shell, checked against a
// real /bin/sh: what goes in comes out, byte for byte.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "deploy/shell.h"
#include "test_util.h"

using namespace hare;
using namespace hare::deploy;

namespace {

// Texts a node name, a path or a flag value might carry and a shell would
// otherwise act on.
const std::vector<std::string> kAwkward = {
    "plain",  "two words", "it's",          "'", "''", "$HOME and $(id -u) and `id -u`", "back\\slash", "trailing\\",
    "new\nline", "\"double\"", "semi; rm -rf x", "glob *?[a]", "tab\there", "-dash", "",
};

}  // namespace

TEST_CASE("shell_quote single-quotes and writes a quote as '\\''", "[deploy]") {
  CHECK(shell_quote("abc") == "'abc'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("$x \\ \"y\"") == "'$x \\ \"y\"'");
}

TEST_CASE("shell_quote: /bin/sh gives back exactly the text", "[deploy]") {
  for (const auto& text : kAwkward) {
    INFO("text: " << text);
    const auto result = test::run("printf %s " + shell_quote(text));
    REQUIRE(result.exit_code == 0);
    CHECK(result.out == text);
  }
}

TEST_CASE("shell_words: every word arrives as one argument", "[deploy]") {
  const auto result = test::run("printf '[%s]' " + shell_words(kAwkward));
  REQUIRE(result.exit_code == 0);
  std::string expected;
  for (const auto& text : kAwkward) expected += "[" + text + "]";
  CHECK(result.out == expected);
}

TEST_CASE("home_path: $HOME expands on the node, the rest stays literal", "[deploy]") {
  CHECK(home_path({"hare", "", "gateway"}) == "\"$HOME\"/'hare/gateway'");
  const auto result = test::run("HOME='/tmp/a home'; printf %s " + home_path({"hare", "it's $HOME", "run", "x\\y.pid"}));
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "/tmp/a home/hare/it's $HOME/run/x\\y.pid");
}

TEST_CASE("shell_quote nests: a quoted command quoted again runs as written", "[deploy]") {
  // As over SSH: the command line is itself handed to a shell as one word.
  const std::string inner = "printf %s " + shell_quote("it's $HOME\n\\");
  const auto result = test::run("sh -c " + shell_quote(inner));
  REQUIRE(result.exit_code == 0);
  CHECK(result.out == "it's $HOME\n\\");
}
