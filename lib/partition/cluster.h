#pragma once

// The cluster config (configs/<cluster>.yaml, format hare-cluster/1): the
// edge nodes, the links between them, where windows appear (source) and
// where predictions are consumed (sink), the workload, an optional latency
// SLO, and pins. See configs/local-3node.yaml for a documented example.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/codec.h"

namespace hare::partition {

struct SshSettings {
  std::string user;
  int port = 22;
  std::string identity_file;
};

struct NodeConfig {
  std::string name;
  std::string device;  // profile directory: <profiles>/<device>/<model>.yaml
  int cores = 1;
  int64_t mem_bytes = 0;
  std::string address = "127.0.0.1";
  SshSettings ssh;
  int line = 0;  // where the node is defined, for messages
};

struct LinkConfig {
  double bandwidth_mbps = 0.0;
  double latency_ms = 0.0;  // one-way
  Codec codec = Codec::float32;  // how activations cross it (runtime/codec.h)
};

// A pin: `layers: "conv1..conv3"` (or one layer) must run on `node`. Each end
// is a layer's name ("0" is the layer named 0 of an nn.Sequential) or, with
// '#', its 1-based position in the profile ("#1..#3"; quoted in YAML, where '#'
// starts a comment). Resolved against the profile by build_problem.
struct PinConfig {
  std::string first_layer;
  std::string last_layer;
  std::string node;
  int line = 0;  // of the `layers` value, for errors
  int column = 0;
  std::string source_line;
};

// A device type without a measured profile of its own, emulated from one
// that has: every layer time is multiplied by time_factor (e.g. 8 for a
// Raspberry-Pi-class CPU emulated from a desktop-class profile). Plans on
// emulated devices are estimates; profile the real device when you have it.
struct EmulatedDevice {
  std::string name;
  std::string profile;  // a device id with a profile, or "local"
  double time_factor = 1.0;
  int line = 0;
};

// A cluster has at most this many nodes: hare plans for a few edge nodes,
// and the solver's link table grows with the square of their number (a
// config of 32,000 nodes took 13 GB before anything was said).
constexpr size_t kMaxClusterNodes = 256;

struct ClusterConfig {
  std::string path;
  std::string name;
  std::vector<EmulatedDevice> devices;
  std::vector<NodeConfig> nodes;
  LinkConfig default_link;
  std::map<std::pair<std::string, std::string>, LinkConfig> links;  // ordered (from, to)
  std::string source;
  std::string sink;  // defaults to source
  int streams = 1;
  std::optional<double> window_rate_hz;  // λ override; else from the model card
  std::optional<double> slo_latency_ms;
  std::vector<PinConfig> pins;

  const NodeConfig* find_node(const std::string& name) const;
  int node_index(const std::string& name) const;  // -1 if unknown
  LinkConfig link(const std::string& from, const std::string& to) const;
};

// Parses and validates, collecting every error with file:line:col and
// suggesting close names for unknown nodes (common/yaml_util.h: the idiom).
ClusterConfig read_cluster(const std::string& path);
ClusterConfig parse_cluster(const std::string& text, const std::string& origin);

// Every field survives write -> read; what does not survive is the file's
// form: comments, a name left out (written as the path it was read from),
// and a symmetric pair written as two entries (written back as one).
std::string cluster_to_yaml(const ClusterConfig& cluster);
void write_cluster(const std::string& path, const ClusterConfig& cluster);

// "512MiB", "2GB", "1.5 GiB", "1048576" -> bytes; nothing if not a size.
std::optional<int64_t> parse_bytes(const std::string& text);

}  // namespace hare::partition
