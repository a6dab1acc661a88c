// Memory as the machine counts it, for a node that runs one stage with r
// replicas: the real tools (hare-partition writes a one-node plan, hare-node
// runs it with its source, stage and sink, on real recordings), then every
// process's /proc/<pid>/smaps_rollup as `hare-node status` reports it
// (runtime::NodeMemory). For r = 1, 2, 3, with the replicas as threads of one
// hare-worker process (the default) and as one process each
// (--process-per-replica), it prints per process RSS, PSS, USS, anonymous
// and file-backed MB, the node's PSS, and what each replica beyond the first
// adds; then the 3-replica worker under other allocator settings, each with
// the stage's compute time, since a cut that costs latency is no cut; then
// where that worker's memory is: by kind, and its largest mappings (smaps,
// by file).
//
//   build/bin/memory_bench [--json FILE] [--models models/hare-cnn.pt,models/deepconvlstm.pt]
//
// PSS splits a page among every process that maps it, on the whole machine:
// another torch process running here meanwhile (a test, a training job)
// takes its share of the library pages and lowers every figure's file part.
// USS and anonymous memory do not depend on that; the marginal cost of a
// replica is given in both PSS and USS.
//
// Target (issue 15): each replica beyond the first costs at most half of
// the ~64 MB private part a worker process had.
//
// Then the seed's claim (issue 15): memory per node for the whole model in
// the cloud, the whole model on the gateway, and a split (the first two
// segments on the gateway, the rest on an edge box), for each model: a
// 3-node plan from hare-partition with pins and a quick profile of this
// machine, run by hare-deploy local; per node the plan's prediction, the
// footprint alone (its processes with each library's pages once: the node
// on a board of its own) and PSS (here, where the nodes share libraries).

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "deploy/local.h"
#include "profile/profile.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/memory.h"
#include "common/process.h"
#include "runtime/control.h"
#include "runtime/records.h"

