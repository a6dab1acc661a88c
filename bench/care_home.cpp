#include "care_home.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <thread>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "artifacts/plan.h"
#include "artifacts/planner.h"
#include "bench_support.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/stats.h"
#include "common/strings.h"
#include "deploy/local.h"
#include "partition/cluster.h"
#include "partition/problem.h"
#include "partition/report.h"
#include "partition/solver.h"
#include "runtime/records.h"

namespace fs = std::filesystem;

namespace hare::bench {
namespace {

using partition::Member;
using partition::Plan;
using partition::PlanMetrics;
using partition::Problem;
using partition::Stage;

// The cluster's roles: the source (the gateway), the cloud (the node behind
// the slowest link from the source) and the boards (the rest).
struct Roles {
  int gateway = 0;
  int cloud = -1;
  std::vector<int> boards;
};

Roles roles_of(const Problem& p) {
  Roles r;
  r.gateway = p.source;
  double slowest = std::numeric_limits<double>::infinity();
  for (int n = 0; n < p.num_nodes(); ++n) {
    if (n == p.source) continue;
    const double mbps = p.links[static_cast<size_t>(p.source)][static_cast<size_t>(n)].bandwidth_mbps;
    if (mbps < slowest) {
      slowest = mbps;
      r.cloud = n;
    }
  }
  for (int n = 0; n < p.num_nodes(); ++n) {
    if (n != p.source && n != r.cloud) r.boards.push_back(n);
  }
  return r;
}

// A member that fills its node: one thread per replica, a replica per core.
Member filling(const Problem& p, int node) { return Member{node, p.nodes[static_cast<size_t>(node)].cores, 1}; }

Plan whole_model_on(const Problem& p, const std::vector<int>& nodes) {
  Stage stage{0, p.num_layers() - 1, {}};
  for (int n : nodes) stage.members.push_back(filling(p, n));
  return Plan{{stage}};
}

// PipeEdge-style: the segments in equal contiguous ranges, one per board
// (the first boards take one more when they do not divide evenly).
Plan even_split(const Problem& p, const std::vector<int>& boards) {
  Plan plan;
  const int L = p.num_layers();
  const int k = std::min<int>(L, static_cast<int>(boards.size()));
  int first = 0;
  for (int i = 0; i < k; ++i) {
    const int size = L / k + (i < L % k ? 1 : 0);
    plan.stages.push_back(Stage{first, first + size - 1, {filling(p, boards[static_cast<size_t>(i)])}});
    first += size;
  }
  return plan;
}

struct Scenario {
  std::string name;
  std::string what;
  std::optional<partition::Objective> objective;  // hare's solver; else `plan`
  Plan plan;
};

struct NodeMemoryFigures {
  double predicted_mb = 0.0;
  std::optional<double> alone_mb;
  double pss_mb = 0.0;
};

// One run of a plan at one pace.
struct Run {
  double offered = 0.0;  // windows/s asked of the source; 0 = as fast as it goes
  runtime::SinkSummary sink;
  double mean_latency_ms = 0.0;
  double predicted_latency_ms = 0.0;       // loaded, the plan's bound (slowest member)
  double predicted_mean_latency_ms = 0.0;  // loaded, a window's expectation
  double predicted_idle_latency_ms = 0.0;
  double predicted_utilization = 0.0;
};

struct Outcome {
  Scenario scenario;
  PlanMetrics metrics;
  artifacts::PlanDoc plan;
  std::optional<Run> run;
  std::string error;  // when hare found no plan, or the run failed
  double wan_bytes_predicted = 0.0;  // per window, both ways
  double wan_bytes_measured = 0.0;
  std::map<std::string, NodeMemoryFigures> memory;
};

struct RunRecord {
  double offered_windows_per_s = 0.0;
  double sustained_windows_per_s = 0.0;
  long long windows = 0;
  long long lost = 0;
  long long late = 0;
  double latency_ms_p50 = 0.0;
  double latency_ms_p95 = 0.0;
  double latency_ms_p99 = 0.0;
  double latency_ms_mean = 0.0;
  double predicted_latency_ms = 0.0;
  double predicted_mean_latency_ms = 0.0;
  double predicted_idle_latency_ms = 0.0;
  double predicted_utilization = 0.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RunRecord, offered_windows_per_s, sustained_windows_per_s, windows, lost, late,
                                   latency_ms_p50, latency_ms_p95, latency_ms_p99, latency_ms_mean,
                                   predicted_latency_ms, predicted_mean_latency_ms, predicted_idle_latency_ms,
                                   predicted_utilization)

struct ScenarioRecord {
  std::string scenario;
  std::string placement;
  std::string error;
  bool feasible = false;
  std::string violation;
  double predicted_capacity = 0.0;  // windows/s
  int cores = 0;
  double wan_bytes_predicted = 0.0;
  double wan_bytes_measured = 0.0;
  std::map<std::string, double> memory_predicted_mb;
  std::map<std::string, double> memory_pss_mb;
  std::optional<RunRecord> run;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ScenarioRecord, scenario, placement, error, feasible, violation, predicted_capacity,
                                   cores, wan_bytes_predicted, wan_bytes_measured, memory_predicted_mb, memory_pss_mb, run)

struct LoadRecord {
  double level = 0.0;  // of the predicted capacity; 0 = as fast as the source goes
  RunRecord run;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(LoadRecord, level, run)

struct ResultsRecord {
  std::string command;
  std::string date;
  std::string cluster;
  std::string model;
  double window_rate = 0.0;
  double slo_latency_ms = 0.0;
  std::vector<ScenarioRecord> scenarios;
  std::string load_plan;
  double load_plan_capacity = 0.0;       // windows/s, on the sweep's devices
  double load_dilation = 1.0;            // the sweep's devices are this many times slower than the config's
  double load_host_ms_per_window = 0.0;  // this machine's real compute per window, all stages
  int load_host_cores = 0;
  std::vector<LoadRecord> load;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ResultsRecord, command, date, cluster, model, window_rate, slo_latency_ms, scenarios,
                                   load_plan, load_plan_capacity, load_dilation, load_host_ms_per_window,
                                   load_host_cores, load)

RunRecord record_of(const Run& r) {
  return RunRecord{r.offered,
                   r.sink.throughput,
                   r.sink.received,
                   r.sink.lost,
                   r.sink.late,
                   r.sink.latency_ms_p50,
                   r.sink.latency_ms_p95,
                   r.sink.latency_ms_p99,
                   r.mean_latency_ms,
                   r.predicted_latency_ms,
                   r.predicted_mean_latency_ms,
                   r.predicted_idle_latency_ms,
                   r.predicted_utilization};
}



class Bench {
 public:
  explicit Bench(CareHomeSettings s) : s_(std::move(s)) {}

