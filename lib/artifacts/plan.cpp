#include "artifacts/plan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/yaml_util.h"
#include "runtime/frame.h"

namespace hare::artifacts {

const PlanNode* PlanDoc::find_node(const std::string& name) const {
  for (const auto& node : nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

const PlanStage* PlanDoc::stage_of(const std::string& node) const {
  for (const auto& stage : stages) {
    if (stage.find_member(node)) return &stage;
  }
  return nullptr;
}

const PlanMember* PlanStage::find_member(const std::string& node) const {
  for (const auto& member : members) {
    if (member.node == node) return &member;
  }
  return nullptr;
}

Codec PlanStage::lossiest_codec_in() const {
  // The codecs' values grow with their loss (codec.h).
  Codec codec = Codec::float32;
  for (const auto& member : members) codec = std::max(codec, member.codec_in);
  return codec;
}

const PlanLink* PlanDoc::find_link(const std::string& from, const std::string& to) const {
  for (const auto& link : links) {
    if (link.from == from && link.to == to) return &link;
  }
  return nullptr;
}

namespace {

std::string num(double value) { return fmt::format("{:.6g}", value); }

}  // namespace

std::string plan_to_yaml(const PlanDoc& p) {
  const char* const comment = "hare plan: written by hare-partition; predictions are the cost model's (see docs/design.md)";
  return yaml::write_document("hare-plan/1", comment, [&](YAML::Emitter& out) {
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
    out << YAML::Key << "idle_latency_ms" << YAML::Value << num(p.idle_latency_ms);
    out << YAML::Key << "utilization" << YAML::Value << num(p.utilization);
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
      out << YAML::Key << "first_layer" << YAML::Value << s.first_layer;
      out << YAML::Key << "last_layer" << YAML::Value << s.last_layer;
      out << YAML::Key << "layers" << YAML::Value << YAML::Flow << s.layers;
      out << YAML::Key << "out_bytes" << YAML::Value << s.out_bytes;
      out << YAML::Key << "slice" << YAML::Value << s.slice;
      out << YAML::Key << "input_shape" << YAML::Value << YAML::Flow << s.input_shape;
      out << YAML::Key << "members" << YAML::Value << YAML::BeginSeq;
      for (const auto& m : s.members) {
        out << YAML::BeginMap;
        out << YAML::Key << "node" << YAML::Value << m.node;
        out << YAML::Key << "replicas" << YAML::Value << m.replicas;
        out << YAML::Key << "threads" << YAML::Value << m.threads;
        out << YAML::Key << "share" << YAML::Value << yaml::exact(m.share);
        out << YAML::Key << "codec_in" << YAML::Value << codec_name(m.codec_in);
        out << YAML::Key << "compute_ms" << YAML::Value << num(m.compute_ms);
        out << YAML::Key << "wake_ms" << YAML::Value << num(m.wake_ms);
        out << YAML::Key << "hops_ms" << YAML::Value << num(m.hops_ms);
        out << YAML::Key << "queue_ms" << YAML::Value << num(m.queue_ms);
        out << YAML::Key << "transfer_ms" << YAML::Value << num(m.transfer_ms);
        out << YAML::Key << "memory_bytes" << YAML::Value << m.memory_bytes;
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
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
      out << YAML::Key << "memory_bytes" << YAML::Value << n.memory_bytes;
      out << YAML::Key << "memory_shared_bytes" << YAML::Value << n.memory_shared_bytes;
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
  });
}

void write_plan(const std::string& path, const PlanDoc& plan) { write_file_atomic(path, plan_to_yaml(plan)); }

namespace {

// A window's shape at a stage's input: what one frame carries, so within a
// frame's rank and payload. (Read as doubles and cast, 1.5 became 1 and 1e11
// a warm-up tensor LibTorch could not allocate.) [] is a draft plan's, before
// the slices were made: unknown.
std::vector<int64_t> read_shape(yaml::Reader& r, const YAML::Node& n) {
  if (n.IsSequence() && n.size() == 0) return {};
  if (!n.IsSequence() || n.size() > static_cast<size_t>(runtime::kMaxRank)) {
    throw r.error(n, fmt::format("'input_shape' must be a list of 1 to {} sizes", runtime::kMaxRank));
  }
  constexpr long long kMaxValues = static_cast<long long>(runtime::kMaxPayloadBytes / sizeof(float));
  std::vector<int64_t> shape;
  long long values = 1;
  for (const YAML::Node& size : n) {
    shape.push_back(r.in_range(size, "input_shape", 1, kMaxValues));
    values *= shape.back();
    if (values > kMaxValues) {
      throw r.error(n, fmt::format("'input_shape' holds more than {} values, more than a frame carries", kMaxValues));
    }
  }
  return shape;
}

const std::vector<std::string> kRoles = {"source", "stage", "sink"};

// A stage's fields before groups, now each member's.
const char* const kSingleNodeKeys[] = {"node",    "replicas", "threads",     "codec_in",    "compute_ms",
                                       "wake_ms", "hops_ms",  "transfer_ms", "memory_bytes"};

// A member of a stage group from `m`: an item of 'members', or (not
// `grouped`) a stage written before groups, whose one node takes every window.
PlanMember read_member(yaml::Reader& r, const YAML::Node& m, bool grouped) {
  PlanMember member;
  r.required(m, "node", r.into(member.node, "node"));
  r.required(m, "replicas", r.into(member.replicas, "replicas", 1));
  r.required(m, "threads", r.into(member.threads, "threads", 1));
  if (grouped) {
    r.required(m, "share", [&](const YAML::Node& n) {
      member.share = r.positive(n, "share");
      if (member.share > 1.0) throw r.error(n, fmt::format("'share' is {}; a member takes at most all (1) of its stage's windows", member.share));
    });
  }
  r.optional(m, "codec_in", yaml::into_codec(r, member.codec_in, "codec_in"));
  r.required(m, "compute_ms", r.into(member.compute_ms, "compute_ms"));
  r.optional(m, "wake_ms", r.into(member.wake_ms, "wake_ms"));
  r.optional(m, "hops_ms", r.into(member.hops_ms, "hops_ms"));
  if (grouped) r.optional(m, "queue_ms", r.into(member.queue_ms, "queue_ms"));
  r.required(m, "transfer_ms", r.into(member.transfer_ms, "transfer_ms"));
  r.required(m, "memory_bytes", r.into(member.memory_bytes, "memory_bytes", 0));
  return member;
}

}  // namespace

PlanDoc parse_plan(const std::string& text, const std::string& origin) {
  yaml::Reader r(text, origin, "hare-plan/1", "plan");
  const YAML::Node& root = r.root();
  r.keys(root, {"format", "model", "cluster", "objective", "solver", "workload", "source", "sink", "predicted", "stages",
                "nodes", "links", "equivalence_check"});
  PlanDoc p;
  const YAML::Node model = r.section(root, "model");
  r.keys(model, {"name", "sha256", "card"});
  r.required(model, "name", r.into_name(p.model_name, "model.name"));
  r.required(model, "sha256", r.into(p.model_sha256, "model.sha256"));
  const YAML::Node cluster = r.section(root, "cluster");
  r.keys(cluster, {"name", "sha256"});
  r.required(cluster, "name", r.into(p.cluster_name, "cluster.name"));
  r.required(cluster, "sha256", r.into(p.cluster_sha256, "cluster.sha256"));
  r.required(root, "objective", r.into(p.objective, "objective"));
  const YAML::Node solver = r.section(root, "solver");
  r.keys(solver, {"exact", "method"});
  r.required(solver, "exact", [&](const YAML::Node& n) { p.exact = r.boolean(n, "solver.exact"); });
  r.required(solver, "method", r.into(p.method, "solver.method"));
  const YAML::Node workload = r.section(root, "workload");
  r.keys(workload, {"window_rate", "slo_latency_ms"});
  r.required(workload, "window_rate", r.into(p.window_rate, "window_rate"));
  r.optional(workload, "slo_latency_ms", [&](const YAML::Node& n) { p.slo_latency_ms = r.positive(n, "slo_latency_ms"); });
  r.required(root, "source", r.into(p.source, "source"));
  r.required(root, "sink", r.into(p.sink, "sink"));

  const YAML::Node predicted = r.section(root, "predicted");
  r.keys(predicted, {"latency_ms", "idle_latency_ms", "utilization", "throughput", "cores", "source_transfer_ms", "sink_hop_ms", "codec_to_sink", "in_bytes",
                     "bytes_leaving_source"});
  r.required(predicted, "latency_ms", r.into(p.latency_ms, "latency_ms"));
  // Plans from before the queueing term predicted the idle latency only.
  bool idle_given = false;
  r.optional(predicted, "idle_latency_ms", [&](const YAML::Node& n) {
    idle_given = true;
    r.into(p.idle_latency_ms, "idle_latency_ms")(n);
  });
  r.optional(predicted, "utilization", r.into(p.utilization, "utilization"));
  r.required(predicted, "throughput", r.into(p.throughput, "throughput"));
  r.required(predicted, "cores", r.into(p.cores, "cores", 0));
  r.required(predicted, "source_transfer_ms", r.into(p.source_transfer_ms, "source_transfer_ms"));
  r.optional(predicted, "sink_hop_ms", r.into(p.sink_hop_ms, "sink_hop_ms"));
  r.optional(predicted, "codec_to_sink", yaml::into_codec(r, p.codec_to_sink, "codec_to_sink"));
  r.required(predicted, "in_bytes", r.into(p.in_bytes, "in_bytes", 0));
  r.required(predicted, "bytes_leaving_source", r.into(p.bytes_leaving_source, "bytes_leaving_source", 0));

  r.required(root, "stages", [&](const YAML::Node& stages) {
    if (!stages.IsSequence() || stages.size() == 0) throw r.error(stages, "'stages' must be a non-empty list");
  });
  r.each(root, "stages", false, [&](const YAML::Node& s) {
    r.keys(s, {"index", "first_layer", "last_layer", "layers", "out_bytes", "slice", "input_shape", "members", "node",
               "replicas", "threads", "codec_in", "compute_ms", "wake_ms", "hops_ms", "transfer_ms", "memory_bytes"});
    PlanStage stage;
    r.required(s, "index", [&](const YAML::Node& n) {
      stage.index = static_cast<int>(r.in_range(n, "index", 1, std::numeric_limits<int>::max()));
      if (stage.index != static_cast<int>(p.stages.size()) + 1) throw r.error(n, "stages must be numbered 1, 2, ... in order");
    });
    r.required(s, "first_layer", r.into(stage.first_layer, "first_layer", 1));
    r.required(s, "last_layer", r.into(stage.last_layer, "last_layer", 1));
    r.required(s, "layers", r.into(stage.layers, "layers"));
    r.required(s, "out_bytes", r.into(stage.out_bytes, "out_bytes", 0));
    r.required(s, "slice", r.into_relative_path(stage.slice, "slice"));
    r.optional(s, "input_shape", [&](const YAML::Node& n) { stage.input_shape = read_shape(r, n); });
    if (s["members"]) {
      for (const char* key : kSingleNodeKeys) {
        if (s[key]) r.add(s[key], fmt::format("'{}' belongs to a member of the stage, under 'members'", key));
      }
      r.required(s, "members", [&](const YAML::Node& members) {
        if (!members.IsSequence() || members.size() == 0) throw r.error(members, "'members' must be a non-empty list");
      });
      r.each(s, "members", false, [&](const YAML::Node& m) {
        r.keys(m, {"node", "replicas", "threads", "share", "codec_in", "compute_ms", "wake_ms", "hops_ms", "queue_ms",
                   "transfer_ms", "memory_bytes"});
        stage.members.push_back(read_member(r, m, true));
      });
    } else {
      // A plan from before groups: the stage's one node, all its windows.
      stage.members.push_back(read_member(r, s, false));
    }
    p.stages.push_back(stage);
  });

  r.required(root, "nodes", [&](const YAML::Node& nodes) {
    if (!nodes.IsSequence()) throw r.error(nodes, "'nodes' must be a list");
  });
  r.each(root, "nodes", false, [&](const YAML::Node& n) {
    r.keys(n, {"name", "address", "port", "roles", "stage", "cores", "mem_bytes", "memory_bytes", "memory_shared_bytes",
               "time_factor"});
    PlanNode node;
    r.required(n, "name", r.into_name(node.name, "node name"));
    r.required(n, "address", r.into(node.address, "address"));
    r.required(n, "port", [&](const YAML::Node& v) { node.port = static_cast<int>(r.in_range(v, "port", 1, 65535)); });
    r.required(n, "roles", r.into(node.roles, "roles"));
    r.optional(n, "stage", r.into(node.stage, "stage", 1));
    r.required(n, "cores", r.into(node.cores, "cores", 0));
    r.required(n, "mem_bytes", r.into(node.mem_bytes, "mem_bytes", 0));
    r.optional(n, "memory_bytes", r.into(node.memory_bytes, "memory_bytes", 0));
    r.optional(n, "memory_shared_bytes", r.into(node.memory_shared_bytes, "memory_shared_bytes", 0));
    r.optional(n, "time_factor", [&](const YAML::Node& v) { node.time_factor = r.positive(v, "time_factor"); });
    p.nodes.push_back(node);
  });
  r.each(root, "links", false, [&](const YAML::Node& l) {
    r.keys(l, {"from", "to", "bandwidth_mbps", "latency_ms"});
    PlanLink link;
    r.required(l, "from", r.into_name(link.from, "from"));
    r.required(l, "to", r.into_name(link.to, "to"));
    r.required(l, "bandwidth_mbps", r.into(link.bandwidth_mbps, "bandwidth_mbps"));
    r.required(l, "latency_ms", r.into(link.latency_ms, "latency_ms"));
    p.links.push_back(link);
  });
  const YAML::Node check = r.optional_section(root, "equivalence_check");
  r.keys(check, {"real_windows", "random_windows", "max_abs_diff", "with_codecs"});
  r.required(check, "real_windows", r.into(p.check_real_windows, "real_windows", 0));
  r.required(check, "random_windows", r.into(p.check_random_windows, "random_windows", 0));
  r.required(check, "max_abs_diff", r.into(p.check_max_abs_diff, "max_abs_diff"));
  const YAML::Node lossy = r.optional_section(check, "with_codecs");
  r.keys(lossy, {"argmax_agreement", "required", "max_abs_diff"});
  r.required(lossy, "argmax_agreement", [&](const YAML::Node& n) { p.check_lossy_agreement = r.positive(n, "argmax_agreement", true); });
  r.required(lossy, "required", r.into(p.check_lossy_required, "required"));
  r.required(lossy, "max_abs_diff", r.into(p.check_lossy_max_abs_diff, "max_abs_diff"));
  r.finish();
  if (!idle_given) p.idle_latency_ms = p.latency_ms;

  // Cross-references, once every field has been read.
  if (p.stages.empty() && r.ok()) r.add(root["stages"] ? root["stages"] : root, "a plan has at least one stage");
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const PlanStage& stage = p.stages[i];
    // Stages are 1, 2, ... in order, each taking up where the one before
    // stopped: together one chain of layers, from the first.
    const int first_expected = i == 0 ? 1 : p.stages[i - 1].last_layer + 1;
    if (stage.index != static_cast<int>(i) + 1) {
      r.add(root["stages"][i]["index"], fmt::format("stage {} is listed at position {}", stage.index, i + 1));
    } else if (stage.first_layer != first_expected || stage.last_layer < stage.first_layer) {
      r.add(root["stages"][i], fmt::format("stage {} runs layers {}..{}; it must start at layer {}", stage.index,
                                           stage.first_layer, stage.last_layer, first_expected));
    } else if (static_cast<int>(stage.layers.size()) != stage.last_layer - stage.first_layer + 1) {
      r.add(root["stages"][i], fmt::format("stage {} names {} layers for layers {}..{}", stage.index, stage.layers.size(),
                                           stage.first_layer, stage.last_layer));
    }
    // A stage takes what the stage before it puts out (float32 values).
    if (i > 0 && !stage.input_shape.empty()) {
      long long values = 1;
      for (int64_t size : stage.input_shape) values *= size;
      const long long before_bytes = p.stages[i - 1].out_bytes;
      if (values * static_cast<long long>(sizeof(float)) != before_bytes) {
        r.add(root["stages"][i]["input_shape"],
              fmt::format("stage {} takes {} values per window, but stage {} puts out {} bytes ({} float32 values)",
                          stage.index, values, stage.index - 1, before_bytes, before_bytes / 4));
      }
    }
    // Where member j's field `key` is in the file (a stage from before
    // groups holds its one member's fields itself).
    const YAML::Node stage_yaml = root["stages"][i];
    const auto member_yaml = [&](size_t j, const char* key) {
      return stage_yaml["members"] ? stage_yaml["members"][j][key] : stage_yaml[key];
    };
    double shares = 0.0;
    for (size_t j = 0; j < stage.members.size(); ++j) {
      const PlanMember& member = stage.members[j];
      shares += member.share;
      const PlanNode* node = p.find_node(member.node);
      if (!node) {
        r.add(member_yaml(j, "node"), fmt::format("stage {} runs on node '{}', which the plan does not list", stage.index,
                                                  member.node));
      } else if (static_cast<long long>(member.replicas) * member.threads > node->cores) {
        // Workers are pinned to cores of their own: more than the node has
        // would share them, and every prediction of the plan assumed not.
        r.add(member_yaml(j, "replicas"),
              fmt::format("stage {} runs {} replica(s) x {} thread(s) on node '{}', which has {} core(s)", stage.index,
                          member.replicas, member.threads, member.node, node->cores));
      }
      // A node serves one stage: its cores, memory and port are the group's.
      for (size_t k = 0; k <= i; ++k) {
        const auto& others = p.stages[k].members;
        const size_t before = k == i ? j : others.size();
        for (size_t o = 0; o < before; ++o) {
          if (others[o].node != member.node) continue;
          r.add(member_yaml(j, "node"),
                k == i ? fmt::format("node '{}' is listed twice in stage {}'s group", member.node, stage.index)
                       : fmt::format("node '{}' is a member of stage {} and of stage {}; a node serves one stage",
                                     member.node, p.stages[k].index, stage.index));
        }
      }
    }
    // The frame header names a member in one byte (runtime/frame.h).
    if (stage.members.size() > 255) {
      r.add(stage_yaml["members"], fmt::format("stage {} has a group of {} nodes; a group has at most 255", stage.index,
                                               stage.members.size()));
    }
    if (std::abs(shares - 1.0) > 1e-6) {
      std::vector<std::string> each;
      for (const auto& member : stage.members) each.push_back(fmt::format("{} {}", member.node, member.share));
      r.add(stage_yaml["members"], fmt::format("stage {}'s members take shares that sum to {:.6g} ({}); they must sum to 1",
                                               stage.index, shares, join(each, ", ")));
    }
  }
  if (!p.find_node(p.source)) r.add(root["source"], fmt::format("source '{}' is not a node of the plan", p.source));
  if (!p.find_node(p.sink)) r.add(root["sink"], fmt::format("sink '{}' is not a node of the plan", p.sink));
  const auto all_listed = [&](const PlanStage& stage) {
    return std::all_of(stage.members.begin(), stage.members.end(),
                       [&](const PlanMember& member) { return p.find_node(member.node) != nullptr; });
  };
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const PlanNode& node = p.nodes[i];
    const auto& stage = node.stage;
    if (stage && static_cast<size_t>(*stage) > p.stages.size()) {
      r.add(root["nodes"][i]["stage"], fmt::format("stage {} is not in the plan ({} stages)", *stage, p.stages.size()));
    } else if (stage && !p.stages[static_cast<size_t>(*stage - 1)].find_member(node.name) &&
               all_listed(p.stages[static_cast<size_t>(*stage - 1)])) {  // else reported above
      std::vector<std::string> members;
      for (const auto& member : p.stages[static_cast<size_t>(*stage - 1)].members) members.push_back(member.node);
      r.add(root["nodes"][i]["stage"],
            fmt::format("node '{}' says it runs stage {}, {}", node.name, *stage,
                        members.size() == 1 ? fmt::format("which runs on node '{}'", members[0])
                                            : fmt::format("whose group is {}", join(members, ", "))));
    } else if (const PlanStage* serves = p.stage_of(node.name); serves && stage != serves->index) {
      r.add(root["nodes"][i], fmt::format("node '{}' is a member of stage {}'s group, but says {}", node.name,
                                          serves->index, stage ? fmt::format("stage {}", *stage) : "no stage"));
    }
    // The roles say what the rest of the plan says; an unknown or repeated
    // one was accepted silently.
    const YAML::Node roles = root["nodes"][i]["roles"];
    for (size_t k = 0; k < node.roles.size(); ++k) {
      const std::string& role = node.roles[k];
      if (std::find(kRoles.begin(), kRoles.end(), role) == kRoles.end()) {
        r.add(roles[k], fmt::format("unknown role '{}' (roles: source, stage, sink){}", role, did_you_mean(role, kRoles)));
      } else if (std::find(node.roles.begin(), node.roles.begin() + static_cast<long>(k), role) !=
                 node.roles.begin() + static_cast<long>(k)) {
        r.add(roles[k], fmt::format("role '{}' is listed twice", role));
      }
    }
    const auto has = [&](const std::string& role) {
      return std::find(node.roles.begin(), node.roles.end(), role) != node.roles.end();
    };
    const std::pair<std::string, bool> expected[] = {
        {"source", node.name == p.source}, {"stage", stage.has_value()}, {"sink", node.name == p.sink}};
    for (const auto& [role, wanted] : expected) {
      if (has(role) != wanted) {
        r.add(roles, fmt::format("node '{}' {} role '{}', but the plan {}", node.name, wanted ? "lacks" : "has", role,
                                 role == "stage" ? (wanted ? "gives it a stage" : "gives it no stage")
                                                 : fmt::format("names '{}' as its {}",
                                                               role == "source" ? p.source : p.sink, role)));
      }
    }
  }
  r.finish();
  return p;
}

PlanDoc read_plan(const std::string& path) { return parse_plan(read_file(path), path); }

}  // namespace hare::artifacts
