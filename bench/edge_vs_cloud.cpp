// edge_vs_cloud: does HAR at the edge beat the cloud? Runs the same held-out
// MHEALTH recordings through five deployments of one model on a 3-node
// cluster: a sensor gateway (source and sink), a nearby edge box on a LAN
// link, and a cloud node behind a WAN link.
//
//   cloud-only       raw windows cross the WAN; the cloud runs the whole model
//   edge-only        the whole model on the gateway
//   hare-latency     hare's plan, objective latency
//   hare-resources   objective resources under a latency SLO
//   hare-throughput  objective throughput, many concurrent streams, source
//                    as fast as possible
//
// Each runs locally (hare-deploy local: every node a process here, the
// plan's links emulated in user space by the runtime), or with --testbed
// (root) on the SSH test bed of tests/testbed: three hosts in network
// namespaces, deployed over SSH, the links made by tc and hare-netdelay in
// the kernel's path. The gateway's slower CPU is emulated by its time
// factor either way. Each is measured beside its plan's prediction: latency
// p50/p95/p99, throughput, bytes on every link per window, peak RSS per
// node, cores, accuracy. Writes results.md, results.json, latency.svg and
// timeline.svg into --out, and prints the table.
//
//   build/bin/edge_vs_cloud [--out bench/results] [--wan-mbps 10] [--wan-ms 40]
//                           [--gateway-factor 8] [--limit N] [--testbed]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "bench_support.h"
#include "care_home.h"
#include "artifacts/plan.h"
#include "artifacts/planner.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/strings.h"
#include "deploy/local.h"
#include "deploy/remote.h"
#include "partition/cluster.h"
#include "partition/problem.h"
#include "partition/solver.h"
#include "profile/profile.h"

namespace fs = std::filesystem;
using namespace hare;

namespace {

struct Settings {
  std::string out = "bench/results";
  std::string model = "models/hare-cnn.pt";
  std::string reduced_model = "models/hare-cnn-ae.pt";  // with a bottleneck encoder (hare-train --bottleneck)
  std::string profiles;  // "" = profile this machine into <out>/profiles
  std::vector<std::string> data = {"data/mhealth/subject07.tsv.gz", "data/mhealth/subject08.tsv.gz"};
  double wan_mbps = 10.0;
  double wan_ms = 40.0;
  double lan_mbps = 100.0;
  double lan_ms = 2.0;
  double gateway_factor = 8.0;
  double slo_ms = 20.0;
  int streams = 8;
  double speed = 20.0;
  int throughput_streams = 16;
  long long limit = 0;  // windows per stream; 0 = all
  std::string bin_dir;
  bool testbed = false;
  std::string testbed_dir;  // state of the test bed while it is up
};


struct Scenario {
  std::string name;
  std::string what;
  std::string objective = "latency";
  std::string pin_node;  // every layer on this node; "" = hare decides
  bool slo = false;
  bool as_fast_as_possible = false;
  // Source-side data reduction: another model (its encoder pinned to the
  // gateway, the rest to `rest_node`) and the WAN's codec.
  std::string model;     // "" = Settings::model
  std::string rest_node;
  std::string wan_codec = "float32";
};

struct Hop {
  std::string from;
  std::string to;
  double bytes = 0.0;
  double predicted_bytes = 0.0;
};

struct Result {
  Scenario scenario;
  artifacts::PlanDoc plan;
  runtime::SinkSummary sink;
  std::optional<double> paced_throughput;  // throughput scenarios: the latency run's offered load
  std::map<std::string, double> peak_rss_mb;
  std::vector<Hop> hops;
  int streams = 0;
  double speed = 0.0;
  double card_accuracy = 0.0;  // the model card's validation accuracy: the expectation

