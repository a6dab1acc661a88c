#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/fs.h"
#include "profile/memory_probe.h"
#include "profile/profile.h"
#include "test_util.h"

using namespace hare;
using namespace hare::profile;

namespace {

Profile sample_profile() {
  Profile p;
  p.device = {"test-2c", "host", "Test CPU", 2, 1 << 30, "Linux 6", "1.13.1", "openblas", "2026-01-01T00:00:00Z"};
  p.model_name = "m";
  p.model_file = "m.pt";
  p.model_sha256 = std::string(64, 'b');
  p.input_shape = {1, 6, 128};
  p.in_bytes = 3072;
  p.runs = 10;
  p.warmup = 2;
  p.threads = {1, 2};
  p.timer_overhead_ns = 30;
  p.timer_resolution_ns = 10;
  p.memory = {100 << 20, 60 << 20, 12 << 20, 1 << 20, 5 << 20, 2 << 20, 9 << 20, false};
  p.whole_model = {{1, {0.1, 0.2, 0.3, 0.4}}, {2, {0.1, 0.15, 0.2, 0.3}}};
  for (int i = 1; i <= 2; ++i) {
    LayerProfile layer;
    layer.index = i;
    layer.name = "l" + std::to_string(i);
    layer.type = "Conv";
    layer.output_shape = {1, 8, 16};
    layer.out_bytes = 512;
    layer.param_bytes = 100 * i;
    layer.latency = {{1, {0.05, 0.1, 0.12, 0.2}}, {2, {0.04, 0.08, 0.1, 0.15}}};
    p.layers.push_back(layer);
  }
  return p;
}

std::vector<std::string> all_errors(const std::string& text) {
  return test::error_messages([&] { parse_profile(text, "p.yaml"); });
}

}  // namespace

TEST_CASE("latency statistics", "[profile]") {
  const LatencyStats s = summarize({5, 1, 4, 2, 3});
  CHECK(s.min_ms == 1);
  CHECK(s.median_ms == 3);
  CHECK(s.p90_ms == Approx(4.6));
  CHECK(s.max_ms == 5);
  // The spread, for the queueing term: mean 3, sample sd sqrt(2.5).
  CHECK(s.mean_ms == Approx(3.0));
  CHECK(s.sd_ms == Approx(std::sqrt(2.5)));
}

TEST_CASE("a profile's service-time spread round-trips, and older profiles without it still read", "[profile]") {
  Profile p = sample_profile();
  p.whole_model.at(1) = summarize({0.1, 0.2, 0.3, 0.4});
  const Profile back = parse_profile(profile_to_yaml(p), "p.yaml");
  CHECK(back.whole_model.at(1).mean_ms == Approx(0.25));
  CHECK(back.whole_model.at(1).sd_ms == Approx(p.whole_model.at(1).sd_ms).epsilon(1e-5));
  CHECK(back.whole_model.at(2).mean_ms == 0.0);  // written without: not measured
  std::string text = profile_to_yaml(p);
  text = test::replaced(text, "mean: 0.250000", "mean: 9.000000");
  CHECK_THAT(all_errors(text).front(), Catch::Contains("min <= mean <= max"));
}

TEST_CASE("a profile round-trips through its file", "[profile]") {
  test::TempDir dir;
  write_profile(dir.file("p.yaml"), sample_profile());
  const Profile p = read_profile(dir.file("p.yaml"));
  CHECK(p.device.id == "test-2c");
  CHECK(p.threads == std::vector<int>{1, 2});
  REQUIRE(p.layers.size() == 2);
  CHECK(p.layers[1].param_bytes == 200);
  CHECK(p.layers[1].latency.at(2).median_ms == Approx(0.08));
  CHECK(p.whole_model.at(1).p90_ms == Approx(0.3));
  CHECK(p.sum_of_layer_medians_ms(1) == Approx(0.2));
  CHECK(profile_to_yaml(p) == profile_to_yaml(sample_profile()));
}

