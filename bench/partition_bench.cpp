// Solve time of hare-partition's solver against layers and nodes, for every
// objective. Instances are random but realistic (fixed seed): layer times of
// 0.05-2 ms, a few device types with 1/2/4-thread profiles, 1-4 cores and
// 0.5-4 GB per node, links of 10-1000 Mbit/s, a window rate and an SLO.
//
//   build/bin/partition_bench [repeats] [layers nodes]   (one size only)
//
// Targets: 60 layers on 8 nodes under 2 s for every objective, exact, with
// stage groups and queueing (issue 16; 1 s without groups, issue 4); 200
// layers on 16 nodes under 5 s (heuristic allowed, gap printed).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/stats.h"
#include "partition/solver.h"

using namespace hare;
using namespace hare::partition;

namespace {

Problem make_problem(int layers, int nodes, std::mt19937& rng) {
  auto uniform = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto integer = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  Problem p;
  p.out_bytes.push_back(3072);
  for (int i = 0; i < layers; ++i) {
    p.layer_names.push_back("layer" + std::to_string(i + 1));
    p.out_bytes.push_back(integer(256, 64 * 1024));
    p.param_bytes.push_back(integer(0, 2 << 20));
  }
  const int devices = std::min(nodes, 4);
  for (int d = 0; d < devices; ++d) {
    DeviceCosts device;
    device.name = "device" + std::to_string(d);
    device.threads = {1, 2, 4};
    const double speed = uniform(0.3, 3.0);
    for (int i = 0; i < layers; ++i) {
      const double base = uniform(0.05, 2.0) * speed;
      device.latency_ms.push_back({base, base / 1.6, base / 2.2});
    }
    device.memory = MemoryCosts{110 << 20, 60 << 20, 10 << 20, 2 << 20, 10 << 20};
    p.devices.push_back(device);
  }
  for (int n = 0; n < nodes; ++n) {
    p.nodes.push_back(ProblemNode{"node" + std::to_string(n), n % devices, integer(1, 4),
                                  static_cast<int64_t>(integer(512, 4096)) << 20});
  }
  p.links.assign(static_cast<size_t>(nodes), std::vector<Link>(static_cast<size_t>(nodes)));
  for (auto& row : p.links) {
    for (auto& link : row) link = Link{uniform(10.0, 1000.0), uniform(0.1, 20.0)};
  }
  p.source = 0;
  p.sink = 0;
  p.window_rate = 20.0;
  p.slo_latency_ms = 400.0;
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  std::vector<std::pair<int, int>> sizes = {{8, 4}, {30, 6}, {60, 8}, {60, 10}, {100, 12}, {200, 16}};
  if (argc > 3) sizes = {{std::max(1, std::atoi(argv[2])), std::max(1, std::atoi(argv[3]))}};
  std::printf("partition_bench: %d repeats per cell (median shown), seed 1\n", repeats);
  std::printf("%7s %6s  %-10s %10s %10s %10s  %s\n", "layers", "nodes", "objective", "min_s", "median_s", "max_s", "result");
  for (const auto& [layers, nodes] : sizes) {
    std::mt19937 rng(1);
    const Problem problem = make_problem(layers, nodes, rng);
    for (Objective objective : {Objective::latency, Objective::throughput, Objective::resources}) {
      std::vector<double> times;
      std::string result;
      for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        try {
          const SolveResult solved = solve(problem, SolveOptions{objective, 1, 8});
          result = solved.exact ? "exact" : solved.method;
          result += "; objective " + std::to_string(objective_value(objective, solved.metrics.front()));
          int grouped = 0;  // nodes in stage groups
          for (const Stage& stage : solved.plans.front().stages) {
            if (stage.members.size() > 1) grouped += static_cast<int>(stage.members.size());
          }
          result += "; " + std::to_string(solved.plans.front().stages.size()) + " stage(s), " +
                    std::to_string(grouped) + " node(s) in groups";
        } catch (const Error& error) {
          result = error.what();
        }
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      std::sort(times.begin(), times.end());
      std::printf("%7d %6d  %-10s %10.4f %10.4f %10.4f  %s\n", layers, nodes, objective_name(objective), times.front(),
                  percentile_sorted(times, 0.5), times.back(), result.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
