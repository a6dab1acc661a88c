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
const std::vector<std::string> kLinkKeys = {"from", "to", "bandwidth_mbps", "latency_ms", "codec", "symmetric"};
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

// What parse_bytes reads back to the same value, as a person would write it.
std::string size_text(int64_t bytes) {
  if (bytes > 0 && bytes % kGiB == 0) return fmt::format("{}GiB", bytes / kGiB);
  if (bytes > 0 && bytes % kMiB == 0) return fmt::format("{}MiB", bytes / kMiB);
  return std::to_string(bytes);
}

bool same_link(const LinkConfig& a, const LinkConfig& b) {
  return a.bandwidth_mbps == b.bandwidth_mbps && a.latency_ms == b.latency_ms && a.codec == b.codec;
}

void emit_link_figures(YAML::Emitter& out, const LinkConfig& link) {
  out << YAML::Key << "bandwidth_mbps" << YAML::Value << yaml::exact(link.bandwidth_mbps);
  out << YAML::Key << "latency_ms" << YAML::Value << yaml::exact(link.latency_ms);
  if (link.codec != Codec::float32) out << YAML::Key << "codec" << YAML::Value << codec_name(link.codec);
}

}  // namespace

ClusterConfig parse_cluster(const std::string& text, const std::string& origin) {
  yaml::Reader r(text, origin, "hare-cluster/1", "cluster");
  const YAML::Node& root = r.root();
  r.keys(root, kTopKeys);
  ClusterConfig config;
  config.path = origin;
  config.name = origin;
  r.optional(root, "name", r.into(config.name, "name"));

  // Emulated device types.
  r.optional(root, "devices", [&](const YAML::Node& devices) {
    if (!devices.IsMap()) throw r.error(devices, "'devices' must map device names to {profile, time_factor}");
    for (const auto& entry : devices) {
      r.guard([&] {
        EmulatedDevice device;
        device.name = r.name(entry.first, "device name");
        device.line = entry.first.Mark().line + 1;
        r.keys(entry.second, {"profile", "time_factor"});
        device.profile = r.name(r.child(entry.second, "profile"), "profile");
        device.time_factor = r.positive(r.child(entry.second, "time_factor"), "time_factor");
        config.devices.push_back(device);
      });
    }
  });

  // Nodes.
  std::vector<std::string> names;
  r.required(root, "nodes", [&](const YAML::Node& nodes) {
    if (!nodes.IsSequence() || nodes.size() == 0) throw r.error(nodes, "'nodes' must be a non-empty list");
    if (nodes.size() > kMaxClusterNodes) {
      throw r.error(nodes, fmt::format("{} nodes: hare plans for at most {}", nodes.size(), kMaxClusterNodes));
    }
    for (const auto& n : nodes) {
      NodeConfig node;
      node.line = n.Mark().line + 1;
      if (!n.IsMap()) {
        r.add(n, "each node must be a mapping with name, device, cores, mem_bytes");
        continue;
      }
      r.keys(n, kNodeKeys);
      r.required(n, "name", r.into_name(node.name, "node name"));
      r.required(n, "device", r.into_name(node.device, "device"));
      r.required(n, "cores", r.into(node.cores, "cores", 1));
      r.required(n, "mem_bytes", [&](const YAML::Node& v) {
        const auto bytes = v.IsScalar() ? parse_bytes(v.Scalar()) : std::nullopt;
        if (!bytes || *bytes <= 0) throw r.error(v, "'mem_bytes' must be a positive size, e.g. 1073741824 or 1GiB");
        node.mem_bytes = *bytes;
      });
      r.optional(n, "address", r.into(node.address, "address"));
      const YAML::Node ssh = r.optional_section(n, "ssh");
      r.keys(ssh, {"user", "port", "identity_file"});
      r.optional(ssh, "user", r.into(node.ssh.user, "ssh.user"));
      r.optional(ssh, "port", r.into(node.ssh.port, "ssh.port", 1));
      r.optional(ssh, "identity_file", r.into(node.ssh.identity_file, "ssh.identity_file"));
      if (!node.name.empty()) {
        if (std::find(names.begin(), names.end(), node.name) != names.end()) {
          r.add(n["name"], fmt::format("node '{}' is defined twice", node.name));
        }
        names.push_back(node.name);
      }
      config.nodes.push_back(node);
    }
  });

  auto check_node = [&](const YAML::Node& at, const std::string& name, const char* what) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      r.add(at, fmt::format("{} '{}' is not a node{}", what, name, did_you_mean(name, names)));
    }
  };

  // Links.
  auto read_link = [&](const YAML::Node& node, LinkConfig& link) {
    r.required(node, "bandwidth_mbps", [&](const YAML::Node& v) { link.bandwidth_mbps = r.positive(v, "bandwidth_mbps"); });
    r.required(node, "latency_ms", [&](const YAML::Node& v) {
      link.latency_ms = r.number(v, "latency_ms");
      if (!(link.latency_ms >= 0.0)) throw r.error(v, "'latency_ms' must not be negative");
    });
    r.optional(node, "codec", yaml::into_codec(r, link.codec, "codec"));
  };
  const YAML::Node links = r.section(root, "links");
  r.keys(links, {"default", "pairs"});
  read_link(r.section(links, "default"), config.default_link);
  r.each(links, "pairs", false, [&](const YAML::Node& p) {
    r.keys(p, kLinkKeys);
    const YAML::Node from = r.child(p, "from");
    const YAML::Node to = r.child(p, "to");
    const std::string a = r.str(from, "from");
    const std::string b = r.str(to, "to");
    check_node(from, a, "link end");
    check_node(to, b, "link end");
    if (a == b) throw r.error(to, "a link joins two different nodes");
    LinkConfig link;
    read_link(p, link);
    bool symmetric = true;
    r.optional(p, "symmetric", [&](const YAML::Node& v) { symmetric = r.boolean(v, "symmetric"); });
    config.links[{a, b}] = link;
    if (symmetric) config.links[{b, a}] = link;
  });

  r.required(root, "source", [&](const YAML::Node& v) {
    config.source = r.str(v, "source");
    check_node(v, config.source, "source");
  });
  config.sink = config.source;
  r.optional(root, "sink", [&](const YAML::Node& v) {
    config.sink = r.str(v, "sink");
    check_node(v, config.sink, "sink");
  });
  const YAML::Node workload = r.optional_section(root, "workload");
  r.keys(workload, {"streams", "window_rate_hz"});
  r.optional(workload, "streams", r.into(config.streams, "streams", 1));
  r.optional(workload, "window_rate_hz", [&](const YAML::Node& v) { config.window_rate_hz = r.positive(v, "window_rate_hz"); });
  const YAML::Node slo = r.optional_section(root, "slo");
  r.keys(slo, {"latency_ms"});
  r.required(slo, "latency_ms", [&](const YAML::Node& v) { config.slo_latency_ms = r.positive(v, "slo.latency_ms"); });
  r.each(root, "pins", false, [&](const YAML::Node& p) {
    r.keys(p, {"layers", "node"});
    PinConfig pin;
    const YAML::Node node = r.child(p, "node");
    pin.node = r.str(node, "node");
    check_node(node, pin.node, "pinned node");
    // "conv1", "conv1..conv3" or "#1..#3".
    const YAML::Node layers_node = r.child(p, "layers");
    if (layers_node.IsNull()) {
      throw r.error(p, "'layers' is empty: quote positions (layers: \"#1..#3\"), '#' starts a YAML comment");
    }
    const std::string layers = r.str(layers_node, "layers");
    // Where the value is, for build_problem's errors about the names in it.
    const Error at = r.error(layers_node, "");
    pin.line = at.location().line;
    pin.column = at.location().column;
    pin.source_line = at.source_line();
    const size_t dots = layers.find("..");
    pin.first_layer = std::string(trim(layers.substr(0, dots)));
    pin.last_layer = dots == std::string::npos ? pin.first_layer : std::string(trim(layers.substr(dots + 2)));
    if (pin.first_layer.empty() || pin.last_layer.empty()) {
      throw r.error(layers_node, fmt::format("pin layers '{}' must be a layer or a range first..last "
                                             "(names, or positions like #1..#3)",
                                             layers));
    }
    config.pins.push_back(pin);
  });
  r.finish();
  return config;
}