  double bytes_on_network() const {
    double total = 0.0;
    for (const Hop& h : hops) total += h.from == h.to ? 0.0 : h.bytes;
    return total;
  }
  double bytes_leaving_gateway() const {
    double total = 0.0;
    for (const Hop& h : hops) total += (h.from == plan.source && h.to != plan.source) ? h.bytes : 0.0;
    return total;
  }
};

// One scenario in results.json.
struct ScenarioRecord {
  std::string scenario;
  double predicted_latency_ms = 0.0;
  double predicted_throughput = 0.0;  // windows/s
  int cores = 0;
  double bytes_on_network = 0.0;       // per window, every hop between two nodes
  double bytes_leaving_gateway = 0.0;  // per window
  runtime::SinkSummary sink;
  std::optional<double> paced_throughput;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ScenarioRecord, scenario, predicted_latency_ms, predicted_throughput, cores,
                                   bytes_on_network, bytes_leaving_gateway, sink, paced_throughput)

ScenarioRecord record_of(const Result& r) {
  return ScenarioRecord{r.scenario.name, r.plan.latency_ms,   r.plan.throughput, r.plan.cores, r.bytes_on_network(),
                        r.bytes_leaving_gateway(), r.sink, r.paced_throughput};
}

// Gateway, edge and cloud: the gateway emulated `gateway_factor` times
// slower than this machine, the LAN between gateway and edge, the WAN (in
// the scenario's codec) everywhere else.
partition::ClusterConfig bench_cluster(const Settings& s, const Scenario& sc, int layers) {
  partition::ClusterConfig c;
  c.name = "edge-vs-cloud-" + sc.name;
  c.devices = {partition::EmulatedDevice{"gateway-class", "local", s.gateway_factor, 0}};
  auto node = [&](const char* name, const char* device, int cores, int64_t mem_gib, const char* testbed_address) {
    partition::NodeConfig n;
    n.name = name;
    n.device = device;
    n.cores = cores;
    n.mem_bytes = mem_gib << 30;
    n.address = s.testbed ? testbed_address : "127.0.0.1";
    if (s.testbed) n.ssh.user = "haretest";
    return n;
  };
  c.nodes = {node("gateway", "gateway-class", 1, 1, "10.77.0.11"), node("edge", "local", 2, 2, "10.77.0.12"),
             node("cloud", "local", 2, 8, "10.77.0.13")};
  const std::optional<Codec> wan_codec = parse_codec(sc.wan_codec);
  if (!wan_codec) throw failure("scenario {}: unknown codec '{}'", sc.name, sc.wan_codec);
  c.default_link = partition::LinkConfig{s.wan_mbps, s.wan_ms, *wan_codec};
  const partition::LinkConfig lan{s.lan_mbps, s.lan_ms, Codec::float32};
  c.links[{"gateway", "edge"}] = lan;
  c.links[{"edge", "gateway"}] = lan;
  c.source = "gateway";
  c.sink = "gateway";
  c.streams = sc.as_fast_as_possible ? s.throughput_streams : s.streams;
  if (sc.slo) c.slo_latency_ms = s.slo_ms;
  // By position ("#1"): layer names are the model's.
  auto pin = [](std::string first, std::string last, std::string on) {
    partition::PinConfig p;
    p.first_layer = std::move(first);
    p.last_layer = std::move(last);
    p.node = std::move(on);
    return p;
  };
  if (!sc.pin_node.empty()) c.pins.push_back(pin("#1", "#" + std::to_string(layers), sc.pin_node));
  if (!sc.rest_node.empty()) {
    c.pins.push_back(pin("encoder", "encoder", "gateway"));
    c.pins.push_back(pin("#2", "#" + std::to_string(layers), sc.rest_node));
  }
  return c;
}

Result run_scenario(const Settings& s, const Scenario& sc, const std::string& profiles, int layers) {
  const std::string model = sc.model.empty() ? s.model : sc.model;
  const std::string dir = (fs::path(s.out) / "runs" / sc.name).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string cluster = dir + "/cluster.yaml";
  partition::write_cluster(cluster, bench_cluster(s, sc, layers));
  // The plan is made for the pace it runs at (the runtime's wake-up costs
  // depend on it); "as fast as possible" plans for a workload no plan meets.
  const double plan_speed = sc.as_fast_as_possible ? 1e5 : s.speed;
  {
    const partition::PlanningInputs inputs = partition::load_planning_inputs(model, "", cluster, profiles, plan_speed);
    const partition::Objective objective = *partition::parse_objective(sc.objective);
    const partition::SolveResult solved = partition::solve(inputs.problem, partition::SolveOptions{objective, 1, 10});
    bench::write_plan(inputs, solved, model, cluster, objective, dir + "/plan");
  }
  deploy::LocalDeployOptions options;
  options.plan_dir = dir + "/plan";
  options.data = s.data;
  options.speed = sc.as_fast_as_possible ? 0.0 : s.speed;
  options.streams = sc.as_fast_as_possible ? s.throughput_streams : s.streams;
  options.limit = s.limit;
  options.run_dir = dir + "/run";
  options.node_binary = s.bin_dir + "/hare-node";
  const deploy::LocalDeployResult run = s.testbed ? bench::deploy_on_testbed(s.bin_dir, s.testbed_dir, options, cluster) : deploy::deploy_local(options);

  Result r;
  r.scenario = sc;
  r.plan = artifacts::read_plan(options.plan_dir + "/plan.yaml");
  r.card_accuracy = YAML::LoadFile(options.plan_dir + "/model.yaml")["validation"]["accuracy"].as<double>(0.0);
  r.sink = run.summary;
  r.streams = options.streams;
  r.speed = options.speed;
  if (sc.as_fast_as_possible) {
    // Saturated, a pipeline's latency is its queues (the high-water marks),
    // not the plan's: the latency figures come from a second run offered
    // half the measured throughput, the throughput from this one. (At 80%
    // the 16 streams' synchronized bursts and the shared cores' noise
    // already queue for tens of ms.)
    const double saturated = r.sink.throughput;
    const double per_stream_at_1x = r.plan.window_rate / 1e5 / options.streams;  // planned at --speed 1e5
    options.speed = 0.5 * saturated / (per_stream_at_1x * options.streams);
    options.run_dir = dir + "/run-paced";
    const runtime::SinkSummary paced =
        (s.testbed ? bench::deploy_on_testbed(s.bin_dir, s.testbed_dir, options, cluster) : deploy::deploy_local(options)).summary;
    r.sink.latency_ms_p50 = paced.latency_ms_p50;
    r.sink.latency_ms_p95 = paced.latency_ms_p95;
    r.sink.latency_ms_p99 = paced.latency_ms_p99;
    r.sink.transfer_to_sink_ms_p50 = paced.transfer_to_sink_ms_p50;
    r.sink.stages = paced.stages;
    r.paced_throughput = paced.throughput;
    r.speed = options.speed;
  }
  for (const auto& [node, status] : run.status) {
    r.peak_rss_mb[node] = static_cast<double>(status.peak_rss_bytes) / 1048576.0;
  }
  // Every hop, measured and predicted on the wire (in the link's codec).
  std::string from = r.plan.source;
  const std::vector<runtime::StageMeasurement>& stages = r.sink.stages;
  for (size_t k = 0; k < r.plan.stages.size(); ++k) {
    // A group's hop is shown to its first member (the scenarios here are
    // single-node stages).
    const artifacts::PlanMember& stage = r.plan.stages[k].members.front();
    const int64_t payload = k == 0 ? r.plan.in_bytes : r.plan.stages[k - 1].out_bytes;
    r.hops.push_back(Hop{from, stage.node, k < stages.size() ? stages[k].bytes_in : 0.0,
                         static_cast<double>(wire_bytes_of_payload(stage.codec_in, payload))});
    from = stage.node;
  }
  r.hops.push_back(Hop{from, r.plan.sink, r.sink.bytes_to_sink,
                       static_cast<double>(wire_bytes_of_payload(r.plan.codec_to_sink, r.plan.stages.back().out_bytes))});
  return r;
}


std::string placement(const artifacts::PlanDoc& plan) {
  std::string out;
  for (const auto& s : plan.stages) {
    if (!out.empty()) out += " → ";
    std::vector<std::string> nodes;
    for (const auto& member : s.members) nodes.push_back(member.node);
    out += fmt::format("{}[{}..{}]", join(nodes, "|"), s.layers.front(), s.layers.back());
  }
  return out;
}

std::string markdown(const Settings& s, const std::vector<Result>& results, const std::string& command) {
  std::string md;
  md += "# Edge versus cloud: measured\n\n";
  md += fmt::format(
      "Made by `{}` on {} (a 2-core VM). Each scenario streams the held-out MHEALTH subjects 07 and 08 ({} windows per "
      "stream). {} a LAN of {} "
      "Mbit/s and {} ms between the gateway and the edge box, and a WAN of {} Mbit/s and {} ms one-way to the cloud. The "
      "gateway's CPU is emulated {}x slower than this machine (a Raspberry-Pi-class board, assumed). The edge box and the "
      "cloud run at this machine's speed. Each figure is shown as measured, with the plan's prediction in parentheses.\n\n",
      command, bench::today(), s.limit > 0 ? std::to_string(s.limit) : "all",
      s.testbed ? "The nodes are the SSH test bed's hosts (network namespaces on this machine, deployed over SSH); "
                  "their links are made in the kernel's path (tc tbf for bandwidth, hare-netdelay for latency):"
                : "Every node runs as a process on this machine. The plan's links are emulated in user space by the "
                  "runtime:",
      s.lan_mbps,
      s.lan_ms, s.wan_mbps, s.wan_ms, s.gateway_factor);
  md += "| scenario | placement | latency p50 ms | p95 | p99 | throughput w/s | bytes on the network per window | bytes leaving the gateway | peak RSS per node MB (plan) | cores | accuracy (card) |\n";
  md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const Result& r : results) {
    double predicted_network = 0.0;
    double predicted_leaving = 0.0;
    for (const Hop& h : r.hops) {
      if (h.from != h.to) predicted_network += h.predicted_bytes;
      if (h.from == r.plan.source && h.to != r.plan.source) predicted_leaving += h.predicted_bytes;
    }
    // Measured (supervisor and workers) with the plan's memory for the
    // node's stage in parentheses (the executor's base, parameters, activations).
    std::string rss;
    for (const auto& [node, mb] : r.peak_rss_mb) {
      std::string predicted;
      for (const auto& stage : r.plan.stages) {
        if (const auto* member = stage.find_member(node)) {
          predicted = fmt::format(" ({:.0f})", static_cast<double>(member->memory_bytes) / 1048576.0);
        }
      }
      rss += fmt::format("{}{} {:.0f}{}", rss.empty() ? "" : ", ", node, mb, predicted);
    }
    md += fmt::format("| {} | {} | {:.2f} ({:.2f}) | {:.2f} | {:.2f} | {:.1f} ({}) | {:.0f} ({:.0f}) | {:.0f} ({:.0f}) | {} | {} | {:.4f} ({:.4f}) |\n",
                      r.scenario.name, placement(r.plan), r.sink.latency_ms_p50, r.plan.latency_ms,
                      r.sink.latency_ms_p95, r.sink.latency_ms_p99,
                      r.sink.throughput,
                      r.scenario.as_fast_as_possible ? fmt::format("capacity {:.1f}", r.plan.throughput)
                                                     : fmt::format("offered {:.1f}", r.plan.window_rate),
                      r.bytes_on_network(), predicted_network, r.bytes_leaving_gateway(), predicted_leaving, rss,
                      r.plan.cores, r.sink.accuracy, r.card_accuracy);
  }
  md += "\nPer scenario: what it is, bytes on every link per window (measured / predicted), and the latency against "
        "the prediction.\n\n";
  for (const Result& r : results) {
    const double measured = r.sink.latency_ms_p50;
    md += fmt::format("- **{}** ({}; {} stream(s), {}): ", r.scenario.name, r.scenario.what, r.streams,
                      r.scenario.as_fast_as_possible
                          ? fmt::format("throughput with the source as fast as possible; latency at half of that, "
                                        "{:.1f} windows/s ({:.0f}x real time)",
                                        r.paced_throughput.value_or(0.0), r.speed)
                          : fmt::format("{}x real time", r.speed));
    std::string links;
    for (const Hop& h : r.hops) {
      if (h.from == h.to) continue;
      links += fmt::format("{}{}→{} {:.0f}/{:.0f} B", links.empty() ? "" : ", ", h.from, h.to, h.bytes, h.predicted_bytes);
    }
    md += (links.empty() ? "nothing crosses a link" : links) +
          fmt::format("; latency p50 {:+.0f}% against the prediction.\n", 100.0 * (measured / r.plan.latency_ms - 1.0));
  }
  return md;
}

