#include <catch2/catch.hpp>

#include "profile/profile.h"
#include "profile/profiler.h"
#include "test_util.h"

using namespace hare;
using namespace hare::profile;

TEST_CASE("profiling the reference model gives a complete, self-consistent profile", "[profile]") {
  test::TempDir dir;
  ProfileOptions options;
  options.model_path = test::source_path("models/hare-cnn.pt");
  options.threads = {1, 2};
  options.runs = 20;
  options.warmup = 3;
  options.idle_runs = 5;
  options.rss_probe_command = {test::tool_path("hare-profile"), "internal-rss-probe"};
  options.supervisor_probe_command = {test::tool_path("hare-node"), "internal-memory-probe"};
  const Profile measured = run_profile(options);
  write_profile(dir.file("p.yaml"), measured);
  const Profile p = read_profile(dir.file("p.yaml"));  // validates the file

  CHECK(p.model_name == "hare-cnn");
  CHECK(p.input_shape == std::vector<int64_t>{1, 6, 128});
  CHECK(p.in_bytes == 6 * 128 * 4);
  REQUIRE(p.layers.size() == 7);
  CHECK(p.layers.back().output_shape == std::vector<int64_t>{1, 12});
  CHECK(p.layers.back().out_bytes == 48);
  int64_t params = 0;
  for (const auto& layer : p.layers) {
    params += layer.param_bytes;
    for (int t : {1, 2}) {
      const auto& s = layer.latency.at(t);
      CHECK(s.min_ms > 0.0);
      CHECK(s.min_ms <= s.median_ms);
      CHECK(s.median_ms <= s.max_ms);
    }
  }
  CHECK(params > 74444 * 4);  // parameters plus batch-norm buffers
  // libtorch's pages, torch's own state, the model beyond its parameters.
  CHECK(p.memory.executor_shared_bytes > 20 << 20);
  CHECK(p.memory.executor_private_bytes > 10 << 20);
  CHECK(p.memory.model_bytes >= params);
  CHECK(p.memory.replica_bytes < p.memory.executor_private_bytes);
  CHECK(p.memory.supervisor_private_bytes > 0);
  CHECK(p.memory.supervisor_private_bytes < p.memory.executor_private_bytes);
  CHECK_FALSE(p.memory.from_rss_only);
  CHECK(p.device.cores >= 1);
  CHECK_THAT(p.device.blas, !Catch::Contains("reference"));
  // After idling, per gap and thread count (the hop is measured by the tool).
  REQUIRE(p.idle.size() == options.idle_gaps_ms.size());
  for (const auto& m : p.idle) {
    for (int t : {1, 2}) CHECK(m.whole_model.at(t).min_ms > 0.0);
  }
  // Sum of layers and whole model measure the same work: same order of magnitude.
  CHECK(p.sum_of_layer_medians_ms(1) > 0.5 * p.whole_model.at(1).median_ms);
  CHECK(p.sum_of_layer_medians_ms(1) < 2.0 * p.whole_model.at(1).median_ms);
}