  int run() {
    fs::create_directories(s_.out);
    s_.out = fs::absolute(s_.out).string();
    if (s_.testbed) bring_up_testbed();
    profiles_ = s_.profiles;
    if (profiles_.empty()) {
      profiles_ = (fs::path(s_.out) / "profiles").string();
      diag::note("profiling {} on this machine", s_.model);
      profile_here(s_.bin_dir, s_.out, s_.model);
    }
    write_cluster_copy();
    const partition::PlanningInputs inputs = partition::load_planning_inputs(s_.model, "", cluster_path_, profiles_, 1.0);
    const Problem& p = inputs.problem;
    lambda_ = p.window_rate;
    roles_ = roles_of(p);
    const Roles& roles = roles_;

    std::vector<Scenario> scenarios;
    scenarios.push_back({"cloud-only", "raw windows over the uplink, the whole model in the cloud", {},
                         whole_model_on(p, {roles.cloud})});
    scenarios.push_back({"gateway-only", "the whole model on the gateway (edge-only)", {}, whole_model_on(p, {roles.gateway})});
    {
      // The board of most capacity for the whole model.
      int best = roles.boards.front();
      double best_rate = -1.0;
      for (int b : roles.boards) {
        const double rate = partition::evaluate(p, whole_model_on(p, {b})).throughput;
        if (rate > best_rate) best_rate = rate, best = b;
      }
      scenarios.push_back({"best-board", "the whole model on the single edge board of most capacity", {},
                           whole_model_on(p, {best})});
    }
    scenarios.push_back({"even-split", "the segments in equal ranges over the edge boards, a stage each (PipeEdge-style)",
                         {}, even_split(p, roles.boards)});
    scenarios.push_back({"replicated", "the whole model on every edge board, windows shared by capacity", {},
                         whole_model_on(p, roles.boards)});
    scenarios.push_back({"hare-latency", "hare, objective latency", partition::Objective::latency, {}});
    scenarios.push_back({"hare-throughput", "hare, objective throughput", partition::Objective::throughput, {}});
    scenarios.push_back({"hare-resources", "hare, fewest cores", partition::Objective::resources, {}});

    if (!s_.scenarios.empty()) {
      scenarios.erase(std::remove_if(scenarios.begin(), scenarios.end(),
                                     [&](const Scenario& sc) {
                                       return std::find(s_.scenarios.begin(), s_.scenarios.end(), sc.name) ==
                                              s_.scenarios.end();
                                     }),
                      scenarios.end());
    }
    std::vector<Outcome> outcomes;
    for (Scenario& sc : scenarios) outcomes.push_back(run_scenario(inputs, sc));

    // The load sweep on hare's latency plan.
    const Outcome* main_plan = nullptr;
    for (const Outcome& o : outcomes) {
      if (o.scenario.name == "hare-latency" && o.error.empty()) main_plan = &o;
    }
    std::vector<std::pair<double, Run>> load;
    if (main_plan != nullptr && (!s_.load_levels.empty() || s_.saturation)) {
      prepare_sweep(inputs, *main_plan);
      const double capacity = sweep_.capacity;
      for (double level : s_.load_levels) {
        diag::note("hare-latency at {:.0f}% of its capacity ({:.1f} windows/s)", 100 * level, level * capacity);
        load.emplace_back(level, paced_run(*sweep_.inputs, main_plan->scenario, level * capacity,
                                           fmt::format("load-{:.0f}", 100 * level), nullptr, &sweep_));
      }
      if (s_.saturation) {
        diag::note("hare-latency with the source as fast as it goes");
        load.emplace_back(0.0, paced_run(*sweep_.inputs, main_plan->scenario, 0.0, "load-max", nullptr, &sweep_));
      }
    }
    report(p, outcomes, main_plan, load);
    return 0;
  }