std::string reduction_markdown(const Settings& s, const Result& raw, const std::vector<Result>& reduced) {
  const double raw_bytes = raw.bytes_leaving_gateway();
  const double raw_accuracy = raw.sink.accuracy;
  std::string md = fmt::format(
      "\n## Source-side data reduction\n\n"
      "`{}` has a bottleneck encoder in front (trained jointly with the classifier, `hare-train --bottleneck 8,8`: every "
      "8 samples of 6 channels become 8 values). The gateway runs only the encoder and sends the code to the cloud over "
      "the WAN in each codec. The baseline is cloud-only with `{}`: {:.0f} bytes per window leave the gateway, at "
      "accuracy {:.4f}. Both are on the same held-out windows.\n\n"
      "| scenario | bytes leaving the gateway per window | vs raw | accuracy | change | latency p50 ms | equivalence check with the codec |\n"
      "| --- | --- | --- | --- | --- | --- | --- |\n",
      s.reduced_model, s.model, raw_bytes, raw_accuracy);
  for (const Result& r : reduced) {
    const double bytes = r.bytes_leaving_gateway();
    const double accuracy = r.sink.accuracy;
    md += fmt::format("| {} | {:.0f} ({:.0f} predicted) | −{:.1f}% | {:.4f} | {:+.2f} points | {:.2f} ({:.2f}) | {} |\n", r.scenario.name,
                      bytes, static_cast<double>(r.plan.bytes_leaving_source), 100.0 * (1.0 - bytes / raw_bytes), accuracy,
                      100.0 * (accuracy - raw_accuracy), r.sink.latency_ms_p50, r.plan.latency_ms,
                      r.plan.check_lossy_agreement
                          ? fmt::format("argmax agrees on {:.1f}% of {} real windows (≥ {:.0f}% required)",
                                        100.0 * *r.plan.check_lossy_agreement, r.plan.check_real_windows,
                                        100.0 * r.plan.check_lossy_required)
                          : std::string("exact (lossless)"));
  }
  return md;
}

