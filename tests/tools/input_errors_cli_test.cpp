// Black-box tests of inputs that used to end in "internal error ... (please
// report this)", a LibTorch backtrace, or exit 0 as if they were fine (issue
// 13): each is now one line naming the option or the file, and exit 2.

#include <catch2/catch.hpp>

#include <filesystem>

#include "artifacts/plan_dir.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "cli_checks.h"
#include "test_util.h"

using namespace hare;

namespace {
using test::first_line;
using test::check_usage_error;

// Options are checked before the plan is read: no plan is needed.
const std::string kLocal = test::tool_path("hare-deploy") + " local --plan no-plan --data none.tsv";
}  // namespace

TEST_CASE("source options out of range are usage errors and not the defaults", "[tools]") {
  // --speed -1, --streams 0 and --limit -5 each streamed with the defaults and exit 0.
  check_usage_error(test::run(kLocal + " --speed -1"), "hare-deploy: error: --speed: '-1' is not a number from 0 to 1000000");
  check_usage_error(test::run(kLocal + " --speed nan"),
                    "hare-deploy: error: --speed: 'nan' is not a number from 0 to 1000000");
  check_usage_error(test::run(kLocal + " --streams 0"),
                    "hare-deploy: error: --streams: '0' is not a whole number from 1 to 1000000");
  check_usage_error(test::run(kLocal + " --streams=-4"),
                    "hare-deploy: error: --streams: '-4' is not a whole number from 1 to 1000000");
  check_usage_error(test::run(kLocal + " --limit=-5"),
                    "hare-deploy: error: --limit: '-5' is not a whole number from 1 to 9223372036854775807");
  check_usage_error(test::run(kLocal + " --timeout 0"),
                    "hare-deploy: error: --timeout: '0' is not a number above 0 and at most 604800");
  check_usage_error(test::run(test::tool_path("hare-node") + " run --plan p --node n --limit 0"),
                    "hare-node: error: --limit: '0' is not a whole number from 1 to 9223372036854775807");
  check_usage_error(test::run(test::tool_path("hare-node") + " run --plan p --node n --lease-s nan"),
                    "hare-node: error: --lease-s: 'nan' is not a number from 0 to 86400");
}

TEST_CASE("hare-train: a learning rate LibTorch refuses is a usage error and not a backtrace", "[tools]") {
  const std::string tool = test::tool_path("hare-train");
  check_usage_error(test::run(tool + " --lr=-1"), "hare-train: error: --lr: '-1' is not a number above 0 and at most 10");
  check_usage_error(test::run(tool + " --lr nan"), "hare-train: error: --lr: 'nan' is not a number above 0 and at most 10");
  check_usage_error(test::run(tool + " --rotation-deg nan"),
                    "hare-train: error: --rotation-deg: 'nan' is not a number from 0 to 180");
  check_usage_error(test::run(tool + " --epochs 0"), "hare-train: error: --epochs: '0' is not a whole number from 1 to 2147483647");
}

TEST_CASE("hare-worker and hare-partition check thread counts and destinations and refuse NaN", "[tools]") {
  const std::string worker = test::tool_path("hare-worker") +
                             " --slice none.pt --slice-sha256 0 --stage 1 --replicas 0 --work ipc://a --stats ipc://b"
                             " --downstream ipc://c";
  // --threads -1 reached at::set_num_threads: "internal error: Expected positive number of threads" and a backtrace.
  check_usage_error(test::run(worker + " --next 65535 --threads=-1"),
                    "hare-worker: error: --threads: '-1' is not a whole number from 1 to 1024");
  check_usage_error(test::run(worker + " --threads 1 --next 70000"),
                    "hare-worker: error: --next: '70000' is not a whole number from 1 to 65535");
  check_usage_error(test::run(test::tool_path("hare-partition") + " --model m.pt --cluster c.yaml --speed nan"),
                    "hare-partition: error: --speed: 'nan' is not a number above 0 and at most 1000000");
}

