#include "partition/cluster.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/yaml_util.h"

namespace hare::partition {

const NodeConfig* ClusterConfig::find_node(const std::string& wanted) const {
  for (const auto& node : nodes) {
    if (node.name == wanted) return &node;
  }
  return nullptr;
}

int ClusterConfig::node_index(const std::string& wanted) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].name == wanted) return static_cast<int>(i);
  }
  return -1;
}

LinkConfig ClusterConfig::link(const std::string& from, const std::string& to) const {
  const auto it = links.find({from, to});
  return it == links.end() ? default_link : it->second;
}

std::optional<int64_t> parse_bytes(const std::string& text) {
  const std::string value(trim(text));
  size_t split_at = value.size();
  while (split_at > 0 && std::isalpha(static_cast<unsigned char>(value[split_at - 1]))) --split_at;
  const auto number = parse_double(value.substr(0, split_at));
  if (!number || *number < 0.0 || !std::isfinite(*number)) return std::nullopt;
  const std::string unit = to_lower(trim(value.substr(split_at)));
  double scale = 1.0;
  if (unit.empty() || unit == "b") scale = 1.0;
  else if (unit == "kb") scale = 1e3;
  else if (unit == "mb") scale = 1e6;
  else if (unit == "gb") scale = 1e9;
  else if (unit == "kib" || unit == "k") scale = 1024.0;
  else if (unit == "mib" || unit == "m") scale = 1024.0 * 1024.0;
  else if (unit == "gib" || unit == "g") scale = 1024.0 * 1024.0 * 1024.0;
  else return std::nullopt;
  return static_cast<int64_t>(std::llround(*number * scale));
}

namespace {

const std::vector<std::string> kTopKeys = {"format", "name", "devices", "nodes", "links", "source", "sink", "workload", "slo", "pins"};
const std::vector<std::string> kNodeKeys = {"name", "device", "cores", "mem_bytes", "address", "ssh"};

}  // namespace