 private:
  void bring_up_testbed() {
    const partition::ClusterConfig cluster = partition::read_cluster(s_.cluster);
    testbed_dir_ = s_.out + "/testbed";
    // Each host at the LAN's figures; the cloud (the node behind the slowest
    // link from the source) at the uplink's: a pair's link is the smaller
    // rate and larger delay of its two hosts.
    std::string per_host;
    double lan_mbps = 0.0, lan_ms = 0.0;
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      const partition::NodeConfig& n = cluster.nodes[i];
      if (n.name == cluster.source) continue;
      const partition::LinkConfig link = cluster.link(cluster.source, n.name);
      if (link.bandwidth_mbps > lan_mbps) lan_mbps = link.bandwidth_mbps, lan_ms = link.latency_ms;
    }
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      const partition::NodeConfig& n = cluster.nodes[i];
      if (n.name == cluster.source) continue;
      const partition::LinkConfig link = cluster.link(cluster.source, n.name);
      if (link.bandwidth_mbps < lan_mbps) per_host += fmt::format("h{}:{}:{} ", i + 1, link.bandwidth_mbps, link.latency_ms);
    }
    diag::note("bringing up the SSH test bed in {}", testbed_dir_);
    testbed_ = std::make_unique<TestBed>(s_.bin_dir, testbed_dir_, static_cast<int>(cluster.nodes.size()), lan_mbps, lan_ms,
                                         per_host);
  }

  // The config as run: on the test bed, every node at its host's address.
  void write_cluster_copy() {
    partition::ClusterConfig cluster = partition::read_cluster(s_.cluster);
    if (s_.testbed) {
      for (size_t i = 0; i < cluster.nodes.size(); ++i) {
        cluster.nodes[i].address = TestBed::address(static_cast<int>(i));
        cluster.nodes[i].ssh.user = "haretest";
      }
    }
    cluster_path_ = s_.out + "/cluster.yaml";
    partition::write_cluster(cluster_path_, cluster);
  }

  std::string write_plan(const partition::PlanningInputs& inputs, const Plan& plan, const std::string& dir,
                         partition::Objective objective) {
    partition::SolveResult result;
    result.plans = {plan};
    result.metrics = {partition::evaluate(inputs.problem, plan)};
    result.method = "a fixed placement (bench/care_home.cpp)";
    bench::write_plan(inputs, result, s_.model, cluster_path_, objective, dir);
    return dir;
  }