TEST_CASE("an output path under a file and a directory given as a file are exit 2 naming the path", "[tools]") {
  test::TempDir dir;
  test::write_text(dir.file("file"), "x");
  // Was "internal error: filesystem error: cannot create directories: Not a directory [...] (please report this)".
  const auto train = test::run(test::tool_path("hare-train") + " --out " + dir.file("file/models"));
  INFO(train.err);
  CHECK(train.exit_code == 2);
  CHECK(first_line(train.err) == "hare-train: error: " + dir.file("file") + ": cannot create directory: Not a directory");
  // Was "the file is empty" for a card, exit 1 "read error while hashing" for a model.
  const auto card = test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") +
                              " --card " + dir.path() + " --cluster " + test::source_path("configs/local-3node.yaml"));
  INFO(card.err);
  CHECK(card.exit_code == 2);
  CHECK(first_line(card.err) == "hare-partition: error: " + dir.path() + ": is a directory, not a file");
  const auto model = test::run(test::tool_path("hare-partition") + " --model " + dir.path() + " --card " +
                               test::source_path("models/hare-cnn.yaml") + " --cluster " +
                               test::source_path("configs/local-3node.yaml"));
  INFO(model.err);
  CHECK(model.exit_code == 2);
  CHECK(first_line(model.err) == "hare-partition: error: " + dir.path() + ": is a directory, not a file");
}

TEST_CASE("hare-deploy local: a plan a node refuses or recordings the source cannot read are refused up front",
          "[tools]") {
  test::TempDir dir;
  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 2, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 100, latency_ms: 1}
source: gw
)");
  const std::string plan = dir.file("plan");
  const auto made = test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") +
                              " --profiles " + test::source_path("profiles") + " --cluster " + dir.file("c.yaml") +
                              " --check-data " + test::source_path("data/mhealth/subject08.tsv.gz") + " --out " + plan);
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  // The nodes started, then the source failed: exit 1 after the start-up.
  const std::string local = test::tool_path("hare-deploy") + " local --plan " + plan + " --run-dir " + dir.file("run");
  const auto missing = test::run(local + " --data " + dir.file("subject09.tsv.gz"));
  CHECK(missing.exit_code == 2);
  CHECK(first_line(missing.err) == "hare-deploy: error: " + dir.file("subject09.tsv.gz") + ": no such file or directory");
  const auto spec = test::run(local + " --spec no-such-spec --data " + test::source_path("data/mhealth/subject08.tsv.gz"));
  CHECK(spec.exit_code == 2);
  CHECK(first_line(spec.err) == "hare-deploy: error: no-such-spec: no such dataset spec file or builtin spec");
  CHECK_FALSE(std::filesystem::exists(dir.file("run")));
  // Edited by hand, manifest regenerated: a card with two classes, but a
  // per-class report of twelve. The node refused it, and hare-deploy said
  // "node gw failed to start: it exited with code 2: hare-node: 13 errors",
  // exit 1.
  std::string card = read_file(plan + "/model.yaml");
  const size_t classes = card.find("\nclasses: [");
  REQUIRE(classes != std::string::npos);
  card.replace(classes, card.find('\n', classes + 1) - classes, "\nclasses: [a, b]");
  test::write_text(plan + "/model.yaml", card);
  artifacts::seal_plan_dir(plan);
  const auto run = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                             test::source_path("data/mhealth/subject08.tsv.gz") + " --run-dir " + dir.file("run"));
  INFO(run.err);
  CHECK(run.exit_code == 2);
  CHECK_THAT(first_line(run.err), Catch::StartsWith("hare-deploy: error: " + plan + "/model.yaml:"));
  CHECK_FALSE(std::filesystem::exists(dir.file("run")));  // nothing was started
}

TEST_CASE("hare-partition: a profile's sizes are bounded and a broken profile is one error however many nodes use it",
          "[tools]") {
  test::TempDir dir;
  std::string profile = read_file(test::source_path("profiles/amd-epyc-2c/hare-cnn.yaml"));
  const size_t rss = profile.find("base_rss_bytes: ");
  REQUIRE(rss != std::string::npos);
  profile.replace(rss, profile.find('\n', rss) - rss, "base_rss_bytes: 9223372036854775807");
  std::filesystem::create_directories(dir.file("profiles/amd-epyc-2c"));
  test::write_text(dir.file("profiles/amd-epyc-2c/hare-cnn.yaml"), profile);
  test::write_text(dir.file("c.yaml"), R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB}
  - {name: e1, device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB}
  - {name: e2, device: amd-epyc-2c, cores: 1, mem_bytes: 1GiB}
links:
  default: {bandwidth_mbps: 100, latency_ms: 1}
source: gw
)");
  // Was exit 0, a stage of -8796093022207.7 MB (int64 overflow) that fit every node.
  const auto result = test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") +
                                " --profiles " + dir.file("profiles") + " --cluster " + dir.file("c.yaml"));
  INFO(result.err);
  CHECK(result.exit_code == 2);
  CHECK_THAT(first_line(result.err),
             Catch::EndsWith("'memory.base_rss_bytes' must be at most 1099511627776"));
  // Once, not once per node of the device ("3 errors").
  CHECK(result.err.find("error:") == result.err.rfind("error:"));
}