// Grouped bars on a log scale: measured p50 (and p95 whisker) against predicted latency.
std::string latency_svg(const std::vector<Result>& results) {
  const double width = 760, height = 360, left = 70, bottom = 300, top = 30;
  const double lo = 0.1, hi = 1000.0;
  auto y = [&](double ms) { return bottom - (std::log10(std::clamp(ms, lo, hi)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * (bottom - top); };
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">
<text x="{}" y="18" font-size="14">End-to-end latency per window (ms, log scale): measured p50 with p95, and predicted</text>
)", width, height, left);
  for (double t : {0.1, 1.0, 10.0, 100.0, 1000.0}) {
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#ddd"/><text x="{}" y="{:.1f}" text-anchor="end">{}</text>
)", left, width - 10, y(t), y(t), left - 6, y(t) + 4, t);
  }
  const double slot = (width - left - 10) / static_cast<double>(std::max<size_t>(1, results.size()));
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    const double x = left + slot * static_cast<double>(i) + slot * 0.15;
    const double w = slot * 0.3;
    const double p50 = r.sink.latency_ms_p50;
    const double p95 = r.sink.latency_ms_p95;
    svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#3b78b5"/>
<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#000"/>
<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#f0a13a"/>
<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{:.2f}</text>
<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>
)",
                       x, y(p50), w, bottom - y(p50), x + w / 2, x + w / 2, y(p50), y(p95), x + w, y(r.plan.latency_ms), w,
                       bottom - y(r.plan.latency_ms), x + w, y(std::max(p50, r.plan.latency_ms)) - 4, p50, x + w, bottom + 16,
                       r.scenario.name);
  }
  svg += fmt::format(R"(<rect x="{}" y="{}" width="10" height="10" fill="#3b78b5"/><text x="{}" y="{}">measured p50 (line: p95)</text>
<rect x="{}" y="{}" width="10" height="10" fill="#f0a13a"/><text x="{}" y="{}">predicted by the plan</text>
</svg>
)", left, bottom + 30, left + 14, bottom + 39, left + 200, bottom + 30, left + 214, bottom + 39);
  return svg;
}

