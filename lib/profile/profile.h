#pragma once

// The layer profile (profiles/<device-id>/<model>.yaml, format
// hare-profile/1): the cost model's input, measured on one kind of device.
// Torch-free, so that hare-partition reads it without linking torch.
//
//   format: hare-profile/1
//   device:   {id, hostname, cpu_model, cores, mem_bytes, kernel, libtorch, blas, date}
//   model:    {name, file, sha256, input_shape, dtype, in_bytes}
//   settings: {runs, warmup, threads: [1, 2], expand, omp_wait_policy}
//   timer:    {overhead_ns, resolution_ns, call_overhead_ms}
//   memory:   {executor_shared_bytes, executor_private_bytes, model_bytes,
//              replica_bytes, supervisor_private_bytes, supervisor_shared_bytes,
//              supervisor_file_bytes}
//              (profiles before PSS: {base_rss_bytes, model_rss_bytes}, read
//              as a private executor per replica)
//   whole_model: {latency_ms: {<threads>: {min, median, p90, max, mean, sd}}}
//   idle:     (optional) one entry per idle gap, ascending:
//     - {gap_ms, hop_ms: {min, median, p90, max}, whole_model_ms: {<threads>: {...}}}
//   layers:
//     - {index, name, type, output_shape, out_bytes, param_bytes,
//        below_resolution, latency_ms: {<threads>: {min, median, p90, max}}}
//
// Times are milliseconds for one window (batch 1) on the CPU; bytes are
// float32 tensor payloads. out_bytes of layer i is what crosses the link
// when the model is sliced after layer i.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hare::profile {

struct LatencyStats {
  double min_ms = 0.0;
  double median_ms = 0.0;
  double p90_ms = 0.0;
  double max_ms = 0.0;
  // The spread of the service time, for a queueing term (its squared
  // coefficient of variation is (sd/mean)^2). 0 in profiles written before
  // hare recorded them.
  double mean_ms = 0.0;
  double sd_ms = 0.0;  // sample standard deviation
};

// From raw samples (any order); empty samples give zeros.
LatencyStats summarize(std::vector<double> samples_ms);

struct DeviceInfo {
  std::string id;
  std::string hostname;
  std::string cpu_model;
  int cores = 0;
  int64_t mem_bytes = 0;
  std::string kernel;
  std::string libtorch;
  std::string blas;
  std::string date;
};

struct LayerProfile {
  int index = 0;  // 1-based position in the chain
  std::string name;
  std::string type;
  std::vector<int64_t> output_shape;
  int64_t out_bytes = 0;
  int64_t param_bytes = 0;
  bool below_resolution = false;
  std::map<int, LatencyStats> latency;  // by intra-op thread count
};

// What hare's processes take on this device, in bytes, from
// /proc/<pid>/smaps_rollup (common/memory.h) of a probe executor and a probe
// supervisor run by hare-profile. Shared = file-backed resident pages
// (program and library text): a node pays them once, however many
// processes map them. Private = anonymous pages: paid per process (or per
// inference thread). The cost model's node formula (partition/cost_model.h)
// combines them; docs/design.md "Memory" gives the measurements behind it.
struct MemoryProfile {
  int64_t executor_shared_bytes = 0;   // a torch executor that has run one op: its file-backed pages
  int64_t executor_private_bytes = 0;  // ... and its anonymous pages (torch's static state, heap, stacks)
  int64_t model_bytes = 0;             // loading the whole model and warming it up add (anonymous, parameters included)
  int64_t replica_bytes = 0;           // one more inference thread running the model in the same process
  int64_t supervisor_private_bytes = 0;  // an idle hare-node: anonymous pages
  int64_t supervisor_shared_bytes = 0;   // ... file-backed pages of files no executor maps (its own program)
  int64_t supervisor_file_bytes = 0;     // ... all its file-backed pages (a node without a stage pays them all)
  // Read from a profile written before hare measured PSS (base_rss_bytes,
  // model_rss_bytes): only RSS is known, so every replica is charged a whole
  // private executor, as hare did then.
  bool from_rss_only = false;
};

struct IdleMeasurement {
  double gap_ms = 0.0;
  LatencyStats hop;
  std::map<int, LatencyStats> whole_model;  // by thread count
};

struct Profile {
  DeviceInfo device;
  std::string model_name;
  std::string model_file;
  std::string model_sha256;
  std::vector<int64_t> input_shape;
  std::string dtype = "float32";
  int64_t in_bytes = 0;
  int runs = 0;
  int warmup = 0;
  std::vector<int> threads;
  bool expand = false;
  std::string omp_wait_policy;
  double timer_overhead_ns = 0.0;
  // Median cost of invoking a TorchScript method that does nothing: every
  // layer's timing includes it once, a whole model (or a slice) once overall.
  double call_overhead_ms = 0.0;
  double timer_resolution_ns = 0.0;
  MemoryProfile memory;
  std::map<int, LatencyStats> whole_model;
  // The runtime's own costs on this device, by how long it idled before a
  // window (empty in older profiles): one frame handed between two
  // processes over ZeroMQ while the receiver waits, and the whole model on
  // a window that arrives after the gap. A stage fed at a sensor's pace
  // wakes up for every window, and on this kind of machine the wake-up
  // grows with the gap.
  std::vector<IdleMeasurement> idle;
  std::vector<LayerProfile> layers;

  // At an idle gap between windows of `gap_ms` (interpolated linearly
  // between the measured gaps, clamped above): how many times longer the
  // model takes than back to back (at least 1; falls to 1 as the gap does;
  // 1 when not measured), and the hop (clamped below too: a busy hop still
  // costs; 0 when not measured). The slowdown is a factor, not a constant:
  // measured on slices of hare-cnn, a slice's wake-up grows with its size.
  double wake_factor(int thread_count, double gap_ms) const;
  double hop_ms(double gap_ms) const;

  // Σ per-layer medians at t threads.
  double sum_of_layer_medians_ms(int threads) const;
};

std::string profile_to_yaml(const Profile& profile);
void write_profile(const std::string& path, const Profile& profile);

// Reads and validates (file:line:col errors, all collected): the format tag,
// every required key, types, non-negative numbers, a latency entry for every
// profiled thread count in every layer, a 64-hex-digit SHA-256.
Profile read_profile(const std::string& path);
Profile parse_profile(const std::string& text, const std::string& origin);

// Refuses a profile measured for another model file.
void check_model_hash(const Profile& profile, const std::string& profile_path, const std::string& model_sha256,
                      const std::string& model_path);

// Per-layer comparison of two profiles of the same model (e.g. two runs, or
// two devices): the ratio b/a of medians at each common thread count.
struct LayerComparison {
  std::string name;
  int threads = 0;
  double a_ms = 0.0;
  double b_ms = 0.0;
  double ratio() const { return a_ms > 0.0 ? b_ms / a_ms : 0.0; }
};
std::vector<LayerComparison> compare_profiles(const Profile& a, const Profile& b);

}  // namespace hare::profile