ClusterConfig parse_cluster(const std::string& text, const std::string& origin) {
  const yaml::Document doc = yaml::load_string(text, origin);
  const YAML::Node& root = doc.root;
  ErrorList errors;
  ClusterConfig config;
  config.path = origin;

  auto guard = [&](auto&& body) {
    try {
      body();
    } catch (Error& error) {
      errors.add(error);
    }
  };
  guard([&] {
    const YAML::Node format = yaml::require(doc, root, "format");
    if (yaml::as_string(doc, format, "format") != "hare-cluster/1") {
      throw yaml::error_at(doc, format, fmt::format("unsupported format '{}' (expected hare-cluster/1)", format.Scalar()));
    }
  });
  errors.throw_if_any();
  yaml::check_keys(doc, root, kTopKeys, errors);
  guard([&] { config.name = root["name"] ? yaml::as_string(doc, root["name"], "name") : origin; });

  // Emulated device types.
  guard([&] {
    if (const YAML::Node devices = root["devices"]) {
      if (!devices.IsMap()) throw yaml::error_at(doc, devices, "'devices' must map device names to {profile, time_factor}");
      for (const auto& entry : devices) {
        guard([&] {
          EmulatedDevice device;
          device.name = yaml::as_string(doc, entry.first, "device name");
          device.line = entry.first.Mark().line + 1;
          yaml::check_keys(doc, entry.second, {"profile", "time_factor"}, errors);
          device.profile = yaml::as_string(doc, yaml::require(doc, entry.second, "profile"), "profile");
          const YAML::Node factor = yaml::require(doc, entry.second, "time_factor");
          device.time_factor = yaml::as_double(doc, factor, "time_factor");
          if (!(device.time_factor > 0.0)) throw yaml::error_at(doc, factor, "'time_factor' must be positive");
          config.devices.push_back(device);
        });
      }
    }
  });

  // Nodes.
  std::vector<std::string> names;
  guard([&] {
    const YAML::Node nodes = yaml::require(doc, root, "nodes");
    if (!nodes.IsSequence() || nodes.size() == 0) throw yaml::error_at(doc, nodes, "'nodes' must be a non-empty list");
    for (const auto& n : nodes) {
      NodeConfig node;
      node.line = n.Mark().line + 1;
      if (!n.IsMap()) {
        errors.add(yaml::error_at(doc, n, "each node must be a mapping with name, device, cores, mem_bytes"));
        continue;
      }
      yaml::check_keys(doc, n, kNodeKeys, errors);
      guard([&] { node.name = yaml::as_string(doc, yaml::require(doc, n, "name"), "name"); });
      guard([&] { node.device = yaml::as_string(doc, yaml::require(doc, n, "device"), "device"); });
      guard([&] {
        const YAML::Node cores = yaml::require(doc, n, "cores");
        node.cores = static_cast<int>(yaml::as_int(doc, cores, "cores"));
        if (node.cores < 1) throw yaml::error_at(doc, cores, "'cores' must be at least 1");
      });
      guard([&] {
        const YAML::Node mem = yaml::require(doc, n, "mem_bytes");
        const auto bytes = mem.IsScalar() ? parse_bytes(mem.Scalar()) : std::nullopt;
        if (!bytes || *bytes <= 0) {
          throw yaml::error_at(doc, mem, "'mem_bytes' must be a positive size, e.g. 1073741824 or 1GiB");
        }
        node.mem_bytes = *bytes;
      });
      guard([&] {
        if (n["address"]) node.address = yaml::as_string(doc, n["address"], "address");
      });
      guard([&] {
        if (const YAML::Node ssh = n["ssh"]) {
          yaml::check_keys(doc, ssh, {"user", "port", "identity_file"}, errors);
          if (ssh["user"]) node.ssh.user = yaml::as_string(doc, ssh["user"], "ssh.user");
          if (ssh["port"]) node.ssh.port = static_cast<int>(yaml::as_int(doc, ssh["port"], "ssh.port"));
          if (ssh["identity_file"]) node.ssh.identity_file = yaml::as_string(doc, ssh["identity_file"], "ssh.identity_file");
        }
      });
      if (!node.name.empty()) {
        if (std::find(names.begin(), names.end(), node.name) != names.end()) {
          errors.add(yaml::error_at(doc, n["name"], fmt::format("node '{}' is defined twice", node.name)));
        }
        names.push_back(node.name);
      }
      config.nodes.push_back(node);
    }
  });

  auto check_node = [&](const YAML::Node& at, const std::string& name, const char* what) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      errors.add(yaml::error_at(doc, at, fmt::format("{} '{}' is not a node{}", what, name, did_you_mean(name, names))));
    }
  };

  // Links.
  guard([&] {
    const YAML::Node links = yaml::require(doc, root, "links");
    yaml::check_keys(doc, links, {"default", "pairs"}, errors);
    auto parse_link = [&](const YAML::Node& node, LinkConfig& link) {
      const YAML::Node bw = yaml::require(doc, node, "bandwidth_mbps");
      link.bandwidth_mbps = yaml::as_double(doc, bw, "bandwidth_mbps");
      if (!(link.bandwidth_mbps > 0.0)) throw yaml::error_at(doc, bw, "'bandwidth_mbps' must be positive");
      const YAML::Node lat = yaml::require(doc, node, "latency_ms");
      link.latency_ms = yaml::as_double(doc, lat, "latency_ms");
      if (!(link.latency_ms >= 0.0)) throw yaml::error_at(doc, lat, "'latency_ms' must not be negative");
      if (const YAML::Node codec = node["codec"]) link.codec = yaml::as_codec(doc, codec, "codec");
    };
    guard([&] { parse_link(yaml::require(doc, links, "default"), config.default_link); });
    if (const YAML::Node pairs = links["pairs"]) {
      if (!pairs.IsSequence()) throw yaml::error_at(doc, pairs, "'links.pairs' must be a list");
      for (const auto& p : pairs) {
        guard([&] {
          yaml::check_keys(doc, p, {"from", "to", "bandwidth_mbps", "latency_ms", "codec", "symmetric"}, errors);
          const YAML::Node from = yaml::require(doc, p, "from");
          const YAML::Node to = yaml::require(doc, p, "to");
          const std::string a = yaml::as_string(doc, from, "from");
          const std::string b = yaml::as_string(doc, to, "to");
          check_node(from, a, "link end");
          check_node(to, b, "link end");
          if (a == b) throw yaml::error_at(doc, to, "a link joins two different nodes");
          LinkConfig link;
          parse_link(p, link);
          const bool symmetric = p["symmetric"] ? yaml::as_bool(doc, p["symmetric"], "symmetric") : true;
          config.links[{a, b}] = link;
          if (symmetric) config.links[{b, a}] = link;
        });
      }
    }
  });

  guard([&] {
    const YAML::Node source = yaml::require(doc, root, "source");
    config.source = yaml::as_string(doc, source, "source");
    check_node(source, config.source, "source");
  });
  config.sink = config.source;
  guard([&] {
    if (const YAML::Node sink = root["sink"]) {
      config.sink = yaml::as_string(doc, sink, "sink");
      check_node(sink, config.sink, "sink");
    }
  });
  guard([&] {
    if (const YAML::Node workload = root["workload"]) {
      yaml::check_keys(doc, workload, {"streams", "window_rate_hz"}, errors);
      if (workload["streams"]) {
        config.streams = static_cast<int>(yaml::as_int(doc, workload["streams"], "streams"));
        if (config.streams < 1) throw yaml::error_at(doc, workload["streams"], "'streams' must be at least 1");
      }
      if (workload["window_rate_hz"]) {
        const double rate = yaml::as_double(doc, workload["window_rate_hz"], "window_rate_hz");
        if (!(rate > 0.0)) throw yaml::error_at(doc, workload["window_rate_hz"], "'window_rate_hz' must be positive");
        config.window_rate_hz = rate;
      }
    }
  });
  guard([&] {
    if (const YAML::Node slo = root["slo"]) {
      yaml::check_keys(doc, slo, {"latency_ms"}, errors);
      const YAML::Node latency = yaml::require(doc, slo, "latency_ms");
      const double value = yaml::as_double(doc, latency, "latency_ms");
      if (!(value > 0.0)) throw yaml::error_at(doc, latency, "'slo.latency_ms' must be positive");
      config.slo_latency_ms = value;
    }
  });
  guard([&] {
    if (const YAML::Node pins = root["pins"]) {
      if (!pins.IsSequence()) throw yaml::error_at(doc, pins, "'pins' must be a list");
      for (const auto& p : pins) {
        guard([&] {
          yaml::check_keys(doc, p, {"layers", "node"}, errors);
          PinConfig pin;
          pin.line = p.Mark().line + 1;
          const YAML::Node node = yaml::require(doc, p, "node");
          pin.node = yaml::as_string(doc, node, "node");
          check_node(node, pin.node, "pinned node");
          // "conv1", "conv1..conv3" or "1..3".
          const std::string layers = yaml::as_string(doc, yaml::require(doc, p, "layers"), "layers");
          const size_t dots = layers.find("..");
          pin.first_layer = std::string(trim(layers.substr(0, dots)));
          pin.last_layer = dots == std::string::npos ? pin.first_layer : std::string(trim(layers.substr(dots + 2)));
          config.pins.push_back(pin);
        });
      }
    }
  });
  errors.throw_if_any();
  return config;
}

ClusterConfig load_cluster(const std::string& path) { return parse_cluster(read_file(path), path); }

}  // namespace hare::partition