  // Every emulated node computes for real on this machine's cores before it
  // waits out its device's time (runtime/worker.h): near the plan's
  // capacity, the boards' real work (capacity x this machine's time per
  // window) would take this machine's cores from each other, which real
  // boards do not. The sweep therefore runs the same placement on devices
  // `dilation` times slower, when needed, so that its capacity's real work
  // stays within kSweepHostShare of this machine's cores; the queueing it
  // tests is then the plan's, not this machine's. (Measured on the 2-core
  // VM: at 0.74 of a core of real work a run kept up and its mean was
  // within 8-17% of the prediction; at 1.05, edge-a's compute went past its
  // device time and the run fell behind.)
  static constexpr double kSweepHostShare = 0.35;
  struct Sweep {
    double dilation = 1.0;
    double host_ms_per_window = 0.0;  // this machine's real compute, all stages
    int host_cores = 1;
    double capacity = 0.0;            // the placement's, on the (dilated) devices
    std::string cluster_path;
    std::string plan_dir;
    std::optional<partition::PlanningInputs> inputs;
  };

  void prepare_sweep(const partition::PlanningInputs& inputs, const Outcome& main_plan) {
    const artifacts::PlanDoc& doc = main_plan.plan;
    for (const artifacts::PlanStage& stage : doc.stages) {
      for (const artifacts::PlanMember& m : stage.members) {
        const artifacts::PlanNode* node = doc.find_node(m.node);
        const double factor = node != nullptr ? node->time_factor : 1.0;
        sweep_.host_ms_per_window += m.share * m.compute_ms / std::max(1.0, factor);
      }
    }
    sweep_.host_cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    const double host_cores_at_capacity = main_plan.metrics.throughput * sweep_.host_ms_per_window / 1000.0;
    sweep_.dilation = std::max(1.0, host_cores_at_capacity / (kSweepHostShare * sweep_.host_cores));
    sweep_.cluster_path = cluster_path_;
    sweep_.plan_dir = (fs::path(s_.out) / "runs" / main_plan.scenario.name / "plan").string();
    if (sweep_.dilation > 1.0) {
      // Two decimals, so that the config and the results say the same factor.
      sweep_.dilation = std::ceil(sweep_.dilation * 100.0) / 100.0;
      partition::ClusterConfig cluster = partition::read_cluster(cluster_path_);
      std::map<std::string, std::string> dilated;  // a profile's device -> its dilated type
      for (partition::EmulatedDevice& device : cluster.devices) device.time_factor *= sweep_.dilation;
      for (partition::NodeConfig& node : cluster.nodes) {
        const bool emulated = std::any_of(cluster.devices.begin(), cluster.devices.end(),
                                          [&](const partition::EmulatedDevice& d) { return d.name == node.device; });
        if (emulated) continue;
        if (!dilated.count(node.device)) {
          const std::string name = fmt::format("{}-dilated", node.device);
          cluster.devices.push_back(partition::EmulatedDevice{name, node.device, sweep_.dilation, 0});
          dilated[node.device] = name;
        }
        node.device = dilated[node.device];
      }
      sweep_.cluster_path = s_.out + "/cluster-sweep.yaml";
      partition::write_cluster(sweep_.cluster_path, cluster);
      sweep_.plan_dir = (fs::path(s_.out) / "runs" / main_plan.scenario.name / "plan-sweep").string();
      sweep_.inputs = partition::load_planning_inputs(s_.model, "", sweep_.cluster_path, profiles_, 1.0);
      fs::remove_all(sweep_.plan_dir);
      write_plan(*sweep_.inputs, main_plan.scenario.plan, sweep_.plan_dir, partition::Objective::latency);
      diag::note("the load sweep runs {} on devices {:.2f}x slower: its capacity's real work ({:.2f} of a core) "
                 "would not fit {:.0f}% of this machine's {} cores",
                 partition::placement_text(sweep_.inputs->problem, main_plan.scenario.plan), sweep_.dilation,
                 host_cores_at_capacity, 100 * kSweepHostShare, sweep_.host_cores);
    } else {
      sweep_.inputs = inputs;
    }
    sweep_.capacity = partition::evaluate(sweep_.inputs->problem, main_plan.scenario.plan).throughput;
  }

  Outcome run_scenario(const partition::PlanningInputs& inputs, Scenario& sc) {
    diag::note("scenario {}: {}", sc.name, sc.what);
    Outcome o;
    const std::string dir = (fs::path(s_.out) / "runs" / sc.name).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    if (sc.objective) {
      try {
        sc.plan = partition::solve(inputs.problem, partition::SolveOptions{*sc.objective, 1, 10}).plans.front();
      } catch (const Error& e) {
        o.scenario = sc;
        o.error = e.what();
        diag::warning("{}: {}", sc.name, o.error);
        return o;
      }
    }
    o.scenario = sc;
    o.metrics = partition::evaluate(inputs.problem, sc.plan);
    const std::string plan_dir = write_plan(inputs, sc.plan, dir + "/plan", sc.objective.value_or(partition::Objective::latency));
    o.plan = artifacts::read_plan(plan_dir + "/plan.yaml");
    try {
      deploy::LocalDeployResult result;
      o.run = paced_run(inputs, sc, lambda_, "run", &result);
      measure_memory_and_wan(inputs.problem, o, result);
    } catch (const Error& e) {
      o.error = e.what();
      diag::warning("{}: {}", sc.name, o.error);
    }
    return o;
  }

