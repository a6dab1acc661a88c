// The line reader: lines across blocks, the line-length limit, interrupts.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <string>

#include "common/diag.h"
#include "common/error.h"
#include "common/process.h"
#include "data/line_reader.h"
#include "test_util.h"

using namespace hare;
using data::LineReader;

TEST_CASE("a line spanning many read blocks comes back whole, CRLF trimmed, the last without a newline", "[data]") {
  test::TempDir dir;
  const std::string long_line(700'000, 'x');  // ~11 blocks of 64 KiB
  test::write_gzip(dir.file("r.gz"), "a,b\r\n" + long_line + "\nlast");
  LineReader reader(dir.file("r.gz"));
  std::string_view line;
  REQUIRE(reader.next(line));
  CHECK(line == "a,b");
  REQUIRE(reader.next(line));
  CHECK(line == long_line);
  REQUIRE(reader.next(line));
  CHECK(line == "last");
  CHECK(reader.line_number() == 3);
  CHECK_FALSE(reader.next(line));
}

TEST_CASE("a line over the limit is refused with file:line, ending in a newline or not", "[data]") {
  test::TempDir dir;
  const std::string huge(LineReader::kMaxLineBytes + 10, '7');
  for (const std::string& ending : {std::string("\n"), std::string()}) {
    test::write_gzip(dir.file("big.gz"), "t,ax\n" + huge + ending);
    LineReader reader(dir.file("big.gz"));
    std::string_view line;
    REQUIRE(reader.next(line));
    const auto messages = test::error_messages([&] { reader.next(line); });
    REQUIRE(messages.size() == 1);
    CHECK_THAT(messages[0], Catch::StartsWith(dir.file("big.gz") + ":2: the line is longer than 1048576 bytes"));
  }
}

TEST_CASE("an interrupt stops a reading in progress (SIGTERM is not ignored during a long line)", "[data]") {
  test::TempDir dir;
  test::write_gzip(dir.file("r.gz"), std::string(500'000, 'x'));
  const pid_t child = fork_call([&] {
    diag::install_interrupt_handler();
    ::raise(SIGTERM);
    try {
      LineReader reader(dir.file("r.gz"));
      std::string_view line;
      reader.next(line);
    } catch (const Error& e) {
      return e.kind() == Error::Kind::interrupted ? 130 : 1;
    }
    return 0;
  });
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
}
