#include "artifacts/plan.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/yaml_util.h"

namespace hare::artifacts {

const PlanNode* PlanDoc::find_node(const std::string& name) const {
  for (const auto& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

const PlanLink* PlanDoc::find_link(const std::string& from, const std::string& to) const {
  for (const auto& link : links) {
    if (link.from == from && link.to == to) return &link;
  }
  return nullptr;
}

namespace {

std::string endpoint(const PlanNode& node) { return fmt::format("tcp://{}:{}", node.address, node.port); }
std::string num(double value) { return fmt::format("{:.6g}", value); }

}  // namespace

std::string plan_to_yaml(const PlanDoc& p) {
  YAML::Emitter out;
  out << YAML::Comment("hare plan: written by hare-partition; predictions are the cost model's (see docs/design.md)");
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << "hare-plan/1";
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << p.model_name;
  out << YAML::Key << "sha256" << YAML::Value << p.model_sha256;
  out << YAML::Key << "card" << YAML::Value << "model.yaml";
  out << YAML::EndMap;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << p.cluster_name;
  out << YAML::Key << "sha256" << YAML::Value << p.cluster_sha256;
  out << YAML::EndMap;
  out << YAML::Key << "objective" << YAML::Value << p.objective;
  out << YAML::Key << "solver" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "exact" << YAML::Value << p.exact;
  out << YAML::Key << "method" << YAML::Value << p.method;
  out << YAML::EndMap;
  out << YAML::Key << "workload" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "window_rate" << YAML::Value << num(p.window_rate);
  if (p.slo_latency_ms) out << YAML::Key << "slo_latency_ms" << YAML::Value << num(*p.slo_latency_ms);
  out << YAML::EndMap;
  out << YAML::Key << "source" << YAML::Value << p.source;
  out << YAML::Key << "sink" << YAML::Value << p.sink;
  out << YAML::Key << "predicted" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "latency_ms" << YAML::Value << num(p.latency_ms);
  out << YAML::Key << "throughput" << YAML::Value << num(p.throughput);
  out << YAML::Key << "cores" << YAML::Value << p.cores;
  out << YAML::Key << "source_transfer_ms" << YAML::Value << num(p.source_transfer_ms);
  out << YAML::Key << "sink_hop_ms" << YAML::Value << num(p.sink_hop_ms);
  out << YAML::Key << "codec_to_sink" << YAML::Value << codec_name(p.codec_to_sink);
  out << YAML::Key << "in_bytes" << YAML::Value << p.in_bytes;
  out << YAML::Key << "bytes_leaving_source" << YAML::Value << p.bytes_leaving_source;
  out << YAML::EndMap;
  out << YAML::Key << "stages" << YAML::Value << YAML::BeginSeq;
  for (const auto& s : p.stages) {
    out << YAML::BeginMap;
    out << YAML::Key << "index" << YAML::Value << s.index;
    out << YAML::Key << "node" << YAML::Value << s.node;
    out << YAML::Key << "first_layer" << YAML::Value << s.first_layer;
    out << YAML::Key << "last_layer" << YAML::Value << s.last_layer;
    out << YAML::Key << "layers" << YAML::Value << YAML::Flow << s.layers;
    out << YAML::Key << "replicas" << YAML::Value << s.replicas;
    out << YAML::Key << "threads" << YAML::Value << s.threads;
    out << YAML::Key << "codec_in" << YAML::Value << codec_name(s.codec_in);
    out << YAML::Key << "compute_ms" << YAML::Value << num(s.compute_ms);
    out << YAML::Key << "wake_ms" << YAML::Value << num(s.wake_ms);
    out << YAML::Key << "hops_ms" << YAML::Value << num(s.hops_ms);
    out << YAML::Key << "out_bytes" << YAML::Value << s.out_bytes;
    out << YAML::Key << "transfer_ms" << YAML::Value << num(s.transfer_ms);
    out << YAML::Key << "memory_bytes" << YAML::Value << s.memory_bytes;
    out << YAML::Key << "slice" << YAML::Value << s.slice;
    out << YAML::Key << "input_shape" << YAML::Value << YAML::Flow << s.input_shape;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
  for (const auto& n : p.nodes) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << n.name;
    out << YAML::Key << "address" << YAML::Value << n.address;
    out << YAML::Key << "port" << YAML::Value << n.port;
    out << YAML::Key << "roles" << YAML::Value << YAML::Flow << n.roles;
    if (n.stage) out << YAML::Key << "stage" << YAML::Value << *n.stage;
    out << YAML::Key << "cores" << YAML::Value << n.cores;
    out << YAML::Key << "mem_bytes" << YAML::Value << n.mem_bytes;
    if (n.time_factor != 1.0) out << YAML::Key << "time_factor" << YAML::Value << num(n.time_factor);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "links" << YAML::Value << YAML::BeginSeq;
  for (const auto& l : p.links) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "from" << YAML::Value << l.from;
    out << YAML::Key << "to" << YAML::Value << l.to;
    out << YAML::Key << "bandwidth_mbps" << YAML::Value << num(l.bandwidth_mbps);
    out << YAML::Key << "latency_ms" << YAML::Value << num(l.latency_ms);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "equivalence_check" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "real_windows" << YAML::Value << p.check_real_windows;
  out << YAML::Key << "random_windows" << YAML::Value << p.check_random_windows;
  out << YAML::Key << "max_abs_diff" << YAML::Value << fmt::format("{:.3g}", p.check_max_abs_diff);
  if (p.check_lossy_agreement) {
    out << YAML::Key << "with_codecs" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "argmax_agreement" << YAML::Value << num(*p.check_lossy_agreement);
    out << YAML::Key << "required" << YAML::Value << num(p.check_lossy_required);
    out << YAML::Key << "max_abs_diff" << YAML::Value << fmt::format("{:.3g}", p.check_lossy_max_abs_diff);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

PlanDoc read_plan(const std::string& path) {
  const yaml::Document doc = yaml::load_file(path);
  const YAML::Node& root = doc.root;
  PlanDoc p;
  auto str = [&](const YAML::Node& map, const char* key) { return yaml::as_string(doc, yaml::require(doc, map, key), key); };
  auto integer = [&](const YAML::Node& map, const char* key) { return yaml::as_int(doc, yaml::require(doc, map, key), key); };
  auto number = [&](const YAML::Node& map, const char* key) { return yaml::as_double(doc, yaml::require(doc, map, key), key); };
  auto codec = [&](const YAML::Node& map, const char* key) { return yaml::as_codec(doc, yaml::require(doc, map, key), key); };
  if (str(root, "format") != "hare-plan/1") {
    throw yaml::error_at(doc, root["format"], "unsupported plan format (expected hare-plan/1)");
  }
  const YAML::Node model = yaml::require(doc, root, "model");
  p.model_name = str(model, "name");
  p.model_sha256 = str(model, "sha256");
  const YAML::Node cluster = yaml::require(doc, root, "cluster");
  p.cluster_name = str(cluster, "name");
  p.cluster_sha256 = str(cluster, "sha256");
  p.objective = str(root, "objective");
  const YAML::Node solver = yaml::require(doc, root, "solver");
  p.exact = yaml::as_bool(doc, yaml::require(doc, solver, "exact"), "exact");
  p.method = str(solver, "method");
  const YAML::Node workload = yaml::require(doc, root, "workload");
  p.window_rate = number(workload, "window_rate");
  if (workload["slo_latency_ms"]) p.slo_latency_ms = number(workload, "slo_latency_ms");
  p.source = str(root, "source");
  p.sink = str(root, "sink");
  const YAML::Node predicted = yaml::require(doc, root, "predicted");
  p.latency_ms = number(predicted, "latency_ms");
  p.throughput = number(predicted, "throughput");
  p.cores = static_cast<int>(integer(predicted, "cores"));
  p.source_transfer_ms = number(predicted, "source_transfer_ms");
  if (predicted["sink_hop_ms"]) p.sink_hop_ms = number(predicted, "sink_hop_ms");
  if (predicted["codec_to_sink"]) p.codec_to_sink = codec(predicted, "codec_to_sink");
  p.in_bytes = integer(predicted, "in_bytes");
  p.bytes_leaving_source = integer(predicted, "bytes_leaving_source");
  const YAML::Node stages = yaml::require(doc, root, "stages");
  if (!stages.IsSequence() || stages.size() == 0) throw yaml::error_at(doc, stages, "'stages' must be a non-empty list");
  for (const auto& s : stages) {
    PlanStage stage;
    stage.index = static_cast<int>(integer(s, "index"));
    stage.node = str(s, "node");
    stage.first_layer = static_cast<int>(integer(s, "first_layer"));
    stage.last_layer = static_cast<int>(integer(s, "last_layer"));
    stage.layers = yaml::as_string_list(doc, yaml::require(doc, s, "layers"), "layers");
    stage.replicas = static_cast<int>(integer(s, "replicas"));
    stage.threads = static_cast<int>(integer(s, "threads"));
    stage.compute_ms = number(s, "compute_ms");
    if (s["codec_in"]) stage.codec_in = codec(s, "codec_in");
    if (s["wake_ms"]) stage.wake_ms = number(s, "wake_ms");
    if (s["hops_ms"]) stage.hops_ms = number(s, "hops_ms");
    stage.out_bytes = integer(s, "out_bytes");
    stage.transfer_ms = number(s, "transfer_ms");
    stage.memory_bytes = integer(s, "memory_bytes");
    stage.slice = str(s, "slice");
    if (s["input_shape"]) {
      for (double d : yaml::as_double_list(doc, s["input_shape"], "input_shape")) stage.input_shape.push_back(static_cast<int64_t>(d));
    }
    if (stage.index != static_cast<int>(p.stages.size()) + 1) throw yaml::error_at(doc, s, "stages must be numbered 1, 2, ... in order");
    if (stage.replicas < 1 || stage.threads < 1) throw yaml::error_at(doc, s, "replicas and threads must be at least 1");
    p.stages.push_back(stage);
  }
  const YAML::Node nodes = yaml::require(doc, root, "nodes");
  if (!nodes.IsSequence()) throw yaml::error_at(doc, nodes, "'nodes' must be a list");
  for (const auto& n : nodes) {
    PlanNode node;
    node.name = str(n, "name");
    node.address = str(n, "address");
    node.port = static_cast<int>(integer(n, "port"));
    node.roles = yaml::as_string_list(doc, yaml::require(doc, n, "roles"), "roles");
    if (n["stage"]) node.stage = static_cast<int>(integer(n, "stage"));
    node.cores = static_cast<int>(integer(n, "cores"));
    node.mem_bytes = integer(n, "mem_bytes");
    if (n["time_factor"]) {
      node.time_factor = number(n, "time_factor");
      if (!(node.time_factor > 0.0)) throw yaml::error_at(doc, n["time_factor"], "'time_factor' must be positive");
    }
    p.nodes.push_back(node);
  }
  for (const auto& s : p.stages) {
    if (!p.find_node(s.node)) throw input_error(Location{path}, "stage {} runs on node '{}', which the plan does not list", s.index, s.node);
  }
  if (!p.find_node(p.source) || !p.find_node(p.sink)) throw input_error(Location{path}, "source or sink is not a node of the plan");
  if (const YAML::Node links = root["links"]) {
    for (const auto& l : links) {
      p.links.push_back(PlanLink{str(l, "from"), str(l, "to"), number(l, "bandwidth_mbps"), number(l, "latency_ms")});
    }
  }
  if (const YAML::Node check = root["equivalence_check"]) {
    p.check_real_windows = static_cast<int>(integer(check, "real_windows"));
    p.check_random_windows = static_cast<int>(integer(check, "random_windows"));
    p.check_max_abs_diff = number(check, "max_abs_diff");
    if (const YAML::Node lossy = check["with_codecs"]) {
      p.check_lossy_agreement = number(lossy, "argmax_agreement");
      p.check_lossy_required = number(lossy, "required");
      p.check_lossy_max_abs_diff = number(lossy, "max_abs_diff");
    }
  }
  return p;
}

std::string node_file_yaml(const PlanDoc& plan, const PlanNode& node) {
  YAML::Emitter out;
  out << YAML::Comment(fmt::format("what node {} runs in this plan", node.name));
  out << YAML::BeginMap;
  out << YAML::Key << "format" << YAML::Value << "hare-node/1";
  out << YAML::Key << "node" << YAML::Value << node.name;
  out << YAML::Key << "listen" << YAML::Value << endpoint(node);
  out << YAML::Key << "roles" << YAML::Value << YAML::Flow << node.roles;
  const PlanNode* first = plan.find_node(plan.stages.front().node);
  const PlanNode* sink = plan.find_node(plan.sink);
  if (node.name == plan.source) {
    out << YAML::Key << "source" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "card" << YAML::Value << "model.yaml";
    out << YAML::Key << "sends_to" << YAML::Value << endpoint(*first);
    out << YAML::EndMap;
  }
  if (node.stage) {
    const PlanStage& s = plan.stages[static_cast<size_t>(*node.stage - 1)];
    const bool last = *node.stage == static_cast<int>(plan.stages.size());
    const PlanNode* next = last ? sink : plan.find_node(plan.stages[static_cast<size_t>(*node.stage)].node);
    const PlanNode* previous = *node.stage == 1 ? plan.find_node(plan.source)
                                                : plan.find_node(plan.stages[static_cast<size_t>(*node.stage - 2)].node);
    out << YAML::Key << "stage" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "index" << YAML::Value << s.index;
    out << YAML::Key << "slice" << YAML::Value << s.slice;
    out << YAML::Key << "layers" << YAML::Value << YAML::Flow << s.layers;
    out << YAML::Key << "replicas" << YAML::Value << s.replicas;
    out << YAML::Key << "threads" << YAML::Value << s.threads;
    out << YAML::Key << "cpu_cores" << YAML::Value << s.replicas * s.threads;
    out << YAML::Key << "memory_limit_bytes" << YAML::Value << s.memory_bytes;
    out << YAML::Key << "receives_from" << YAML::Value << previous->name;
    out << YAML::Key << "sends_to" << YAML::Value << endpoint(*next);
    out << YAML::Key << "predicted_compute_ms" << YAML::Value << num(s.compute_ms);
    out << YAML::EndMap;
  }
  if (node.name == plan.sink) {
    out << YAML::Key << "sink" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "receives_from" << YAML::Value << plan.stages.back().node;
    out << YAML::Key << "card" << YAML::Value << "model.yaml";
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace hare::artifacts