  // A run of the scenario's plan with the source offering `rate` windows/s
  // (0 = as fast as it goes), predicted at that rate.
  Run paced_run(const partition::PlanningInputs& inputs, const Scenario& sc, double rate, const std::string& name,
                deploy::LocalDeployResult* out = nullptr, const Sweep* sweep = nullptr) {
    const std::string dir = (fs::path(s_.out) / "runs" / sc.name).string();
    const std::string& cluster_path = sweep != nullptr ? sweep->cluster_path : cluster_path_;
    Run r;
    r.offered = rate;
    const double speed = rate > 0 ? rate / lambda_ : 0.0;
    // The prediction at that pace: the queueing term's arrival rate, and the
    // runtime's wake-up costs of the idle gaps between windows.
    const partition::PlanningInputs paced =
        partition::load_planning_inputs(s_.model, "", cluster_path, profiles_, rate > 0 ? speed : 1.0);
    const PlanMetrics m = partition::evaluate(paced.problem, sc.plan);
    r.predicted_latency_ms = m.latency_ms;
    r.predicted_mean_latency_ms = m.mean_latency_ms;
    r.predicted_idle_latency_ms = m.idle_latency_ms;
    r.predicted_utilization = m.utilization;

    deploy::LocalDeployOptions options;
    options.plan_dir = sweep != nullptr ? sweep->plan_dir : dir + "/plan";
    options.data = s_.data;
    options.streams = inputs.cluster.streams;
    options.speed = speed;
    // Each paced run streams about s_.seconds; as fast as it goes, as many
    // windows as the paced run at full load.
    const double per_stream_hz = lambda_ / std::max(1, inputs.cluster.streams);
    options.limit = static_cast<long long>(std::ceil(s_.seconds * per_stream_hz * (rate > 0 ? speed : 1.0)));
    options.run_dir = dir + "/" + name;
    options.node_binary = s_.bin_dir + "/hare-node";
    const deploy::LocalDeployResult result =
        s_.testbed ? deploy_on_testbed(s_.bin_dir, testbed_dir_, options, cluster_path) : deploy::deploy_local(options);
    r.sink = result.summary;
    r.mean_latency_ms = r.sink.latency_ms_mean;
    if (out != nullptr) *out = result;
    return r;
  }

  void measure_memory_and_wan(const Problem& p, Outcome& o, const deploy::LocalDeployResult& result) {
    for (const auto& node : o.plan.nodes) {
      NodeMemoryFigures f;
      f.predicted_mb = static_cast<double>(node.memory_bytes) / 1048576.0;
      const auto it = result.status.find(node.name);
      if (it != result.status.end()) {
        f.pss_mb = static_cast<double>(it->second.memory.total.pss_bytes) / 1048576.0;
        if (it->second.memory.alone_bytes) f.alone_mb = static_cast<double>(*it->second.memory.alone_bytes) / 1048576.0;
      }
      o.memory[node.name] = f;
    }
    // Bytes over the uplink: every hop into or out of the cloud, by the
    // shares of the cloud's member (measured per stage by the sink).
    const std::string& cloud = p.nodes[static_cast<size_t>(roles_.cloud)].name;
    const std::vector<runtime::StageMeasurement>& measured = o.run ? o.run->sink.stages : std::vector<runtime::StageMeasurement>{};
    for (size_t k = 0; k < o.plan.stages.size(); ++k) {
      const auto& stage = o.plan.stages[k];
      const int64_t payload = k == 0 ? o.plan.in_bytes : o.plan.stages[k - 1].out_bytes;
      for (const auto& member : stage.members) {
        if (member.node != cloud) continue;
        o.wan_bytes_predicted += member.share * static_cast<double>(wire_bytes_of_payload(member.codec_in, payload));
        if (k < measured.size()) o.wan_bytes_measured += member.share * measured[k].bytes_in;
        if (k + 1 == o.plan.stages.size()) {
          o.wan_bytes_predicted +=
              member.share * static_cast<double>(wire_bytes_of_payload(o.plan.codec_to_sink, stage.out_bytes));
          if (o.run) o.wan_bytes_measured += member.share * o.run->sink.bytes_to_sink;
        }
      }
    }
  }

