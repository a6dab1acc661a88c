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
  // argv that runs a supervisor's memory probe (hare-node
  // internal-memory-probe, probe.h); needed with rss_probe_command.
  std::vector<std::string> supervisor_probe_command;
};

// Called with (done, total) rounds while measuring.
using ProgressFn = std::function<void(long long, long long)>;

Profile run_profile(const ProfileOptions& options, const ProgressFn& progress = {});

// In a fresh process: the executor memory probe (memory_probe.h): torch
// initialized as a worker does it, the model loaded and warmed up, a second
// replica thread; prints one ExecutorMemoryProbe line on stdout.
int rss_probe_main(const std::string& model_path, const std::vector<int64_t>& input_shape, int threads);

// Default thread counts for a machine with `cores` cores: 1, 2, 4, ... and cores.
std::vector<int> default_threads(int cores);

// How many cores other processes keep busy, sampled over 200 ms while this
// one sleeps.
double other_busy_cores();

// This machine: hostname, CPU model, cores, memory, kernel (not libtorch/BLAS).
DeviceInfo this_device();
std::string default_device_id(const DeviceInfo& device);

}  // namespace hare::profile