TEST_CASE("memory: shared and private parts round-trip; a profile from before PSS reads as one private executor per replica", "[profile]") {
  const Profile p = parse_profile(profile_to_yaml(sample_profile()), "p.yaml");
  CHECK(p.memory.executor_shared_bytes == 100 << 20);
  CHECK(p.memory.executor_private_bytes == 60 << 20);
  CHECK(p.memory.model_bytes == 12 << 20);
  CHECK(p.memory.replica_bytes == 1 << 20);
  CHECK(p.memory.supervisor_private_bytes == 5 << 20);
  CHECK(p.memory.supervisor_shared_bytes == 2 << 20);
  CHECK(p.memory.supervisor_file_bytes == 9 << 20);
  CHECK_FALSE(p.memory.from_rss_only);

  std::string text = profile_to_yaml(sample_profile());
  const size_t begin = text.find("  executor_shared_bytes");
  const size_t end = text.find("whole_model:");
  text.replace(begin, end - begin, "  base_rss_bytes: 163164160\n  model_rss_bytes: 12873728\n");
  const Profile old = parse_profile(text, "old.yaml");
  CHECK(old.memory.from_rss_only);
  CHECK(old.memory.executor_private_bytes == 163164160);
  CHECK(old.memory.replica_bytes == 163164160);
  CHECK(old.memory.executor_shared_bytes == 0);
  CHECK(profile_to_yaml(old) == text);

  // A field missing or mixed forms: named, with the file.
  std::string missing = profile_to_yaml(sample_profile());
  missing.erase(missing.find("  replica_bytes"), missing.find("  supervisor_private_bytes") - missing.find("  replica_bytes"));
  CHECK_THAT(all_errors(missing).front(), Catch::Contains("replica_bytes"));
}

TEST_CASE("the memory probes' figures become the profile's shared and private parts", "[profile]") {
  ExecutorMemoryProbe executor;
  executor.base = {170 << 20, 120 << 20, 60 << 20, 62 << 20, 108 << 20, 0};
  executor.loaded = {175 << 20, 125 << 20, 65 << 20, 67 << 20, 108 << 20, 0};
  executor.two_replicas = {176 << 20, 126 << 20, 66 << 20, 68 << 20, 108 << 20, 0};
  executor.files = {"/usr/lib/libc.so.6", "/usr/lib/libtorch_cpu.so"};
  SupervisorMemoryProbe supervisor;
  supervisor.memory = {16 << 20, 9 << 20, 6 << 20, 5 << 20, 11 << 20, 0};
  supervisor.mappings = {{"/usr/lib/libc.so.6", {2 << 20, 0, 0, 0, 2 << 20, 0}},
                         {"/opt/hare/bin/hare-node", {3 << 20, 0, 0, 1 << 20, 2 << 20, 0}},
                         {"[heap]", {4 << 20, 0, 0, 4 << 20, 0, 0}}};
  const MemoryProfile m = memory_profile_from(executor, supervisor);
  CHECK(m.executor_shared_bytes == 108 << 20);
  CHECK(m.executor_private_bytes == 62 << 20);
  CHECK(m.model_bytes == 5 << 20);
  CHECK(m.replica_bytes == 1 << 20);
  CHECK(m.supervisor_private_bytes == 5 << 20);
  CHECK(m.supervisor_shared_bytes == 2 << 20);  // its own program only: libc is the executor's too
  CHECK(m.supervisor_file_bytes == 11 << 20);
}

TEST_CASE("the runtime's idle costs round-trip and interpolate between the measured gaps", "[profile]") {
  Profile p = sample_profile();
  CHECK(p.wake_factor(1, 10.0) == 1.0);  // an older profile: not measured
  CHECK(p.hop_ms(10.0) == 0.0);
  p.idle = {IdleMeasurement{1.0, {0.04, 0.05, 0.06, 0.07}, {{1, {0.2, 0.3, 0.4, 0.5}}, {2, {0.1, 0.1, 0.2, 0.3}}}},
            IdleMeasurement{5.0, {0.06, 0.09, 0.10, 0.20}, {{1, {0.3, 0.6, 0.7, 0.8}}, {2, {0.2, 0.25, 0.3, 0.4}}}}};
  test::TempDir dir;
  write_profile(dir.file("p.yaml"), p);
  const Profile back = read_profile(dir.file("p.yaml"));
  REQUIRE(back.idle.size() == 2);
  CHECK(back.idle[1].gap_ms == 5.0);
  CHECK(back.idle[1].hop.p90_ms == Approx(0.10));
  CHECK(back.idle[0].whole_model.at(2).median_ms == Approx(0.1));
  // factor = after-idle median / back-to-back median (0.2 at 1 thread), linear in the gap, clamped.
  CHECK(back.wake_factor(1, 1.0) == Approx(1.5));
  CHECK(back.wake_factor(1, 3.0) == Approx(2.25));
  CHECK(back.wake_factor(1, 100.0) == Approx(3.0));
  CHECK(back.wake_factor(1, 0.5) == Approx(1.25));  // to 1 back to back
  CHECK(back.wake_factor(1, 0.0) == 1.0);
  CHECK(back.wake_factor(2, 1.0) == 1.0);  // faster after idling than back to back: no penalty, not a bonus
  CHECK(back.hop_ms(3.0) == Approx(0.07));
  CHECK(back.hop_ms(1e9) == Approx(0.09));

  std::string text = profile_to_yaml(p);
  text.replace(text.find("gap_ms: 5.000000"), 16, "gap_ms: 0.500000");
  CHECK_THROWS_WITH(parse_profile(text, "p.yaml"), Catch::Contains("'idle' entries must have ascending gap_ms"));
}