  void report(const Problem& p, const std::vector<Outcome>& outcomes, const Outcome* main_plan,
              const std::vector<std::pair<double, Run>>& load) {
    ResultsRecord rec;
    rec.command = s_.command;
    rec.date = today();
    rec.cluster = s_.cluster;
    rec.model = s_.model;
    rec.window_rate = lambda_;
    rec.slo_latency_ms = p.slo_latency_ms.value_or(0.0);
    std::string md = "# A workload no single board carries: measured\n\n";
    md += fmt::format(
        "Made by `{}` on {} (a 2-core VM). `{}` with `{}`: {:.0f} windows/s from {} streams at real time, SLO {} ms. {} "
        "Every device is this machine's profile scaled by the config's time factors (assumed boards; see the config). "
        "Each figure is measured, with the plan's prediction in parentheses; latency predictions are the loaded ones "
        "(queueing at the offered rate), `bound` the slowest member's path, `mean` a window's expectation.\n\n",
        s_.command, rec.date, s_.cluster, s_.model, lambda_, p.window_rate > 0 ? "64" : "?", rec.slo_latency_ms,
        s_.testbed ? "The nodes are the SSH test bed's hosts (network namespaces on this machine, deployed over SSH; "
                     "links by tc and hare-netdelay)."
                   : "Every node runs as a process on this machine; the runtime emulates the plan's links.");
    md += "| scenario | placement | sustained w/s (capacity) | lost | late | latency mean ms (mean; bound) | p50 | p95 | p99 "
          "| idle latency predicted | uplink B/window | cores | memory per node MB, alone (predicted) |\n";
    md += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const Outcome& o : outcomes) {
      ScenarioRecord sr;
      sr.scenario = o.scenario.name;
      sr.error = o.error;
      if (o.scenario.plan.stages.empty()) {
        md += fmt::format("| {} | no plan: {} | | | | | | | | | | | |\n", o.scenario.name, o.error);
        rec.scenarios.push_back(sr);
        continue;
      }
      sr.placement = partition::placement_text(p, o.scenario.plan);
      sr.feasible = o.metrics.feasible;
      sr.violation = o.metrics.violation;
      sr.predicted_capacity = o.metrics.throughput;
      sr.cores = o.metrics.cores;
      sr.wan_bytes_predicted = o.wan_bytes_predicted;
      sr.wan_bytes_measured = o.wan_bytes_measured;
      std::string memory;
      for (const auto& [node, f] : o.memory) {
        sr.memory_predicted_mb[node] = f.predicted_mb;
        sr.memory_pss_mb[node] = f.alone_mb.value_or(f.pss_mb);
        memory += fmt::format("{}{} {:.0f} ({:.0f})", memory.empty() ? "" : ", ", node, f.alone_mb.value_or(f.pss_mb),
                              f.predicted_mb);
      }
      if (o.run) {
        sr.run = record_of(*o.run);
        const Run& r = *o.run;
        md += fmt::format(
            "| {} | {} | {:.1f} ({:.1f}) | {} | {} | {:.1f} ({:.1f}; {:.1f}) | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.0f} ({:.0f}) | {} | {} |\n",
            o.scenario.name, sr.placement, r.sink.throughput, o.metrics.throughput, r.sink.lost, r.sink.late,
            r.mean_latency_ms, r.predicted_mean_latency_ms, r.predicted_latency_ms, r.sink.latency_ms_p50,
            r.sink.latency_ms_p95, r.sink.latency_ms_p99, r.predicted_idle_latency_ms, o.wan_bytes_measured,
            o.wan_bytes_predicted, o.metrics.cores, memory);
      } else {
        md += fmt::format("| {} | {} | run failed: {} | | | | | | | | | {} | |\n", o.scenario.name, sr.placement, o.error,
                          o.metrics.cores);
      }
      rec.scenarios.push_back(sr);
    }
    md += "\nWhat each scenario is, and whether its plan meets the workload by the cost model:\n\n";
    for (const Outcome& o : outcomes) {
      md += fmt::format("- **{}**: {}; {}.\n", o.scenario.name, o.scenario.what,
                        !o.error.empty() && o.scenario.plan.stages.empty() ? "no plan"
                        : o.metrics.feasible && o.metrics.meets_window_rate
                            ? "feasible"
                            : "predicted to fail: " + o.metrics.violation);
    }
    if (main_plan != nullptr) {
      rec.load_plan = partition::placement_text(p, main_plan->scenario.plan);
      rec.load_plan_capacity = sweep_.capacity;
      rec.load_dilation = sweep_.dilation;
      rec.load_host_ms_per_window = sweep_.host_ms_per_window;
      rec.load_host_cores = sweep_.host_cores;
      md += fmt::format(
          "\n## Latency under load\n\nhare-latency's plan ({}), predicted capacity {:.1f} windows/s, offered a share of "
          "it (the source's pace scaled), then as fast as the source goes. Predicted: Allen–Cunneen's GI/G/c queueing "
          "term per member at the offered rate (partition/queueing.h).\n\n",
          rec.load_plan, rec.load_plan_capacity);
      if (rec.load_dilation > 1.0) {
        md += fmt::format(
            "The sweep runs this placement on devices {:.2f}x slower than the config's ({}): every emulated node "
            "computes for real on this machine before it waits out its device's time, and at the config's capacity "
            "({:.1f} windows/s) that real work ({:.1f} ms a window) would take {:.2f} of this machine's {} cores, "
            "where the emulated boards would slow each other down as real boards do not. Dilated, it takes "
            "{:.0f}% of them at capacity.\n\n",
            rec.load_dilation, fs::path(sweep_.cluster_path).filename().string(), main_plan->metrics.throughput,
            rec.load_host_ms_per_window, main_plan->metrics.throughput * rec.load_host_ms_per_window / 1000.0,
            rec.load_host_cores, 100.0 * kSweepHostShare);
      }
      md += "| offered | sustained w/s | lost | latency mean ms | predicted mean | error | bound | p50 | p95 | p99 | idle "
            "predicted |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
      for (const auto& [level, r] : load) {
        rec.load.push_back(LoadRecord{level, record_of(r)});
        if (level > 0) {
          md += fmt::format("| {:.0f}% ({:.1f} w/s) | {:.1f} | {} | {:.1f} | {:.1f} | {:+.1f}% | {:.1f} | {:.1f} | {:.1f} | "
                            "{:.1f} | {:.1f} |\n",
                            100 * level, r.offered, r.sink.throughput, r.sink.lost, r.mean_latency_ms,
                            r.predicted_mean_latency_ms, 100.0 * (r.predicted_mean_latency_ms / r.mean_latency_ms - 1.0),
                            r.predicted_latency_ms, r.sink.latency_ms_p50, r.sink.latency_ms_p95, r.sink.latency_ms_p99,
                            r.predicted_idle_latency_ms);
        } else {
          md += fmt::format("| as fast as it goes | {:.1f} ({:.0f}% of the predicted capacity) | {} | | | | | | | | |\n",
                            r.sink.throughput, 100.0 * r.sink.throughput / rec.load_plan_capacity, r.sink.lost);
        }
      }
    }
    write_file_atomic((fs::path(s_.out) / "results.md").string(), md);
    write_file_atomic((fs::path(s_.out) / "results.json").string(), Json(rec).dump(1) + "\n");
    write_file_atomic((fs::path(s_.out) / "latency.svg").string(), latency_svg(rec));
    write_file_atomic((fs::path(s_.out) / "load.svg").string(), load_svg(rec));
    std::cout << md;
    diag::note("wrote {}/results.md, results.json, latency.svg, load.svg", s_.out);
  }

