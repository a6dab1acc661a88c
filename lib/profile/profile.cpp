#include "profile/profile.h"

#include <limits>
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/stats.h"
#include "common/yaml_util.h"

namespace hare::profile {

LatencyStats summarize(std::vector<double> samples) {
  LatencyStats stats;
  if (samples.empty()) return stats;
  std::sort(samples.begin(), samples.end());
  stats.min_ms = samples.front();
  stats.median_ms = percentile_sorted(samples, 0.5);
  stats.p90_ms = percentile_sorted(samples, 0.9);
  stats.max_ms = samples.back();
  double sum = 0.0;
  for (double s : samples) sum += s;
  stats.mean_ms = sum / static_cast<double>(samples.size());
  double squares = 0.0;
  for (double s : samples) squares += (s - stats.mean_ms) * (s - stats.mean_ms);
  stats.sd_ms = samples.size() > 1 ? std::sqrt(squares / static_cast<double>(samples.size() - 1)) : 0.0;
  return stats;
}

double Profile::sum_of_layer_medians_ms(int t) const {
  double sum = 0.0;
  for (const auto& layer : layers) {
    const auto it = layer.latency.find(t);
    if (it != layer.latency.end()) sum += it->second.median_ms;
  }
  return sum;
}

namespace {

std::string ms(double value) { return fmt::format("{:.6f}", value); }

void emit_stats(YAML::Emitter& out, const LatencyStats& stats) {
  out << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "min" << YAML::Value << ms(stats.min_ms);
  out << YAML::Key << "median" << YAML::Value << ms(stats.median_ms);
  out << YAML::Key << "p90" << YAML::Value << ms(stats.p90_ms);
  out << YAML::Key << "max" << YAML::Value << ms(stats.max_ms);
  if (stats.mean_ms > 0.0) {
    out << YAML::Key << "mean" << YAML::Value << ms(stats.mean_ms);
    out << YAML::Key << "sd" << YAML::Value << ms(stats.sd_ms);
  }
  out << YAML::EndMap;
}

void emit_latency(YAML::Emitter& out, const std::map<int, LatencyStats>& latency) {
  out << YAML::BeginMap;
  for (const auto& [threads, stats] : latency) {
    out << YAML::Key << threads << YAML::Value;
    emit_stats(out, stats);
  }
  out << YAML::EndMap;
}

// Linear interpolation of y(gap) over the measured gaps, clamped at both ends.
template <typename Y>
double interpolate(const std::vector<IdleMeasurement>& idle, double gap_ms, Y&& y) {
  if (idle.empty()) return 0.0;
  if (gap_ms <= idle.front().gap_ms) return y(idle.front());
  for (size_t i = 1; i < idle.size(); ++i) {
    if (gap_ms <= idle[i].gap_ms) {
      const double f = (gap_ms - idle[i - 1].gap_ms) / (idle[i].gap_ms - idle[i - 1].gap_ms);
      return y(idle[i - 1]) + f * (y(idle[i]) - y(idle[i - 1]));
    }
  }
  return y(idle.back());
}
}  // namespace

double Profile::wake_factor(int thread_count, double gap_ms) const {
  const auto busy = whole_model.find(thread_count);
  if (busy == whole_model.end() || busy->second.median_ms <= 0.0 || idle.empty()) return 1.0;
  auto factor = [&](const IdleMeasurement& m) {
    const auto after = m.whole_model.find(thread_count);
    return after == m.whole_model.end() ? 1.0 : std::max(1.0, after->second.median_ms / busy->second.median_ms);
  };
  // Back to back (no gap) is the profile's own timing: no wake-up at all.
  if (gap_ms < idle.front().gap_ms) return 1.0 + (factor(idle.front()) - 1.0) * std::max(0.0, gap_ms) / idle.front().gap_ms;
  return interpolate(idle, gap_ms, factor);
}

double Profile::hop_ms(double gap_ms) const {
  return interpolate(idle, gap_ms, [](const IdleMeasurement& m) { return m.hop.median_ms; });
}

std::string profile_to_yaml(const Profile& p) {
  const char* const comment = "hare layer profile: measured by hare-profile; the cost model's input (see docs/design.md)";
  return yaml::write_document("hare-profile/1", comment, [&](YAML::Emitter& out) {
    out << YAML::Key << "device" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << p.device.id;
    out << YAML::Key << "hostname" << YAML::Value << p.device.hostname;
    out << YAML::Key << "cpu_model" << YAML::Value << p.device.cpu_model;
    out << YAML::Key << "cores" << YAML::Value << p.device.cores;
    out << YAML::Key << "mem_bytes" << YAML::Value << p.device.mem_bytes;
    out << YAML::Key << "kernel" << YAML::Value << p.device.kernel;
    out << YAML::Key << "libtorch" << YAML::Value << p.device.libtorch;
    out << YAML::Key << "blas" << YAML::Value << p.device.blas;
    out << YAML::Key << "date" << YAML::Value << p.device.date;
    out << YAML::EndMap;
    out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << p.model_name;
    out << YAML::Key << "file" << YAML::Value << p.model_file;
    out << YAML::Key << "sha256" << YAML::Value << p.model_sha256;
    out << YAML::Key << "input_shape" << YAML::Value << YAML::Flow << p.input_shape;
    out << YAML::Key << "dtype" << YAML::Value << p.dtype;
    out << YAML::Key << "in_bytes" << YAML::Value << p.in_bytes;
    out << YAML::EndMap;
    out << YAML::Key << "settings" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "runs" << YAML::Value << p.runs;
    out << YAML::Key << "warmup" << YAML::Value << p.warmup;
    out << YAML::Key << "threads" << YAML::Value << YAML::Flow << p.threads;
    out << YAML::Key << "expand" << YAML::Value << p.expand;
    out << YAML::Key << "omp_wait_policy" << YAML::Value << p.omp_wait_policy;
    out << YAML::EndMap;
    out << YAML::Key << "timer" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "overhead_ns" << YAML::Value << fmt::format("{:.1f}", p.timer_overhead_ns);
    out << YAML::Key << "resolution_ns" << YAML::Value << fmt::format("{:.1f}", p.timer_resolution_ns);
    out << YAML::Key << "call_overhead_ms" << YAML::Value << ms(p.call_overhead_ms);
    out << YAML::EndMap;
    out << YAML::Key << "memory" << YAML::Value << YAML::BeginMap;
    const MemoryProfile& mem = p.memory;
    if (mem.from_rss_only) {
      out << YAML::Key << "base_rss_bytes" << YAML::Value << mem.executor_private_bytes;
      out << YAML::Key << "model_rss_bytes" << YAML::Value << mem.model_bytes;
    } else {
      out << YAML::Key << "executor_shared_bytes" << YAML::Value << mem.executor_shared_bytes;
      out << YAML::Key << "executor_private_bytes" << YAML::Value << mem.executor_private_bytes;
      out << YAML::Key << "model_bytes" << YAML::Value << mem.model_bytes;
      out << YAML::Key << "replica_bytes" << YAML::Value << mem.replica_bytes;
      out << YAML::Key << "supervisor_private_bytes" << YAML::Value << mem.supervisor_private_bytes;
      out << YAML::Key << "supervisor_shared_bytes" << YAML::Value << mem.supervisor_shared_bytes;
      out << YAML::Key << "supervisor_file_bytes" << YAML::Value << mem.supervisor_file_bytes;
    }
    out << YAML::EndMap;
    out << YAML::Key << "whole_model" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "latency_ms" << YAML::Value;
    emit_latency(out, p.whole_model);
    out << YAML::EndMap;
    if (!p.idle.empty()) {
      out << YAML::Key << "idle" << YAML::Value << YAML::BeginSeq;
      for (const auto& m : p.idle) {
        out << YAML::BeginMap;
        out << YAML::Key << "gap_ms" << YAML::Value << ms(m.gap_ms);
        out << YAML::Key << "hop_ms" << YAML::Value;
        emit_stats(out, m.hop);
        out << YAML::Key << "whole_model_ms" << YAML::Value;
        emit_latency(out, m.whole_model);
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
    for (const auto& layer : p.layers) {
      out << YAML::BeginMap;
      out << YAML::Key << "index" << YAML::Value << layer.index;
      out << YAML::Key << "name" << YAML::Value << layer.name;
      out << YAML::Key << "type" << YAML::Value << layer.type;
      out << YAML::Key << "output_shape" << YAML::Value << YAML::Flow << layer.output_shape;
      out << YAML::Key << "out_bytes" << YAML::Value << layer.out_bytes;
      out << YAML::Key << "param_bytes" << YAML::Value << layer.param_bytes;
      out << YAML::Key << "below_resolution" << YAML::Value << layer.below_resolution;
      out << YAML::Key << "latency_ms" << YAML::Value;
      emit_latency(out, layer.latency);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  });
}

void write_profile(const std::string& path, const Profile& profile) {
  write_file_atomic(path, profile_to_yaml(profile));
}

namespace {

// The profile's own kinds of value, on top of yaml::Reader's.
class ProfileFields {
 public:
  explicit ProfileFields(const yaml::Reader& r) : r_(r) {}

  long long integer(const YAML::Node& n, const std::string& k, long long min = 0) const { return r_.at_least(n, k, min); }
  // A size in bytes (or a tensor's dimension). The cost model adds and
  // multiplies them in int64: base_rss_bytes 9223372036854775807 gave a
  // stage of -8796093022207 MB that fit every node. A tebibyte is far above
  // any window, model or edge process.
  long long bytes(const YAML::Node& n, const std::string& k, long long min = 0) const {
    return r_.in_range(n, k, min, 1LL << 40);
  }
  // One that an int holds.
  long long small(const YAML::Node& n, const std::string& k, long long min) const {
    return r_.in_range(n, k, min, std::numeric_limits<int>::max());
  }
  double number(const YAML::Node& n, const std::string& k) const { return r_.positive(n, k, /*allow_zero=*/true); }

  std::vector<int64_t> shape(const YAML::Node& n, const std::string& k) const {
    if (!n.IsSequence() || n.size() == 0) throw r_.error(n, fmt::format("'{}' must be a list of sizes", k));
    std::vector<int64_t> out;
    for (const auto& d : n) out.push_back(bytes(d, k, 1));
    return out;
  }

  LatencyStats stats(const YAML::Node& s, const std::string& k) const {
    if (!s.IsMap()) throw r_.error(s, fmt::format("'{}' entries need min, median, p90, max", k));
    LatencyStats stats;
    stats.min_ms = number(r_.child(s, "min"), "min");
    stats.median_ms = number(r_.child(s, "median"), "median");
    stats.p90_ms = number(r_.child(s, "p90"), "p90");
    stats.max_ms = number(r_.child(s, "max"), "max");
    if (!(stats.min_ms <= stats.median_ms && stats.median_ms <= stats.p90_ms && stats.p90_ms <= stats.max_ms)) {
      throw r_.error(s, fmt::format("'{}' statistics must satisfy min <= median <= p90 <= max", k));
    }
    // The spread: both or neither (profiles before issue 16 have neither).
    if (s["mean"] || s["sd"]) {
      stats.mean_ms = number(r_.child(s, "mean"), "mean");
      stats.sd_ms = number(r_.child(s, "sd"), "sd");
      if (!(stats.min_ms <= stats.mean_ms && stats.mean_ms <= stats.max_ms)) {
        throw r_.error(s, fmt::format("'{}' statistics must satisfy min <= mean <= max", k));
      }
    }
    return stats;
  }

  std::map<int, LatencyStats> latency(const YAML::Node& n, const std::string& k, const std::vector<int>& threads) const {
    if (!n.IsMap()) throw r_.error(n, fmt::format("'{}' must map thread counts to statistics", k));
    std::map<int, LatencyStats> out;
    for (const auto& entry : n) {
      const int t = static_cast<int>(integer(entry.first, k + " thread count", 1));
      out[t] = stats(entry.second, k);
    }
    for (int t : threads) {
      if (out.count(t) == 0) {
        throw r_.error(n, fmt::format("'{}' has no entry for {} thread(s), which settings.threads lists", k, t));
      }
    }
    return out;
  }

 private:
  const yaml::Reader& r_;
};

}  // namespace

Profile parse_profile(const std::string& text, const std::string& origin) {
  yaml::Reader r(text, origin, "hare-profile/1", "profile");
  const YAML::Node& root = r.root();
  const ProfileFields f(r);
  Profile p;

  r.keys(root, {"format", "device", "model", "settings", "timer", "memory", "whole_model", "idle", "layers"});

  const YAML::Node device = r.section(root, "device");
  r.keys(device, {"id", "hostname", "cpu_model", "cores", "mem_bytes", "kernel", "libtorch", "blas", "date"});
  r.required(device, "id", r.into_name(p.device.id, "device.id"));
  r.required(device, "hostname", r.into(p.device.hostname, "device.hostname"));
  r.required(device, "cpu_model", r.into(p.device.cpu_model, "device.cpu_model"));
  r.required(device, "cores", r.into(p.device.cores, "device.cores", 1));
  r.required(device, "mem_bytes", r.into(p.device.mem_bytes, "device.mem_bytes", 1));
  r.required(device, "kernel", r.into(p.device.kernel, "device.kernel"));
  r.required(device, "libtorch", r.into(p.device.libtorch, "device.libtorch"));
  r.required(device, "blas", r.into(p.device.blas, "device.blas"));
  r.required(device, "date", r.into(p.device.date, "device.date"));

  const YAML::Node model = r.section(root, "model");
  r.keys(model, {"name", "file", "sha256", "input_shape", "dtype", "in_bytes"});
  r.required(model, "name", r.into_name(p.model_name, "model.name"));
  r.required(model, "file", r.into(p.model_file, "model.file"));
  r.required(model, "sha256", [&](const YAML::Node& n) {
    p.model_sha256 = r.str(n, "model.sha256");
    const bool hex = p.model_sha256.size() == 64 &&
                     p.model_sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) throw r.error(n, "'model.sha256' must be 64 lowercase hex digits");
  });
  r.required(model, "input_shape", [&](const YAML::Node& n) { p.input_shape = f.shape(n, "model.input_shape"); });
  r.required(model, "dtype", [&](const YAML::Node& n) {
    p.dtype = r.str(n, "model.dtype");
    if (p.dtype != "float32") throw r.error(n, "only float32 models are supported");
  });
  r.required(model, "in_bytes", [&](const YAML::Node& n) { p.in_bytes = f.bytes(n, "model.in_bytes", 1); });

  const YAML::Node settings = r.section(root, "settings");
  r.keys(settings, {"runs", "warmup", "threads", "expand", "omp_wait_policy"});
  r.required(settings, "runs", r.into(p.runs, "settings.runs", 1));
  r.required(settings, "warmup", r.into(p.warmup, "settings.warmup", 0));
  r.required(settings, "threads", [&](const YAML::Node& n) {
    if (!n.IsSequence() || n.size() == 0) throw r.error(n, "'settings.threads' must be a non-empty list");
    for (const auto& t : n) p.threads.push_back(static_cast<int>(f.small(t, "settings.threads", 1)));
  });
  r.required(settings, "expand", [&](const YAML::Node& n) { p.expand = r.boolean(n, "settings.expand"); });
  r.optional(settings, "omp_wait_policy", r.into(p.omp_wait_policy, "settings.omp_wait_policy"));

  const YAML::Node timer = r.section(root, "timer");
  r.keys(timer, {"overhead_ns", "resolution_ns", "call_overhead_ms"});
  r.required(timer, "overhead_ns", r.into(p.timer_overhead_ns, "timer.overhead_ns"));
  r.required(timer, "resolution_ns", r.into(p.timer_resolution_ns, "timer.resolution_ns"));
  r.required(timer, "call_overhead_ms", r.into(p.call_overhead_ms, "timer.call_overhead_ms"));

  const YAML::Node memory = r.section(root, "memory");
  MemoryProfile& mem = p.memory;
  mem.from_rss_only = memory.IsMap() && memory["base_rss_bytes"] && !memory["executor_private_bytes"];
  if (mem.from_rss_only) {
    r.keys(memory, {"base_rss_bytes", "model_rss_bytes"});
    r.required(memory, "base_rss_bytes", [&](const YAML::Node& n) { mem.executor_private_bytes = f.bytes(n, "memory.base_rss_bytes", 1); });
    r.required(memory, "model_rss_bytes", [&](const YAML::Node& n) { mem.model_bytes = f.bytes(n, "memory.model_rss_bytes"); });
    mem.replica_bytes = mem.executor_private_bytes;
  } else {
    r.keys(memory, {"executor_shared_bytes", "executor_private_bytes", "model_bytes", "replica_bytes",
                    "supervisor_private_bytes", "supervisor_shared_bytes", "supervisor_file_bytes"});
    const auto field = [&](const char* key, int64_t& into, long long min) {
      r.required(memory, key, [&, key, min](const YAML::Node& n) { into = f.bytes(n, std::string("memory.") + key, min); });
    };
    field("executor_shared_bytes", mem.executor_shared_bytes, 0);
    field("executor_private_bytes", mem.executor_private_bytes, 1);
    field("model_bytes", mem.model_bytes, 0);
    field("replica_bytes", mem.replica_bytes, 0);
    field("supervisor_private_bytes", mem.supervisor_private_bytes, 0);
    field("supervisor_shared_bytes", mem.supervisor_shared_bytes, 0);
    field("supervisor_file_bytes", mem.supervisor_file_bytes, 0);
  }

  const YAML::Node whole = r.section(root, "whole_model");
  r.keys(whole, {"latency_ms"});
  r.required(whole, "latency_ms", [&](const YAML::Node& n) { p.whole_model = f.latency(n, "whole_model.latency_ms", p.threads); });
  if (root["idle"] && !root["idle"].IsSequence()) {
    r.add(root["idle"], "'idle' must be a list of {gap_ms, hop_ms, whole_model_ms}");
  } else {
    r.each(root, "idle", false, [&](const YAML::Node& entry) {
      r.keys(entry, {"gap_ms", "hop_ms", "whole_model_ms"});
      IdleMeasurement m;
      r.required(entry, "gap_ms", r.into(m.gap_ms, "idle.gap_ms"));
      r.required(entry, "hop_ms", [&](const YAML::Node& n) { m.hop = f.stats(n, "idle.hop_ms"); });
      r.required(entry, "whole_model_ms", [&](const YAML::Node& n) { m.whole_model = f.latency(n, "idle.whole_model_ms", p.threads); });
      if (!p.idle.empty() && m.gap_ms <= p.idle.back().gap_ms) r.add(entry, "'idle' entries must have ascending gap_ms");
      p.idle.push_back(m);
    });
  }

  r.required(root, "layers", [&](const YAML::Node& layers) {
    if (!layers.IsSequence() || layers.size() == 0) throw r.error(layers, "'layers' must be a non-empty list");
  });
  int expected = 1;
  r.each(root, "layers", false, [&](const YAML::Node& node) {
    r.keys(node, {"index", "name", "type", "output_shape", "out_bytes", "param_bytes", "below_resolution", "latency_ms"});
    LayerProfile layer;
    r.required(node, "index", [&](const YAML::Node& n) {
      layer.index = static_cast<int>(f.small(n, "index", 1));
      if (layer.index != expected) throw r.error(n, fmt::format("layer index {} out of order (expected {})", layer.index, expected));
    });
    r.required(node, "name", r.into(layer.name, "name"));
    r.required(node, "type", r.into(layer.type, "type"));
    r.required(node, "output_shape", [&](const YAML::Node& n) { layer.output_shape = f.shape(n, "output_shape"); });
    r.required(node, "out_bytes", [&](const YAML::Node& n) {
      layer.out_bytes = f.bytes(n, "out_bytes", 1);
      int64_t elements = 1;
      for (int64_t d : layer.output_shape) elements = d > (1LL << 40) / elements ? (1LL << 40) + 1 : elements * d;
      if (!layer.output_shape.empty() && layer.out_bytes != elements * 4) {
        throw r.error(n, fmt::format("out_bytes {} disagrees with output_shape ({} float32 = {} bytes)", layer.out_bytes,
                                     elements, elements * 4));
      }
    });
    r.required(node, "param_bytes", [&](const YAML::Node& n) { layer.param_bytes = f.bytes(n, "param_bytes"); });
    r.required(node, "below_resolution", [&](const YAML::Node& n) { layer.below_resolution = r.boolean(n, "below_resolution"); });
    r.required(node, "latency_ms", [&](const YAML::Node& n) { layer.latency = f.latency(n, "latency_ms", p.threads); });
    p.layers.push_back(std::move(layer));
    ++expected;
  });
  r.finish();
  return p;
}

Profile read_profile(const std::string& path) { return parse_profile(read_file(path), path); }

void check_model_hash(const Profile& profile, const std::string& profile_path, const std::string& model_sha256,
                      const std::string& model_path) {
  if (profile.model_sha256 == model_sha256) return;
  throw input_error(Location{profile_path}, "profile was measured for another model (sha256 {}…), not {} ({}…)",
                    profile.model_sha256.substr(0, 12), model_path, model_sha256.substr(0, 12))
      .with_hint(fmt::format("profile this model again: hare-profile --model {}", model_path));
}

std::vector<LayerComparison> compare_profiles(const Profile& a, const Profile& b) {
  if (a.model_sha256 != b.model_sha256) {
    throw input_error(Location{}, "the two profiles are of different models ({}… vs {}…)",
                      a.model_sha256.substr(0, 12), b.model_sha256.substr(0, 12));
  }
  std::vector<LayerComparison> out;
  for (size_t i = 0; i < a.layers.size() && i < b.layers.size(); ++i) {
    for (const auto& [t, stats] : a.layers[i].latency) {
      const auto it = b.layers[i].latency.find(t);
      if (it == b.layers[i].latency.end()) continue;
      out.push_back(LayerComparison{a.layers[i].name, t, stats.median_ms, it->second.median_ms});
    }
  }
  return out;
}

}  // namespace hare::profile