TEST_CASE("LibTorch errors from a shape given on the command line are one line and exit 2", "[tools]") {
  // Was "internal error: [enforce fail at alloc_cpu.cpp:75] ... DefaultCPUAllocator: can't allocate memory" and a backtrace.
  const auto profile = test::run(test::tool_path("hare-profile") + " --model " + test::source_path("models/hare-cnn.pt") +
                                 " --input-shape 1,6,99999999999 -q --out none.yaml");
  INFO(profile.err);
  CHECK(profile.exit_code == 2);
  CHECK_THAT(first_line(profile.err),
             Catch::StartsWith("hare-profile: error: " + test::source_path("models/hare-cnn.pt") +
                               ": cannot make an input of shape [1, 6, 99999999999] ("));
  CHECK(profile.err.find("frame #") == std::string::npos);

  const std::string model = test::source_path("models/hare-cnn.pt");
  const std::string worker = test::tool_path("hare-worker") + " --slice " + model + " --slice-sha256 " +
                             sha256_file(model) + " --stage 1 --replicas 0 --threads 1 --next 65535";
  // Was "internal error: The following operation failed in the TorchScript interpreter." and 30 lines.
  const auto warmup = test::run(worker + " --work ipc://a --stats ipc://b --downstream ipc://c --warmup-shape 1,6,3");
  INFO(warmup.err);
  CHECK(warmup.exit_code == 2);
  CHECK_THAT(first_line(warmup.err),
             Catch::StartsWith("hare-worker 0: error: " + model + ": the slice rejects its warm-up input of shape [1, 6, 3] ("));
  CHECK(warmup.err.find("Traceback") == std::string::npos);
  // Was "internal error: Invalid argument (please report this)".
  const auto endpoint = test::run(worker + " --work garbage --stats ipc://b --downstream ipc://c");
  INFO(endpoint.err);
  CHECK(endpoint.exit_code == 2);
  CHECK(first_line(endpoint.err) == "hare-worker 0: error: --work 'garbage': Invalid argument");
}

TEST_CASE("hare-profile: more threads than the device has cores is refused, not timed for minutes", "[tools]") {
  const auto result = test::run(test::tool_path("hare-profile") + " --model " + test::source_path("models/hare-cnn.pt") +
                                " --threads 1,4096 -q --out none.yaml");
  INFO(result.err);
  CHECK(result.exit_code == 2);
  CHECK_THAT(first_line(result.err), Catch::StartsWith("hare-profile: error: --threads 4096 is more than this device's "));
}

TEST_CASE("hare-node control: a request that is not one, or a node that does not answer, is exit 2 naming it",
          "[tools]") {
  test::TempDir dir;
  const std::string control = test::tool_path("hare-node") + " control --run-dir " + dir.path() + " --node gw ";
  // Found after the options parsed: exit 2 and one line, no pointer to --help.
  const auto refused = [](const test::RunResult& result, const std::string& line) {
    INFO(result.err);
    CHECK(result.exit_code == 2);
    CHECK(first_line(result.err) == line);
  };
  refused(test::run(control + "reboot now"),
                    "hare-node: error: control: unknown request 'reboot' (switch PLAN_DIR, ack SEQUENCE [MISSING ...], pause or "
          "resume)");
  refused(test::run(control + "pause now"), "hare-node: error: control pause: takes no argument");
  refused(test::run(control + "ack -3"),
                    "hare-node: error: control ack: '-3' is not a sequence number (a whole number from 0) and the missing "
          "ones below it, ascending");
  refused(test::run(control + "ack 12x"),
                    "hare-node: error: control ack: '12x' is not a sequence number (a whole number from 0) and the missing "
          "ones below it, ascending");
  refused(test::run(control + "ack 5 7"),
          "hare-node: error: control ack: '5 7' is not a sequence number (a whole number from 0) and the missing "
          "ones below it, ascending");
  refused(test::run(control + "ack 5 2 3"),
                    "hare-node: error: node gw does not answer at ipc://" + dir.path() + "/gw.ctl");
  CHECK(test::run(control + "switch").exit_code == 2);  // the plan directory missing: CLI11's usage error
  check_usage_error(test::run(test::tool_path("hare-node") + " run --plan p --node n --replay-windows -1"),
                    "hare-node: error: --replay-windows: '-1' is not a whole number from 0 to 10000000");
  check_usage_error(test::run(test::tool_path("hare-node") + " run --plan p --node n --gap-wait-s nan"),
                    "hare-node: error: --gap-wait-s: 'nan' is not a number from 0 to 3600");
}