TEST_CASE("malformed profiles are refused with every error at file:line:col", "[profile]") {
  const std::string good = profile_to_yaml(sample_profile());
  CHECK(all_errors(good).empty());
  CHECK(all_errors(test::replaced(good, "format: hare-profile/1", "format: hare-profile/9")) ==
        std::vector<std::string>{"p.yaml:2:9: unsupported profile format 'hare-profile/9' (expected hare-profile/1)"});

  std::string bad = test::replaced(good, "cores: 2", "cores: two");
  bad = test::replaced(bad, "out_bytes: 512", "out_bytes: 513");
  bad = test::replaced(bad, "    latency_ms:\n      1: {min: 0.050000", "    latency_ms:\n      3: {min: 0.050000");
  const auto errors = all_errors(bad);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0] == "p.yaml:7:10: 'device.cores' must be an integer");
  CHECK(errors[1] == "p.yaml:47:16: out_bytes 513 disagrees with output_shape (128 float32 = 512 bytes)");
  CHECK_THAT(errors[2], Catch::EndsWith("'latency_ms' has no entry for 1 thread(s), which settings.threads lists"));

  CHECK(all_errors(test::replaced(good, "median: 0.100000", "median: 0.500000")).at(0) ==
        "p.yaml:51:10: 'latency_ms' statistics must satisfy min <= median <= p90 <= max");
  CHECK(all_errors("format: hare-profile/1\n").size() == 7);  // every missing section, at once
}

TEST_CASE("a truncated profile file is refused", "[profile]") {
  test::TempDir dir;
  const std::string good = profile_to_yaml(sample_profile());
  test::write_text(dir.file("cut.yaml"), good.substr(0, good.size() / 2));
  CHECK_THROWS_AS(read_profile(dir.file("cut.yaml")), Error);
  CHECK_THROWS_WITH(read_profile(dir.file("none.yaml")), Catch::Contains("none.yaml: cannot open file"));
}

TEST_CASE("a profile of another model is refused naming both hashes", "[profile]") {
  const Profile p = sample_profile();
  CHECK_NOTHROW(check_model_hash(p, "p.yaml", std::string(64, 'b'), "m.pt"));
  CHECK_THROWS_WITH(check_model_hash(p, "p.yaml", std::string(64, 'c'), "other.pt"),
                    "p.yaml: profile was measured for another model (sha256 bbbbbbbbbbbb…), not other.pt "
                    "(cccccccccccc…)");
}

TEST_CASE("the shipped profiles read back to the same text", "[profile]") {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(test::source_path("profiles"))) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path());
    CHECK(profile_to_yaml(read_profile(entry.path().string())) == read_file(entry.path().string()));
  }
}

TEST_CASE("a profile's unknown keys are reported with suggestions, with its other errors", "[profile]") {
  std::string text = profile_to_yaml(sample_profile());
  text = test::replaced(text, "  warmup: 2", "  warmpu: 2");
  text = test::replaced(text, "- index: 2", "- index: 2\n    below_resolutoin: true");
  CHECK(all_errors(text) == std::vector<std::string>{
                                "p.yaml:22:3: unknown key 'warmpu' (did you mean 'warmup'?)",
                                "p.yaml:21:3: missing key 'warmup'",
                                "p.yaml:54:5: unknown key 'below_resolutoin' (did you mean 'below_resolution'?)",
                            });
}

TEST_CASE("a profile whose device id or model name could not be a path is refused at file:line:col", "[profile]") {
  // hare-profile --host writes profiles/<device.id>/<model.name>.yaml from the node's answer.
  std::string text = test::replaced(profile_to_yaml(sample_profile()), "id: test-2c", "id: ../../../tmp");
  text = test::replaced(text, "name: m\n", "name: 'm;reboot'\n");
  CHECK(all_errors(text) == std::vector<std::string>{
                                "p.yaml:4:7: device.id '../../../tmp' is not a valid name: it contains '/'",
                                "p.yaml:14:9: model.name 'm;reboot' is not a valid name: it contains ';'",
                            });
}