namespace hare {

// Where a worker process's resident pages are, summed from its smaps.
struct WorkerBreakdown {
  int libraries = 0;                 // mapped shared objects (*.so*)
  int64_t heap_bytes = 0;            // [heap]: the main malloc arena (static initialisation, the slice, activations)
  int64_t unnamed_anon_bytes = 0;    // anonymous mappings without a name: other arenas, thread stacks, large blocks
  int64_t stack_bytes = 0;           // [stack]: the main thread's
  int64_t library_anon_bytes = 0;    // copy-on-write pages of mapped files: relocations, library data
  int64_t file_bytes = 0;            // clean file pages: shared with any process mapping the same files
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WorkerBreakdown, libraries, heap_bytes, unnamed_anon_bytes, stack_bytes,
                                   library_anon_bytes, file_bytes)

// One run of a node: how its stage ran, what its processes held.
struct MemoryBenchRun {
  std::string model;
  std::string mode;     // "threads" or "process-per-replica"
  std::string variant;  // allocator settings: "default" (as hare runs) or what was changed
  int replicas = 0;
  long long windows = 0;
  double compute_ms_p50 = 0.0;  // the stage's, at the sink
  runtime::NodeMemory memory;
  std::vector<MappingMemory> top_mappings;  // of the first worker process, when taken
  std::optional<WorkerBreakdown> breakdown;  // of the same, from all its mappings
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(MemoryBenchRun, model, mode, variant, replicas, windows, compute_ms_p50, memory,
                                   top_mappings, breakdown)

}  // namespace hare

using namespace hare;
namespace fs = std::filesystem;

namespace {

constexpr int kTopMappings = 25;
const char* const kRecording = "data/mhealth/subject08.tsv.gz";

struct Settings {
  std::string bin_dir;
  std::string source_dir;  // the repository: models/, profiles/, data/
  std::string work_dir;
  int base_port = 7300;
};

double mb(int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::string& path, const std::string& text) { write_file_atomic(path, text, FileAccess::owner_only); }

// A one-node plan for `model` (hare-partition, the shipped profiles), its
// keys, and the model's name.
struct Plan {
  std::string dir, keys, name;
};

Plan make_plan(const Settings& s, const std::string& model, int index) {
  Plan plan;
  plan.name = fs::path(model).stem().string();
  const std::string dir = s.work_dir + "/" + plan.name;
  fs::create_directories(dir);
  // Three cores: room for three replicas of one thread (the pins wrap
  // around this machine's cores).
  write_text(dir + "/cluster.yaml", R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 3, mem_bytes: 4GiB}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5}
source: gw
)");
  // The shipped profile, or a quick one taken here (DeepConvLSTM has none):
  // the plan only needs one, memory does not depend on its timings.
  const std::string profile = "/amd-epyc-2c/" + plan.name + ".yaml";
  fs::create_directories(s.work_dir + "/profiles/amd-epyc-2c");
  if (fs::exists(s.source_dir + "/profiles" + profile)) {
    fs::copy_file(s.source_dir + "/profiles" + profile, s.work_dir + "/profiles" + profile,
                  fs::copy_options::overwrite_existing);
  } else {
    const ProcessResult profiled =
        run_process({"/bin/sh", "-c",
                     fmt::format("cd '{}' && '{}/hare-profile' --model '{}/{}' --device-id amd-epyc-2c --runs 20 "
                                 "--warmup 3 --threads 1 -q 2>/dev/null",
                                 s.work_dir, s.bin_dir, s.source_dir, model)});
    if (profiled.exit_code != 0) throw failure("hare-profile failed for {}", model);
  }
  plan.dir = dir + "/plan";
  const ProcessResult partition =
      run_process({s.bin_dir + "/hare-partition", "--model", s.source_dir + "/" + model, "--profiles",
                   s.work_dir + "/profiles", "--cluster", dir + "/cluster.yaml", "--check-data",
                   s.source_dir + "/" + kRecording, "--base-port", std::to_string(s.base_port + index), "--out",
                   plan.dir, "--force"});
  if (partition.exit_code != 0) throw failure("hare-partition failed for {}", model);
  plan.keys = dir + "/keys";
  const ProcessResult keys = run_process({s.bin_dir + "/hare-node", "keys", "--plan", plan.dir, "--out", plan.keys});
  if (keys.exit_code != 0) throw failure("hare-node keys failed for {}", model);
  return plan;
}

// The plan's one stage with `replicas` replicas of one thread each, sealed
// again (the node verifies the manifest).
void set_replicas(const Plan& plan, int replicas) {
  const std::string path = plan.dir + "/plan.yaml";
  artifacts::PlanDoc doc = artifacts::read_plan(path);
  for (auto& member : doc.stages.front().members) {
    member.replicas = replicas;
    member.threads = 1;
  }
  artifacts::write_plan(path, doc);
  artifacts::seal_plan_dir(plan.dir);
}

