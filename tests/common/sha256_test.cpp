#include <catch2/catch.hpp>

#include <string>

#include "common/error.h"
#include "common/sha256.h"
#include "test_util.h"

using namespace hare;

TEST_CASE("SHA-256 matches the FIPS 180-4 test vectors", "[common]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(chunk);
  CHECK(million.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("hashing a file equals hashing its bytes, a missing file is an input error", "[common]") {
  test::TempDir dir;
  test::write_text(dir.file("f"), "abc");
  CHECK(sha256_file(dir.file("f")) == sha256_hex("abc"));
  try {
    sha256_file(dir.file("missing"));
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.exit_code() == ExitCode::usage);
    CHECK_THAT(error.what(), Catch::Contains("missing"));
  }
}
