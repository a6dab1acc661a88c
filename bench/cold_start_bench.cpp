// Why measured stage compute exceeds the profile at low window rates: the
// whole reference model, one thread, timed back to back (as hare-profile
// does) and after an idle gap of 1 ms (slept, or busy-spun), and after
// touching 4 MB of other data. Prints median and p90 per condition.
//
//   build/bin/cold_start_bench [model.pt]   (pin it: taskset -c 1 ...)

#include <torch/script.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "common/stats.h"
#include "model/torch_boundary.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "models/hare-cnn.pt";
  at::set_num_threads(1);
  c10::InferenceMode inference;
  torch::jit::Module model = hare::model::load_module(path);
  const at::Tensor x = torch::randn({1, 6, 128});
  for (int i = 0; i < 200; ++i) model.forward({x});
  const char* names[] = {"back-to-back", "after 1 ms sleep", "after 1 ms spin", "after touching 4 MB"};
  std::printf("cold_start_bench: %s, 1 thread, 1500 runs per condition after 200 warm-up\n", path.c_str());
  std::printf("%-22s %10s %10s\n", "condition", "median_ms", "p90_ms");
  std::vector<char> junk(4 << 20, 1);
  for (int mode = 0; mode < 4; ++mode) {
    std::vector<double> samples;
    for (int i = 0; i < 1500; ++i) {
      if (mode == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (mode == 2) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
        while (std::chrono::steady_clock::now() < until) {
        }
      }
      if (mode == 3) {
        volatile long sum = 0;
        for (size_t k = 0; k < junk.size(); k += 64) sum = sum + junk[k];
      }
      const auto start = std::chrono::steady_clock::now();
      model.forward({x});
      samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    std::printf("%-22s %10.4f %10.4f\n", names[mode], hare::percentile_sorted(samples, 0.5), hare::percentile_sorted(samples, 0.9));
  }
  return 0;
}