// One window through each deployment: medians of every part, measured (top
// bar) and predicted (bottom bar), each row scaled to its own total.
std::string timeline_svg(const std::vector<Result>& results) {
  const double width = 900, row = 64, left = 150, right = 20;
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">
<text x="10" y="18" font-size="14">One window, part by part (medians; each row scaled to its own total): measured above, predicted below</text>
)", width, 40 + row * static_cast<double>(results.size()) + 30);
  const char* link_colour = "#9ecae1";
  const char* compute_colour = "#e6550d";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    const std::vector<runtime::StageMeasurement>& stages = r.sink.stages;
    std::vector<std::pair<std::string, double>> measured;
    std::vector<std::pair<std::string, double>> predicted;
    for (size_t k = 0; k < r.plan.stages.size() && k < stages.size(); ++k) {
      const artifacts::PlanMember& s = r.plan.stages[k].members.front();
      measured.emplace_back("in", stages[k].transfer_in_ms_p50);
      measured.emplace_back(s.node, stages[k].compute_ms_p50);
      const double link_in = k == 0 ? r.plan.source_transfer_ms : r.plan.stages[k - 1].members.front().transfer_ms;
      predicted.emplace_back("in", link_in + s.hops_ms);
      predicted.emplace_back(s.node, s.compute_ms + s.wake_ms);
    }
    measured.emplace_back("out", r.sink.transfer_to_sink_ms_p50);
    predicted.emplace_back("out", r.plan.stages.back().members.front().transfer_ms + r.plan.sink_hop_ms);
    const double y0 = 40 + row * static_cast<double>(i);
    svg += fmt::format(R"(<text x="10" y="{:.1f}">{}</text>
)", y0 + 24, r.scenario.name);
    for (int which = 0; which < 2; ++which) {
      const auto& parts = which == 0 ? measured : predicted;
      double total = 0.0;
      for (const auto& p : parts) total += p.second;
      double x = left;
      const double y = y0 + 6 + which * 24;
      for (const auto& p : parts) {
        const double w = total > 0 ? p.second / total * (width - left - right - 70) : 0.0;
        const bool compute = p.first != "in" && p.first != "out";
        svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="18" fill="{}" stroke="#fff"><title>{} {:.3f} ms</title></rect>
)", x, y, w, compute ? compute_colour : link_colour, compute ? "compute on " + p.first : "transfer " + p.first, p.second);
        if (compute && w > 40) svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" fill="#fff">{}</text>
)", x + 3, y + 13, p.first);
        x += w;
      }
      svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}">{:.2f} ms</text>
)", x + 4, y + 13, total);
    }
  }
  svg += fmt::format(R"(<rect x="10" y="{0:.1f}" width="10" height="10" fill="{1}"/><text x="24" y="{2:.1f}">transfer (link + runtime hops)</text>
<rect x="230" y="{0:.1f}" width="10" height="10" fill="{3}"/><text x="244" y="{2:.1f}">compute (labelled with the node)</text>
</svg>
)", 40 + row * static_cast<double>(results.size()) + 6, link_colour, 40 + row * static_cast<double>(results.size()) + 15, compute_colour);
  return svg;
}

}  // namespace