// Runs the node until its sink has every window, then takes its status
// (and the first worker's mappings); stops it.
MemoryBenchRun run_node(const Settings& s, const Plan& plan, int replicas, bool process_per_replica, long long windows,
                        const std::vector<std::string>& env, const std::string& variant, bool mappings) {
  set_replicas(plan, replicas);
  const std::string run_dir = s.work_dir + "/run-" + plan.name;
  std::error_code ignored;
  fs::remove_all(run_dir, ignored);
  SpawnOptions options;
  options.argv = {s.bin_dir + "/hare-node", "run", "--plan", plan.dir, "--node", "gw", "--run-dir", run_dir, "--keys",
                  plan.keys + "/gw.keys", "--data", s.source_dir + "/" + kRecording, "--speed", "0", "--limit",
                  std::to_string(windows)};
  if (process_per_replica) options.argv.push_back("--process-per-replica");
  options.log_path = s.work_dir + "/node-" + plan.name + ".log";
  options.die_with_parent = true;
  options.env_defaults = env;
  const pid_t node = spawn_process(options);
  const std::string control = runtime::control_endpoint(run_dir, "gw");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  std::optional<runtime::NodeStatus> status;
  while (true) {
    diag::throw_if_interrupted();
    if (try_reap(node)) throw failure("hare-node stopped early; see {}", options.log_path);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(node, SIGKILL);
      throw failure("the node did not process {} windows within 90 s; see {}", windows, options.log_path);
    }
    try {
      status = runtime::request_status(control, 1000);
    } catch (const Error&) {
      status.reset();  // not bound yet
    }
    if (status && status->sink && status->sink->received >= windows) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The node measures memory at most once a second: a fresh measurement.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  status = runtime::request_status(control, 2000);
  if (!status) throw failure("the node stopped answering; see {}", options.log_path);
  MemoryBenchRun run;
  run.model = plan.name;
  run.mode = process_per_replica ? "process-per-replica" : "threads";
  run.variant = variant;
  run.replicas = replicas;
  run.windows = status->sink->received;
  if (!status->sink->stages.empty()) run.compute_ms_p50 = status->sink->stages[0].compute_ms_p50;
  run.memory = status->memory;
  if (mappings && !run.memory.workers.empty()) {
    std::vector<MappingMemory> all = read_mappings(run.memory.workers[0].pid);
    WorkerBreakdown b;
    for (const MappingMemory& m : all) {
      if (m.name == "[heap]") {
        b.heap_bytes += m.memory.anon_bytes;
      } else if (m.name == "[anon]") {
        b.unnamed_anon_bytes += m.memory.anon_bytes;
      } else if (m.name == "[stack]") {
        b.stack_bytes += m.memory.anon_bytes;
      } else if (m.name.rfind('/', 0) == 0) {
        b.library_anon_bytes += m.memory.anon_bytes;
        if (m.name.find(".so") != std::string::npos) ++b.libraries;
      }
      b.file_bytes += m.memory.file_bytes;
    }
    run.breakdown = b;
    if (all.size() > static_cast<size_t>(kTopMappings)) all.resize(kTopMappings);
    run.top_mappings = all;
  }
  runtime::request_control(control, "stop", 2000);
  int wait_status = 0;
  ::waitpid(node, &wait_status, 0);
  return run;
}

// One node of one placement: predicted (plan.yaml), measured alone and PSS.
struct PlacementNode {
  std::string model;
  std::string placement;
  std::string node;
  std::string roles;
  int64_t predicted_bytes = 0;
  int64_t alone_bytes = 0;
  int64_t pss_bytes = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlacementNode, model, placement, node, roles, predicted_bytes, alone_bytes, pss_bytes)

