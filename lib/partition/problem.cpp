#include "partition/problem.h"

#include <algorithm>
#include <limits>
#include <filesystem>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/error.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "partition/queueing.h"
#include "profile/profiler.h"

namespace hare::partition {

void resolve_local_devices(ClusterConfig& cluster) {
  const std::string local = profile::default_device_id(profile::this_device());
  for (NodeConfig& node : cluster.nodes) {
    if (node.device == "local") node.device = local;
  }
  for (EmulatedDevice& device : cluster.devices) {
    if (device.profile == "local") device.profile = local;
  }
}

namespace {

// A profile that names the model's SHA-256 still has to describe it: the
// same top-level layers in order, the card's input shape, and an output of
// one score per class. (A profile edited by hand, or made with another
// --input-shape, would be planned with as if it did.)
void check_profile_describes_card(const profile::Profile& p, const std::string& path, const data::ModelCard& card,
                                  const std::string& card_path) {
  std::vector<std::string> names;
  for (const auto& layer : p.layers) names.push_back(layer.name);
  const std::vector<std::string> top_level = data::top_level_layers(names);
  if (!card.layers.empty() && top_level != card.layers) {
    throw input_error(Location{path}, "its layers [{}] are not the model's [{}] (from its card {})",
                      join(top_level, ", "), join(card.layers, ", "), card_path)
        .with_hint("profile the model again: hare-profile --model <model>");
  }
  if (!card.input_shape.empty() && p.input_shape != card.input_shape) {
    throw input_error(Location{path}, "profiled with input shape {}, but the model's card {} says {}",
                      shape_text(p.input_shape), card_path, shape_text(card.input_shape))
        .with_hint("profile with the card's shape (hare-profile reads it from the card next to the model)");
  }
  const std::vector<int64_t> scores = {1, static_cast<int64_t>(card.classes.size())};
  if (!p.layers.empty() && !card.classes.empty() && p.layers.back().output_shape != scores) {
    throw input_error(Location{path}, "the model's output is {}, but its card {} names {} classes (expected {})",
                      shape_text(p.layers.back().output_shape), card_path, card.classes.size(), shape_text(scores))
        .with_hint("the card must be the one written with this model (hare-train writes both)");
  }
}

// An error about one end of a pin, at its place in the `layers` value.
// The cost model's memory terms from a profile's probes. The model's loaded
// state beyond its parameters is what loading and warming it up added, less
// the parameters. A profile from before PSS knew one RSS figure: every
// replica was charged a whole executor, as hare did then.
MemoryCosts memory_costs(const profile::MemoryProfile& m, const std::vector<profile::LayerProfile>& layers) {
  MemoryCosts costs;
  costs.shared_bytes = m.executor_shared_bytes;
  costs.executor_bytes = m.executor_private_bytes;
  costs.replica_bytes = m.replica_bytes;
  costs.supervisor_bytes = m.supervisor_private_bytes + m.supervisor_shared_bytes;
  costs.supervisor_alone_bytes = m.supervisor_private_bytes + m.supervisor_file_bytes;
  costs.from_rss_only = m.from_rss_only;
  if (!m.from_rss_only) {
    int64_t params = 0;
    for (const auto& layer : layers) params += layer.param_bytes;
    costs.model_overhead_bytes = std::max<int64_t>(0, m.model_bytes - params);
  }
  return costs;
}

Error pin_error(const PinConfig& pin, const std::string& end, const std::string& path, std::string message) {
  const size_t at = pin.source_line.find(end, pin.column > 0 ? static_cast<size_t>(pin.column - 1) : 0);
  const int column = at == std::string::npos ? pin.column : static_cast<int>(at) + 1;
  return Error(Error::Kind::input, std::move(message), Location{path, pin.line, column}).with_source_line(pin.source_line);
}

// One end of a pin as a layer index: "#3" is the third layer; anything else
// is a name, which must name exactly one layer. Numbers are names too (an
// nn.Sequential's layers are named 0, 1, ...): "3" never means a position.
int resolve_pin_end(const PinConfig& pin, const std::string& end, const std::vector<std::string>& layers,
                    const std::string& path, ErrorList& errors) {
  const int count = static_cast<int>(layers.size());
  if (!end.empty() && end[0] == '#') {
    const auto position = parse_int(end.substr(1));
    if (position && *position >= 1 && *position <= count) return static_cast<int>(*position - 1);
    errors.add(pin_error(pin, end, path,
                         fmt::format("pin position '{}' is not a layer: the model has {} layers, #1..#{}", end, count,
                                     count))
                   .with_hint("the profile's layers are its segments (hare-profile show); hare-profile --expand cuts "
                              "inside modules for finer ones"));
    return -1;
  }
  std::vector<int> named;
  for (int i = 0; i < count; ++i) {
    if (layers[static_cast<size_t>(i)] == end) named.push_back(i);
  }
  if (named.size() == 1) return named.front();
  if (named.size() > 1) {
    std::vector<std::string> positions;
    for (int i : named) positions.push_back(fmt::format("#{}", i + 1));
    errors.add(pin_error(pin, end, path,
                         fmt::format("pin name '{}' is ambiguous: layers {} are all named so; pin them by position",
                                     end, join(positions, ", "))));
    return -1;
  }
  // A name inside others: an expanded child ("block" of block.0, block.1),
  // or a child that ends a segment ("chest" of chest+ankle, model/segments.h).
  std::vector<std::string> holders;
  for (const auto& name : layers) {
    for (std::string_view part : split(name, '+')) {
      if (part == end || part.substr(0, end.size() + 1) == end + ".") {
        holders.push_back(name);
        break;
      }
    }
  }
  if (holders.size() == 1) {
    errors.add(pin_error(pin, end, path,
                         fmt::format("pin names '{}', which is part of layer '{}': pin that name", end, holders[0])));
    return -1;
  }
  if (!holders.empty()) {
    errors.add(pin_error(pin, end, path,
                         fmt::format("pin name '{}' is ambiguous: it is the layers {}; name one, or the range {}..{}",
                                     end, join(holders, ", "), holders.front(), holders.back())));
    return -1;
  }
  std::string close;
  for (const auto& name : layers) {
    if (edit_distance(name, end) <= std::max<size_t>(1, end.size() / 3)) close += (close.empty() ? "" : ", ") + name;
  }
  std::string message = fmt::format("pin names layer '{}', which the model does not have", end);
  if (parse_int(end)) {
    message += fmt::format(" (a position is written #{})", end);
  } else if (!close.empty()) {
    message += fmt::format(" (close: {})", close);
  }
  errors.add(pin_error(pin, end, path, message).with_hint(fmt::format("layers: {}", join(layers, ", "))));
  return -1;
}

}  // namespace

std::map<std::string, profile::Profile> load_profiles(const ClusterConfig& cluster, const std::string& profiles_dir,
                                                      const data::ModelCard& card, const std::string& card_path,
                                                      const std::string& model_sha256) {
  namespace fs = std::filesystem;
  const std::string& model_name = card.name;
  std::map<std::string, profile::Profile> out;
  std::vector<std::string> available;
  std::error_code ec;
  if (fs::is_directory(profiles_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(profiles_dir, ec)) {
      if (fs::exists(entry.path() / (model_name + ".yaml"))) available.push_back(entry.path().filename().string());
    }
  }
  ErrorList errors;
  // A broken profile is one error, not one per node of its device (three
  // nodes printed the same file:line three times, "3 errors").
  std::set<std::string> refused;
  for (const NodeConfig& node : cluster.nodes) {
    if (out.count(node.device) != 0 || refused.count(node.device) != 0) continue;
    // An emulated device: its base profile with every time scaled.
    const auto emulated = std::find_if(cluster.devices.begin(), cluster.devices.end(),
                                       [&](const EmulatedDevice& d) { return d.name == node.device; });
    const std::string measured = emulated != cluster.devices.end() ? emulated->profile : node.device;
    const std::string path = (fs::path(profiles_dir) / measured / (model_name + ".yaml")).string();
    if (!fs::exists(path)) {
      errors.add(input_error(Location{cluster.path, node.line}, "node '{}': no profile of model '{}' for device '{}' ({}){}",
                             node.name, model_name, measured, path, did_you_mean(measured, available))
                     .with_hint(available.empty()
                                    ? fmt::format("profile the model on that device (hare-profile --model <model> "
                                                  "--device-id {} --out {}), or give --profiles the directory that "
                                                  "holds <device>/{}.yaml",
                                                  measured, path, model_name)
                                    : fmt::format("devices with a profile of {}: {}", model_name, join(available, ", "))));
      continue;
    }
    try {
      profile::Profile p = profile::read_profile(path);
      if (!model_sha256.empty()) profile::check_model_hash(p, path, model_sha256, model_name);
      check_profile_describes_card(p, path, card, card_path);
      if (emulated != cluster.devices.end()) {
        const double f = emulated->time_factor;
        auto scale = [f](profile::LatencyStats& s) {
          s.min_ms *= f;
          s.median_ms *= f;
          s.p90_ms *= f;
          s.max_ms *= f;
          s.mean_ms *= f;
          // The spread stays: an emulated worker adds (f - 1) times the
          // slice's own time here to each window (runtime/worker.h), so its
          // service times vary as this machine's do, not f times as much.
        };
        for (auto& layer : p.layers) {
          for (auto& entry : layer.latency) scale(entry.second);
        }
        for (auto& entry : p.whole_model) scale(entry.second);
        // The wake-up factor is a ratio and stays; the runtime's hop is the
        // operating system's, not the model's: it is kept as measured
        // (profile the real device for its own).
        for (auto& m : p.idle) {
          for (auto& entry : m.whole_model) scale(entry.second);
        }
        p.device.id = emulated->name;
      }
      out.emplace(node.device, std::move(p));
    } catch (Error& error) {
      refused.insert(node.device);
      errors.add(error);
    }
  }
  errors.throw_if_any();
  return out;
}

double window_rate(const ClusterConfig& cluster, double sample_rate_hz, int step_samples) {
  if (cluster.window_rate_hz) return *cluster.window_rate_hz;
  return cluster.streams * sample_rate_hz / std::max(1, step_samples);
}

Problem build_problem(const ClusterConfig& cluster, const std::map<std::string, profile::Profile>& profiles,
                      double rate) {
  Problem problem;
  const profile::Profile& first = profiles.begin()->second;
  for (const auto& [device, p] : profiles) {
    if (p.layers.size() != first.layers.size() || p.in_bytes != first.in_bytes) {
      throw input_error(Location{cluster.path}, "the profiles of devices '{}' and '{}' describe different layer chains",
                        profiles.begin()->first, device)
          .with_hint("profile the same model file (same --expand setting) on every device");
    }
  }
  problem.out_bytes.push_back(first.in_bytes);
  for (const auto& layer : first.layers) {
    problem.layer_names.push_back(layer.name);
    problem.out_bytes.push_back(layer.out_bytes);
    problem.param_bytes.push_back(layer.param_bytes);
  }
  std::map<std::string, int> device_index;
  for (const auto& [device, p] : profiles) {
    DeviceCosts costs;
    costs.name = device;
    costs.threads = p.threads;
    std::sort(costs.threads.begin(), costs.threads.end());
    costs.memory = memory_costs(p.memory, p.layers);
    // Windows reach a stage 1000/λ ms apart (with no workload, as far apart
    // as the profile measured): the runtime's wake-up costs at that gap.
    const double gap_ms = rate > 0.0 ? 1000.0 / rate : std::numeric_limits<double>::infinity();
    costs.hop_ms = p.hop_ms(gap_ms);
    for (int t : costs.threads) costs.wake_factor.push_back(p.wake_factor(t, gap_ms));
    // A profile from before hare recorded the spread has a mean of 0.
    bool spread = true;
    for (const auto& layer : p.layers) {
      std::vector<double> row;
      std::vector<double> sd;
      for (int t : costs.threads) {
        row.push_back(layer.latency.at(t).median_ms);
        sd.push_back(layer.latency.at(t).sd_ms);
        spread = spread && layer.latency.at(t).mean_ms > 0.0;
      }
      costs.latency_ms.push_back(row);
      costs.latency_sd_ms.push_back(sd);
    }
    if (!spread) costs.latency_sd_ms.clear();
    device_index[device] = static_cast<int>(problem.devices.size());
    problem.devices.push_back(std::move(costs));
  }
  for (const NodeConfig& node : cluster.nodes) {
    problem.nodes.push_back(ProblemNode{node.name, device_index.at(node.device), node.cores, node.mem_bytes});
  }
  const size_t n = cluster.nodes.size();
  problem.links.assign(n, std::vector<Link>(n));
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      const LinkConfig link = cluster.link(cluster.nodes[a].name, cluster.nodes[b].name);
      problem.links[a][b] = Link{link.bandwidth_mbps, link.latency_ms, link.codec};
    }
  }
  problem.source = cluster.node_index(cluster.source);
  problem.sink = cluster.node_index(cluster.sink);
  // A cluster the watch measured has its lost nodes taken out: without the
  // source or the sink there is nothing to place (and no index to use).
  for (const auto& [role, name, index] : {std::tuple{"source", cluster.source, problem.source},
                                          std::tuple{"sink", cluster.sink, problem.sink}}) {
    if (index < 0) {
      throw input_error(Location{cluster.path}, "the {} node '{}' is not among the cluster's nodes", role, name)
          .with_hint("the windows enter and leave at the source and the sink: bring that node back");
    }
  }
  problem.window_rate = rate;
  problem.arrival_cv2 = periodic_streams_arrival_cv2(cluster.streams);
  problem.slo_latency_ms = cluster.slo_latency_ms;

  ErrorList errors;
  for (const PinConfig& pin : cluster.pins) {
    const int a = resolve_pin_end(pin, pin.first_layer, problem.layer_names, cluster.path, errors);
    const int b = pin.last_layer == pin.first_layer
                      ? a
                      : resolve_pin_end(pin, pin.last_layer, problem.layer_names, cluster.path, errors);
    if (a < 0 || b < 0) continue;
    if (a > b) {
      errors.add(pin_error(pin, pin.first_layer, cluster.path,
                           fmt::format("pin range {}..{} is backwards ({} is layer #{}, {} is #{})", pin.first_layer,
                                       pin.last_layer, pin.first_layer, a + 1, pin.last_layer, b + 1)));
      continue;
    }
    problem.pins.push_back(Pin{a, b, cluster.node_index(pin.node)});
  }
  for (size_t i = 0; i < problem.pins.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const Pin& x = problem.pins[i];
      const Pin& y = problem.pins[j];
      if (x.node != y.node && x.first <= y.last && y.first <= x.last) {
        errors.add(input_error(Location{cluster.path}, "pins overlap: layers {}..{} are pinned to two nodes",
                               std::max(x.first, y.first) + 1, std::min(x.last, y.last) + 1));
      }
    }
  }
  errors.throw_if_any();
  return problem;
}

PlanningInputs load_planning_inputs(const std::string& model_path, const std::string& card_path,
                                    const std::string& cluster_path, const std::string& profiles_dir, double speed) {
  PlanningInputs in;
  const std::string card_file = card_path.empty() ? data::card_path_for_model(model_path) : card_path;
  in.card = data::read_card_for_model(model_path, card_file);
  const std::string sha = sha256_file(model_path);
  if (sha != in.card.model_sha256) throw input_error(Location{model_path}, "does not match its model card (sha256 differs)");
  in.cluster = read_cluster(cluster_path);
  resolve_local_devices(in.cluster);
  in.profiles = load_profiles(in.cluster, profiles_dir, in.card, card_file, sha);
  in.problem = build_problem(in.cluster, in.profiles,
                             window_rate(in.cluster, in.card.sample_rate_hz, in.card.step_samples) * speed);
  return in;
}

}  // namespace hare::partition