int main(int argc, char** argv) {
  return diag::run_main("edge_vs_cloud", [&] {
    Settings s;
    CLI::App app{"Edge versus cloud: five deployments of one model, measured beside their predictions."};
    app.add_option("--out", s.out, "Results directory")->capture_default_str();
    app.add_option("--model", s.model, "TorchScript model")->capture_default_str();
    app.add_option("--reduced-model", s.reduced_model, "The same model with a bottleneck encoder as its first layer")
        ->capture_default_str();
    app.add_option("--profiles", s.profiles, "Profiles directory (default: profile this machine into <out>/profiles)");
    app.add_option("--wan-mbps", s.wan_mbps, "WAN bandwidth to the cloud")->capture_default_str();
    app.add_option("--wan-ms", s.wan_ms, "WAN one-way latency")->capture_default_str();
    app.add_option("--gateway-factor", s.gateway_factor, "How much slower the gateway's CPU is than this machine")->capture_default_str();
    app.add_option("--slo-ms", s.slo_ms, "Latency SLO of the resources scenario")->capture_default_str();
    app.add_option("--limit", s.limit, "Windows per stream (0 = all)")->capture_default_str();
    app.add_option("--speed", s.speed, "Replay speed of the sensor streams (x real time)")->capture_default_str();
    app.add_flag("--testbed", s.testbed, "Run on the SSH test bed (root; tests/testbed), not as local processes");
    std::string workload = "three-node";
    app.add_option("--workload", workload,
                   "three-node: hare-cnn on a gateway, an edge box and the cloud; care-home: configs/care-home.yaml, "
                   "DeepConvLSTM and 64 streams, a workload no single board carries (bench/care_home.h)")
        ->check(CLI::IsMember({"three-node", "care-home"}))
        ->capture_default_str();
    bench::CareHomeSettings care_home;
    app.add_option("--seconds", care_home.seconds, "care-home: how long each paced run streams")->capture_default_str();
    app.add_option("--cluster", care_home.cluster, "care-home: the cluster config")->capture_default_str();
    app.add_option("--scenarios", care_home.scenarios,
                   "care-home: run only these scenarios (default: all; the load sweep needs hare-latency)")
        ->delimiter(',')
        ->check(CLI::IsMember({"cloud-only", "gateway-only", "best-board", "even-split", "replicated", "hare-latency",
                               "hare-throughput", "hare-resources"}));
    app.add_option("--load-levels", care_home.load_levels,
                   "care-home: the load sweep's shares of hare-latency's capacity (none: --load-levels '')")
        ->delimiter(',')
        ->check(CLI::Range(0.01, 1.0))
        ->capture_default_str();
    app.add_flag("!--no-saturation", care_home.saturation, "care-home: skip the run with the source as fast as it goes");
    CLI11_PARSE(app, argc, argv);
    if (workload == "care-home") {
      std::string command = "build/bin/edge_vs_cloud";
      for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
      care_home.command = command;
      care_home.bin_dir = fs::canonical("/proc/self/exe").parent_path().string();
      care_home.testbed = s.testbed;
      care_home.profiles = s.profiles;
      if (app.count("--out") > 0) care_home.out = s.out;
      if (app.count("--model") > 0) care_home.model = s.model;
      diag::install_interrupt_handler();
      return bench::run_care_home(care_home);
    }
    // SIGINT/SIGTERM end the run by an exception, so that the test bed and
    // every node are torn down on the way out.
    diag::install_interrupt_handler();
    s.bin_dir = fs::canonical("/proc/self/exe").parent_path().string();
    fs::create_directories(s.out);
    const std::string shown_out = s.out;
    s.out = fs::absolute(s.out).string();
    std::string command = "build/bin/edge_vs_cloud";
    for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
    std::unique_ptr<bench::TestBed> testbed;
    if (s.testbed) {
      s.testbed_dir = s.out + "/testbed";
      diag::note("bringing up the SSH test bed in {}", s.testbed_dir);
      // The gateway h1, the edge h2, the cloud h3 behind the WAN: each pair's
      // link is the smaller rate and the larger delay of its two hosts.
      testbed = std::make_unique<bench::TestBed>(s.bin_dir, s.testbed_dir, 3, s.lan_mbps, s.lan_ms,
                                                 fmt::format("h3:{}:{}", s.wan_mbps, s.wan_ms));
    }

    std::string profiles = s.profiles;
    const bool profile_here = profiles.empty();
    if (profile_here) profiles = (fs::path(s.out) / "profiles").string();
    auto layers_of = [&](const std::string& model) {
      if (profile_here) {
        diag::note("profiling {} on this machine", model);
        bench::profile_here(s.bin_dir, s.out, model);
      }
      for (const auto& device : fs::directory_iterator(profiles)) {
        const fs::path p = device.path() / (fs::path(model).stem().string() + ".yaml");
        if (fs::exists(p)) return static_cast<int>(profile::read_profile(p.string()).layers.size());
      }
      throw failure("no profile of {} under {}", model, profiles);
    };
    const int layers = layers_of(s.model);
    const int reduced_layers = layers_of(s.reduced_model);

    auto scenario = [](std::string name, std::string what, std::string objective, std::string pin_node) {
      Scenario sc;
      sc.name = std::move(name);
      sc.what = std::move(what);
      sc.objective = std::move(objective);
      sc.pin_node = std::move(pin_node);
      return sc;
    };
    std::vector<Scenario> scenarios = {
        scenario("cloud-only", "raw windows over the WAN, the whole model in the cloud", "latency", "cloud"),
        scenario("edge-only", "the whole model on the gateway", "latency", "gateway"),
        scenario("hare-latency", "hare, objective latency", "latency", ""),
        scenario("hare-resources", fmt::format("hare, fewest cores with latency at most {} ms", s.slo_ms), "resources", ""),
        scenario("hare-throughput", "hare, objective throughput", "throughput", ""),
    };
    scenarios[3].slo = true;
    scenarios[4].as_fast_as_possible = true;
    // Source-side data reduction: the bottleneck model's encoder on the
    // gateway, the rest in the cloud, the code over the WAN in each codec.
    std::vector<Scenario> reduction;
    for (const char* codec : {"float32", "float16", "int8"}) {
      Scenario sc = scenario(fmt::format("encoder-{}", codec),
                             fmt::format("{}'s encoder on the gateway, the rest in the cloud, the code as {} over the WAN",
                                         fs::path(s.reduced_model).stem().string(), codec),
                             "latency", "");
      sc.model = s.reduced_model;
      sc.rest_node = "cloud";
      sc.wan_codec = codec;
      reduction.push_back(sc);
    }
    std::vector<Result> results;
    for (const Scenario& sc : scenarios) {
      diag::note("scenario {}: {}", sc.name, sc.what);
      results.push_back(run_scenario(s, sc, profiles, layers));
    }
    std::vector<Result> reduced;
    for (const Scenario& sc : reduction) {
      diag::note("scenario {}: {}", sc.name, sc.what);
      reduced.push_back(run_scenario(s, sc, profiles, reduced_layers));
    }
    const std::string md = markdown(s, results, command) + reduction_markdown(s, results.front(), reduced);
    write_file_atomic((fs::path(s.out) / "results.md").string(), md);
    write_file_atomic((fs::path(s.out) / "latency.svg").string(), latency_svg(results));
    write_file_atomic((fs::path(s.out) / "timeline.svg").string(), timeline_svg(results));
    std::vector<ScenarioRecord> records;
    for (const Result& r : results) records.push_back(record_of(r));
    write_file_atomic((fs::path(s.out) / "results.json").string(), Json(records).dump(1) + "\n");
    std::cout << md;
    diag::note("wrote {}/results.md, results.json, latency.svg, timeline.svg", shown_out);
    return 0;
  });
}