  // Bars on a log scale per scenario: measured mean with p95, predicted mean.
  static std::string latency_svg(const ResultsRecord& rec) {
    const double width = 820, height = 380, left = 70, bottom = 310, top = 40;
    const double lo = 1.0, hi = 100000.0;
    auto y = [&](double ms) {
      return bottom - (std::log10(std::clamp(ms, lo, hi)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * (bottom - top);
    };
    std::string svg = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">
<text x="{}" y="18" font-size="14">Latency per window at {:.0f} windows/s (ms, log scale): measured mean with p95, predicted mean; SLO dashed</text>
)",
        width, height, left, rec.window_rate);
    for (double t : {1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0}) {
      svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#ddd"/><text x="{}" y="{:.1f}" text-anchor="end">{}</text>
)",
                         left, width - 10, y(t), y(t), left - 6, y(t) + 4, t);
    }
    if (rec.slo_latency_ms > 0) {
      svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#c00" stroke-dasharray="5,4"/>
)",
                         left, width - 10, y(rec.slo_latency_ms), y(rec.slo_latency_ms));
    }
    const double slot = (width - left - 10) / static_cast<double>(std::max<size_t>(1, rec.scenarios.size()));
    for (size_t i = 0; i < rec.scenarios.size(); ++i) {
      const ScenarioRecord& s = rec.scenarios[i];
      const double x = left + slot * static_cast<double>(i) + slot * 0.15;
      const double w = slot * 0.3;
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>
)",
                         x + w, bottom + 16, s.scenario);
      if (!s.run) continue;
      const RunRecord& r = *s.run;
      svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#3b78b5"/>
