// Black-box tests of the list options every tool declares the same way
// (tools/tool_common.h): CLI11 splits them at commas and checks each element;
// a malformed list is a usage error (exit 2) that names the option and the
// element, before the tool does anything.

#include <catch2/catch.hpp>

#include "cli_checks.h"
#include "test_util.h"

using namespace hare;

namespace {
using test::first_line;
using test::check_usage_error;

const std::string kWorker = test::tool_path("hare-worker") +
                            " --slice none.pt --slice-sha256 0 --stage 1 --replicas 0 --threads 1 --work ipc://a --stats ipc://b"
                            " --downstream ipc://c --next 65535";
}  // namespace

TEST_CASE("hare-worker refuses a malformed --cpus or --warmup-shape instead of ignoring it", "[tools]") {
  check_usage_error(test::run(kWorker + " --cpus 0,x"),
                    "hare-worker: error: --cpus: 'x' is not a whole number of at least 0 (give a list like 0,1)");
  check_usage_error(test::run(kWorker + " --cpus=-1"),
                    "hare-worker: error: --cpus: '-1' is not a whole number of at least 0 (give a list like 0,1)");
  check_usage_error(test::run(kWorker + " --cpus 0,1.5"),
                    "hare-worker: error: --cpus: '1.5' is not a whole number of at least 0 (give a list like 0,1)");
  check_usage_error(
      test::run(kWorker + " --warmup-shape 1,0,64"),
      "hare-worker: error: --warmup-shape: '0' is not a whole number of at least 1 (give a list like 1,32,64)");
}

TEST_CASE("hare-profile refuses malformed --threads, --input-shape and --idle-gaps-ms", "[tools]") {
  const std::string tool = test::tool_path("hare-profile") + " --model " + test::source_path("models/hare-cnn.pt");
  check_usage_error(test::run(tool + " --threads 2,0"),
                    "hare-profile: error: --threads: '0' is not a whole number of at least 1 (give a list like 1,2,4)");
  check_usage_error(
      test::run(tool + " --input-shape 1,six,128"),
      "hare-profile: error: --input-shape: 'six' is not a whole number of at least 1 (give a list like 1,6,128)");
  check_usage_error(test::run(tool + " --idle-gaps-ms 5,1"),
                    "hare-profile: error: --idle-gaps-ms: the values must ascend, e.g. 1,5,25");
  check_usage_error(test::run(tool + " --idle-gaps-ms 1,0"),
                    "hare-profile: error: --idle-gaps-ms: '0' is not a number above 0 and at most 1000 (give a list "
                    "like 1,5,25)");
  check_usage_error(test::run(tool + " --idle-gaps-ms 1,5ms"),
                    "hare-profile: error: --idle-gaps-ms: '5ms' is not a number above 0 and at most 1000 (give a list "
                    "like 1,5,25)");
}

TEST_CASE("hare-train refuses a malformed --bottleneck", "[tools]") {
  check_usage_error(test::run(test::tool_path("hare-train") + " --bottleneck 8,x"),
                    "hare-train: error: --bottleneck: 'x' is not a whole number of at least 1 (give a list like 8,8)");
  const auto three = test::run(test::tool_path("hare-train") + " --bottleneck 8,8,8");
  CHECK(three.exit_code == 2);
  CHECK(first_line(three.err) == "hare-train: error: --bottleneck must be C,S: C values for every S samples, e.g. 8,8");
}