// cloud-only, edge-only and split for `model` on gateway (source and sink),
// edge and cloud, all of this machine's device "bench" (profiled here).
std::vector<PlacementNode> run_placements(const Settings& s, const std::string& model, int index) {
  const std::string name = fs::path(model).stem().string();
  const std::string dir = s.work_dir + "/placements-" + name;
  fs::create_directories(dir);
  const ProcessResult profiled =
      run_process({"/bin/sh", "-c",
                   fmt::format("cd '{}' && '{}/hare-profile' --model '{}/{}' --device-id bench --runs 20 --warmup 3 "
                               "--threads 1 --idle-runs 5 -q 2>&1",
                               dir, s.bin_dir, s.source_dir, model)});
  if (profiled.exit_code != 0) throw failure("hare-profile failed for {}: {}", model, profiled.out);
  const int segments = static_cast<int>(
      profile::read_profile(fmt::format("{}/profiles/bench/{}.yaml", dir, name)).layers.size());
  const std::vector<std::pair<std::string, std::string>> placements = {
      {"cloud-only", fmt::format("  - {{layers: \"#1..#{}\", node: cloud}}\n", segments)},
      {"edge-only", fmt::format("  - {{layers: \"#1..#{}\", node: gateway}}\n", segments)},
      {"split", fmt::format("  - {{layers: \"#1..#2\", node: gateway}}\n  - {{layers: \"#3..#{}\", node: edge}}\n",
                            segments)}};
  std::vector<PlacementNode> out;
  for (size_t k = 0; k < placements.size(); ++k) {
    const auto& [placement, pins] = placements[k];
    const std::string cluster = dir + "/" + placement + ".yaml";
    write_text(cluster, R"(format: hare-cluster/1
nodes:
  - {name: gateway, device: bench, cores: 1, mem_bytes: 1GiB}
  - {name: edge, device: bench, cores: 2, mem_bytes: 2GiB}
  - {name: cloud, device: bench, cores: 2, mem_bytes: 8GiB}
links:
  default: {bandwidth_mbps: 100, latency_ms: 1}
source: gateway
sink: gateway
pins:
)" + pins);
    const std::string plan = dir + "/plan-" + placement;
    const ProcessResult partition = run_process(
        {s.bin_dir + "/hare-partition", "--model", s.source_dir + "/" + model, "--profiles", dir + "/profiles",
         "--cluster", cluster, "--base-port", std::to_string(s.base_port + 20 + 3 * (index * 3 + static_cast<int>(k))),
         "--out", plan, "--force"});
    if (partition.exit_code != 0) throw failure("hare-partition failed for {} {}: {}", name, placement, partition.out);
    const std::string run_dir = dir + "/run-" + placement;
    const ProcessResult deployed =
        run_process({s.bin_dir + "/hare-deploy", "local", "--plan", plan, "--run-dir", run_dir, "--data",
                     s.source_dir + "/" + kRecording, "--speed", "0", "--streams", "1", "--limit", "60"});
    if (deployed.exit_code != 0) throw failure("hare-deploy failed for {} {}: {}", name, placement, deployed.out);
    const auto report = parse_record<deploy::LocalDeployResult>(read_text(run_dir + "/report.json"), run_dir);
    const artifacts::PlanDoc doc = artifacts::read_plan(plan + "/plan.yaml");
    for (const auto& node : doc.nodes) {
      const auto it = report.status.find(node.name);
      if (it == report.status.end()) continue;
      PlacementNode row{name, placement, node.name, fmt::format("{}", fmt::join(node.roles, "+")), node.memory_bytes,
                        it->second.memory.alone_bytes.value_or(0), it->second.memory.total.pss_bytes};
      out.push_back(row);
    }
  }
  return out;
}

// Processes of this machine that map libtorch now: they share its pages
// with the workers measured, and so take part of the workers' PSS.
int processes_mapping_libtorch() {
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (read_text(entry.path().string() + "/maps").find("libtorch_cpu") != std::string::npos) ++count;
  }
  return count;
}

void print_run_header() {
  std::printf("%-13s %-20s %-16s %2s %4s %8s %8s %8s %8s %8s %8s %11s\n", "model", "mode", "variant", "r", "proc",
              "RSS MB", "PSS MB", "USS MB", "anon MB", "file MB", "node PSS", "compute ms");
}

// One line per process, then the node's sum.
void print_run(const MemoryBenchRun& run) {
  const auto line = [&](const char* what, const ProcessMemory& m, const std::string& node_pss) {
    std::printf("%-13s %-20s %-16s %2d %4s %8.1f %8.1f %8.1f %8.1f %8.1f %8s %11s\n", run.model.c_str(), run.mode.c_str(),
                run.variant.c_str(), run.replicas, what, mb(m.rss_bytes), mb(m.pss_bytes), mb(m.uss_bytes),
                mb(m.anon_bytes), mb(m.file_bytes), node_pss.c_str(),
                node_pss.empty() ? "" : fmt::format("{:.3f}", run.compute_ms_p50).c_str());
  };
  line("sup", run.memory.supervisor, "");
  for (const auto& w : run.memory.workers) line("wrk", w.memory, "");
  line("sum", run.memory.total, fmt::format("{:.1f}", mb(run.memory.total.pss_bytes)));
}