ClusterConfig read_cluster(const std::string& path) { return parse_cluster(read_file(path), path); }

std::string cluster_to_yaml(const ClusterConfig& c) {
  return yaml::write_document("hare-cluster/1", [&](YAML::Emitter& out) {
    out << YAML::Key << "name" << YAML::Value << c.name;
    if (!c.devices.empty()) {
      out << YAML::Key << "devices" << YAML::Value << YAML::BeginMap;
      for (const auto& d : c.devices) {
        out << YAML::Key << d.name << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "profile" << YAML::Value << d.profile;
        out << YAML::Key << "time_factor" << YAML::Value << yaml::exact(d.time_factor);
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
    for (const auto& n : c.nodes) {
      out << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "name" << YAML::Value << n.name;
      out << YAML::Key << "device" << YAML::Value << n.device;
      out << YAML::Key << "cores" << YAML::Value << n.cores;
      out << YAML::Key << "mem_bytes" << YAML::Value << size_text(n.mem_bytes);
      out << YAML::Key << "address" << YAML::Value << n.address;
      const SshSettings defaults;
      if (n.ssh.user != defaults.user || n.ssh.port != defaults.port || n.ssh.identity_file != defaults.identity_file) {
        out << YAML::Key << "ssh" << YAML::Value << YAML::BeginMap;
        if (!n.ssh.user.empty()) out << YAML::Key << "user" << YAML::Value << n.ssh.user;
        if (n.ssh.port != defaults.port) out << YAML::Key << "port" << YAML::Value << n.ssh.port;
        if (!n.ssh.identity_file.empty()) out << YAML::Key << "identity_file" << YAML::Value << n.ssh.identity_file;
        out << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "links" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "default" << YAML::Value << YAML::Flow << YAML::BeginMap;
    emit_link_figures(out, c.default_link);
    out << YAML::EndMap;
    // One entry per pair: symmetric where both directions agree, else one per direction.
    std::vector<std::pair<std::string, std::string>> written;
    auto was_written = [&](const std::string& a, const std::string& b) {
      return std::find(written.begin(), written.end(), std::make_pair(a, b)) != written.end();
    };
    if (!c.links.empty()) {
      out << YAML::Key << "pairs" << YAML::Value << YAML::BeginSeq;
      for (const auto& [ends, link] : c.links) {
        const auto& [a, b] = ends;
        if (was_written(a, b)) continue;
        const auto back = c.links.find({b, a});
        const bool symmetric = back != c.links.end() && same_link(back->second, link);
        out << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "from" << YAML::Value << a;
        out << YAML::Key << "to" << YAML::Value << b;
        emit_link_figures(out, link);
        if (!symmetric) out << YAML::Key << "symmetric" << YAML::Value << false;
        out << YAML::EndMap;
        written.emplace_back(a, b);
        if (symmetric) written.emplace_back(b, a);
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
    out << YAML::Key << "source" << YAML::Value << c.source;
    out << YAML::Key << "sink" << YAML::Value << c.sink;
    out << YAML::Key << "workload" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "streams" << YAML::Value << c.streams;
    if (c.window_rate_hz) out << YAML::Key << "window_rate_hz" << YAML::Value << yaml::exact(*c.window_rate_hz);
    out << YAML::EndMap;
    if (c.slo_latency_ms) {
      out << YAML::Key << "slo" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "latency_ms" << YAML::Value << yaml::exact(*c.slo_latency_ms);
      out << YAML::EndMap;
    }
    if (!c.pins.empty()) {
      out << YAML::Key << "pins" << YAML::Value << YAML::BeginSeq;
      for (const auto& p : c.pins) {
        const std::string layers = p.first_layer == p.last_layer ? p.first_layer : p.first_layer + ".." + p.last_layer;
        out << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "layers" << YAML::Value << layers;
        out << YAML::Key << "node" << YAML::Value << p.node;
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
  });
}

void write_cluster(const std::string& path, const ClusterConfig& cluster) { write_file_atomic(path, cluster_to_yaml(cluster)); }

}  // namespace hare::partition