<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#000"/>
<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#f0a13a"/>
<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{:.0f}</text>
)",
                         x, y(r.latency_ms_mean), w, bottom - y(r.latency_ms_mean), x + w / 2, x + w / 2,
                         y(r.latency_ms_mean), y(r.latency_ms_p95), x + w, y(r.predicted_mean_latency_ms), w,
                         bottom - y(r.predicted_mean_latency_ms), x + w, y(std::max(r.latency_ms_p95, r.latency_ms_mean)) - 4,
                         r.latency_ms_mean);
    }
    svg += fmt::format(R"(<rect x="{}" y="{}" width="10" height="10" fill="#3b78b5"/><text x="{}" y="{}">measured mean (line: p95)</text>
<rect x="{}" y="{}" width="10" height="10" fill="#f0a13a"/><text x="{}" y="{}">predicted mean (loaded)</text>
</svg>
)",
                       left, bottom + 34, left + 14, bottom + 43, left + 220, bottom + 34, left + 234, bottom + 43);
    return svg;
  }

  // Latency against offered load: measured mean and p95, predicted mean.
  static std::string load_svg(const ResultsRecord& rec) {
    const double width = 640, height = 360, left = 70, right = 20, bottom = 300, top = 40;
    double hi = 1.0;
    for (const LoadRecord& l : rec.load) {
      if (l.level > 0) hi = std::max({hi, l.run.latency_ms_p95, l.run.predicted_mean_latency_ms});
    }
    hi *= 1.15;
    auto x = [&](double level) { return left + level * (width - left - right); };
    auto y = [&](double ms) { return bottom - ms / hi * (bottom - top); };
    std::string svg = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12">
<text x="{}" y="18" font-size="14">hare's plan under load: latency (ms) against the offered share of its capacity</text>
<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#000"/><line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#000"/>
)",
        width, height, left, left, width - right, bottom, bottom, left, left, top, bottom);
    for (double level : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{:.0f}%</text>
)",
                         x(level), bottom + 16, 100 * level);
    }
    for (int i = 0; i <= 4; ++i) {
      const double ms = hi * i / 4;
      svg += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end">{:.0f}</text>
)",
                         left - 6, y(ms) + 4, ms);
    }
    auto series = [&](auto value, const char* colour, const char* dash) {
      std::string points;
      for (const LoadRecord& l : rec.load) {
        if (l.level > 0) points += fmt::format("{:.1f},{:.1f} ", x(l.level), y(value(l.run)));
      }
      return fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-dasharray="{}"/>
)",
                         points, colour, dash);
    };
    svg += series([](const RunRecord& r) { return r.latency_ms_mean; }, "#3b78b5", "");
    svg += series([](const RunRecord& r) { return r.latency_ms_p95; }, "#9ecae1", "");
    svg += series([](const RunRecord& r) { return r.predicted_mean_latency_ms; }, "#f0a13a", "6,4");
    svg += fmt::format(R"(<text x="{}" y="{}" fill="#3b78b5">measured mean</text><text x="{}" y="{}" fill="#6baed6">measured p95</text><text x="{}" y="{}" fill="#f0a13a">predicted mean (dashed)</text>
</svg>
)",
                       left, bottom + 40, left + 130, bottom + 40, left + 260, bottom + 40);
    return svg;
  }

  CareHomeSettings s_;
  std::string profiles_;
  std::string cluster_path_;
  std::string testbed_dir_;
  Sweep sweep_;
  std::unique_ptr<TestBed> testbed_;
  double lambda_ = 0.0;
  Roles roles_;  // of the cluster as run
};

}  // namespace

int run_care_home(CareHomeSettings settings) { return Bench(std::move(settings)).run(); }

}  // namespace hare::bench