void print_breakdown(const MemoryBenchRun& run) {
  if (!run.breakdown) return;
  const WorkerBreakdown& b = *run.breakdown;
  std::printf("%s, %s, r=%d: the worker process's resident memory by kind (smaps, all mappings)\n", run.model.c_str(),
              run.mode.c_str(), run.replicas);
  std::printf("  [heap] (main malloc arena)                          %6.1f MB private\n", mb(b.heap_bytes));
  std::printf("  unnamed anonymous (other arenas, thread stacks)     %6.1f MB private\n", mb(b.unnamed_anon_bytes));
  std::printf("  [stack]                                             %6.1f MB private\n", mb(b.stack_bytes));
  std::printf("  copy-on-write pages of %3d libraries (relocations)  %6.1f MB private\n", b.libraries,
              mb(b.library_anon_bytes));
  std::printf("  clean file pages (library code and data)            %6.1f MB shared\n", mb(b.file_bytes));
}

void print_mappings(const MemoryBenchRun& run) {
  std::printf("\n%s, %s, r=%d, %s: the first worker process's %d largest mappings by PSS (smaps)\n", run.model.c_str(),
              run.mode.c_str(), run.replicas, run.variant.c_str(), kTopMappings);
  std::printf("%8s %8s %8s %8s %8s  %s\n", "PSS MB", "RSS MB", "USS MB", "anon MB", "file MB", "mapping");
  for (const MappingMemory& m : run.top_mappings) {
    std::printf("%8.2f %8.2f %8.2f %8.2f %8.2f  %s\n", mb(m.memory.pss_bytes), mb(m.memory.rss_bytes),
                mb(m.memory.uss_bytes), mb(m.memory.anon_bytes), mb(m.memory.file_bytes), m.name.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  return diag::run_main("memory_bench", [&] {
    CLI::App app{"What a node running one stage with r replicas holds, as smaps counts it."};
    std::string json_path;
    std::vector<std::string> models{"models/hare-cnn.pt", "models/deepconvlstm.pt"};
    app.add_option("--json", json_path, "Also write every run as one JSON record per line (MemoryBenchRun) here");
    app.add_option("--models", models, "Models, relative to the repository")->delimiter(',')->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    // Whole lines, so that the tools' notes on stderr do not split ours.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    diag::install_interrupt_handler();
    Settings s;
    s.bin_dir = fs::canonical("/proc/self/exe").parent_path().string();
    s.source_dir = HARE_SOURCE_DIR;
    s.work_dir = fs::temp_directory_path() / fmt::format("hare-memory-bench-{}", getpid());
    make_private_dir(s.work_dir);
    s.base_port = 7300 + static_cast<int>(getpid() % 500) * 4;
    const auto started = std::chrono::steady_clock::now();
    std::vector<MemoryBenchRun> runs;

    std::printf("memory_bench: one node (source, stage, sink) per run, real recordings at full speed; memory from\n"
                "/proc/<pid>/smaps_rollup after the windows were processed (MB = MiB). Other processes mapping\n"
                "libtorch on this machine when it started: %d (they share the workers' library pages, and PSS)\n\n",
                processes_mapping_libtorch());
    print_run_header();
    for (size_t m = 0; m < models.size(); ++m) {
      const Plan plan = make_plan(s, models[m], static_cast<int>(m));
      // hare-cnn takes 0.4 ms a window, DeepConvLSTM 15 ms; the recording has 646.
      const long long windows = plan.name == "deepconvlstm" ? 120 : 600;
      std::vector<MemoryBenchRun> model_runs;
      for (bool process_per_replica : {false, true}) {
        for (int r = 1; r <= 3; ++r) {
          // One replica is one process either way: measured once, shown for both.
          if (process_per_replica && r == 1) {
            MemoryBenchRun same = model_runs.front();
            same.mode = "process-per-replica";
            model_runs.push_back(same);
            print_run(same);
            continue;
          }
          // The mappings of the threads-mode worker with all three replicas.
          model_runs.push_back(
              run_node(s, plan, r, process_per_replica, windows, {}, "default", !process_per_replica && r == 3));
          print_run(model_runs.back());
        }
      }
      // The allocator: glibc gives each new thread an arena of its own
      // (MALLOC_ARENA_MAX, which glibc reads, caps them), and the worker
      // returns free heap pages after warm-up (HARE_MALLOC_TRIM=0 skips it).
      for (const auto& [variant, env] : std::vector<std::pair<std::string, std::string>>{
               {"2 arenas", "MALLOC_ARENA_MAX=2"}, {"1 arena", "MALLOC_ARENA_MAX=1"}, {"no trim", "HARE_MALLOC_TRIM=0"}}) {
        model_runs.push_back(run_node(s, plan, 3, false, windows, {env}, variant, false));
        print_run(model_runs.back());
      }
      std::printf("\n%s: what each replica beyond the first adds to the node (mean over r = 2, 3)\n", plan.name.c_str());
      std::printf("%-20s %14s %14s %14s\n", "mode", "PSS MB/replica", "USS MB/replica", "anon MB/replica");
      double threads_pss_per_replica = 0.0;
      for (const char* mode : {"threads", "process-per-replica"}) {
        const MemoryBenchRun* one = nullptr;
        const MemoryBenchRun* three = nullptr;
        for (const auto& run : model_runs) {
          if (run.mode != mode || run.variant != "default") continue;
          if (run.replicas == 1) one = &run;
          if (run.replicas == 3) three = &run;
        }
        if (!one || !three) continue;
        const auto per = [&](int64_t ProcessMemory::* field) {
          return mb(three->memory.total.*field - one->memory.total.*field) / 2.0;
        };
        std::printf("%-20s %14.1f %14.1f %14.1f\n", mode, per(&ProcessMemory::pss_bytes), per(&ProcessMemory::uss_bytes),
                    per(&ProcessMemory::anon_bytes));
        if (std::string(mode) == "threads") threads_pss_per_replica = per(&ProcessMemory::pss_bytes);
      }
      std::printf("target (issue 15): a replica beyond the first costs at most 32 MB (half of a worker's ~64 MB private "
                  "part): %.1f MB of PSS as threads, %s\n",
                  threads_pss_per_replica, threads_pss_per_replica <= 32.0 ? "met" : "NOT met");
      std::printf("\n");
      runs.insert(runs.end(), model_runs.begin(), model_runs.end());
    }

    // The seed's claim: memory per node by placement.
    std::printf("memory per node by placement (hare-deploy local; MB): predicted for a board of its own, measured "
                "alone, PSS here\n");
    std::printf("%-13s %-11s %-8s %-20s %10s %10s %8s %8s\n", "model", "placement", "node", "roles", "predicted",
                "alone", "error", "PSS");
    std::vector<PlacementNode> placement_rows;
    for (size_t m = 0; m < models.size(); ++m) {
      for (const PlacementNode& row : run_placements(s, models[m], static_cast<int>(m))) {
        std::printf("%-13s %-11s %-8s %-20s %10.1f %10.1f %+7.1f%% %8.1f\n", row.model.c_str(), row.placement.c_str(),
                    row.node.c_str(), row.roles.c_str(), mb(row.predicted_bytes), mb(row.alone_bytes),
                    100.0 * (static_cast<double>(row.alone_bytes) / static_cast<double>(row.predicted_bytes) - 1.0),
                    mb(row.pss_bytes));
        placement_rows.push_back(row);
      }
    }
    std::printf("\n");

    // Where one worker's memory goes: 3 replicas as threads.
    for (const MemoryBenchRun& run : runs) {
      if (!run.breakdown) continue;
      print_breakdown(run);
      print_mappings(run);
      std::printf("\n");
    }

    if (!json_path.empty()) {
      std::string lines;
      for (const auto& run : runs) lines += record_line(run) + "\n";
      for (const auto& row : placement_rows) lines += record_line(row) + "\n";
      write_text(json_path, lines);
    }
    std::error_code ignored;
    fs::remove_all(s.work_dir, ignored);
    std::printf("\nmemory_bench took %.0f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return 0;
  });
}
