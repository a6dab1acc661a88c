#pragma once

// Measuring a model, segment by segment (model/segments.h), on this machine. The public API is
// torch-free; profiler.cpp is the torch side.
//
// Method: the input is one window ([1, C, W] from the model card, or
// --input-shape) of standard-normal values; each layer's input is the
// previous segment's real output. For each thread count, after warm-up runs,
// `runs` rounds each time the whole model once and then every layer once
// (interleaved, so that a change in machine load hits both alike), under
// c10::InferenceMode as the runtime runs them. Memory is measured in a fresh
// process (see rss_probe_main), since this one has already touched torch.

#include <functional>
#include <string>
#include <vector>

#include "common/json.h"
#include "profile/profile.h"

namespace hare::profile {

struct ProfileOptions {
  std::string model_path;
  std::string card_path;            // "" = <model>.yaml when it exists
  std::vector<int64_t> input_shape;  // overrides the card's
  std::vector<int> threads;          // "" = 1, 2, 4, ... up to the cores
  int runs = 1000;
  int warmup = 100;
  // Whole-model runs after each idle gap (ms of sleep), per thread count
  // (0 = skip); ascending gaps.
  int idle_runs = 50;
  std::vector<double> idle_gaps_ms = {1.0, 5.0, 25.0};
  std::string device_id;             // "" = derived from the CPU model and core count
  bool expand = false;
  // argv prefix that runs rss_probe_main in a fresh process (the tool's own
  // hidden subcommand); empty = memory is not measured.
  std::vector<std::string> rss_probe_command;
};

// Called with (done, total) rounds while measuring.
using ProgressFn = std::function<void(long long, long long)>;

Profile run_profile(const ProfileOptions& options, const ProgressFn& progress = {});

// In a fresh process: initializes torch as an executor would (threads, a
// first op), records VmRSS as the base, loads the model and runs one window,
// and prints "base_rss_bytes N\nmodel_rss_bytes M\n" on stdout.
int rss_probe_main(const std::string& model_path, const std::vector<int64_t>& input_shape, int threads);

// What rss_probe_main prints (one JSON line) for measure_memory to read.
struct RssProbeResult {
  int64_t base_rss_bytes = 0;   // a torch process that has run one op, no model
  int64_t model_rss_bytes = 0;  // what loading the model and one forward add
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RssProbeResult, base_rss_bytes, model_rss_bytes)

// Default thread counts for a machine with `cores` cores: 1, 2, 4, ... and cores.
std::vector<int> default_threads(int cores);

// How many cores other processes keep busy, sampled over 200 ms while this
// one sleeps.
double other_busy_cores();

// This machine: hostname, CPU model, cores, memory, kernel (not libtorch/BLAS).
DeviceInfo this_device();
std::string default_device_id(const DeviceInfo& device);

}  // namespace hare::profile
