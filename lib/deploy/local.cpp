#include "deploy/local.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/process.h"
#include "common/strings.h"
#include "runtime/control.h"
#include "runtime/keys.h"
#include "runtime/node_spec.h"
#include "runtime/source.h"

namespace hare::deploy {
namespace fs = std::filesystem;

namespace {

struct Node {
  std::string name;
  pid_t pid = -1;
  bool running = false;
  int exit_status = 0;
  bool killed = false;  // did not stop when asked; killed
};

// Why a node in the run directory ended, from its log: its error line, else
// the log's last line.
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  if (auto error = last_error_line(log)) return *error;
  const std::vector<std::string_view> lines = split(std::string_view(trim(log)), '\n');
  return lines.empty() ? std::string() : std::string(trim(lines.back()));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Owns the started processes; stopping them is its destructor's job, so
// every way out of deploy_local (return, error, interrupt) stops them all.
class Fleet {
 public:
  explicit Fleet(std::string run_dir) : run_dir_(std::move(run_dir)) {}
  ~Fleet() { stop_all(); }

  Node& start(const std::string& name, std::vector<std::string> args) {
    SpawnOptions options;
    options.argv = std::move(args);
    options.log_path = log_of(name);
    options.new_process_group = true;  // the node and its workers: one group to kill
    options.die_with_parent = true;    // killed with this process, even by SIGKILL
    nodes_.push_back(Node{name, spawn_process(options), true, 0, false});
    return nodes_.back();
  }

  // Reaps exited nodes; returns the first one that exited, if any.
  const Node* check() {
    for (Node& n : nodes_) {
      if (!n.running) continue;
      if (const auto status = try_reap(n.pid)) {
        n.running = false;
        n.exit_status = *status;
        return &n;
      }
    }
    return nullptr;
  }

  std::string log_of(const std::string& name) const { return runtime::run_file(run_dir_, name, ".log"); }

  void stop_all() {
    for (const Node& n : nodes_) {
      // Best effort (also from the destructor): whoever does not stop is killed below.
      try {
        if (n.running) runtime::request_control(runtime::control_endpoint(run_dir_, n.name), "stop", 500);
      } catch (const std::exception&) {
      }
    }
    const auto start = std::chrono::steady_clock::now();
    while (seconds_since(start) < 8.0) {
      check();
      bool any = false;
      for (const Node& n : nodes_) any = any || n.running;
      if (!any) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (Node& n : nodes_) {
      // Whatever is left of the group (the node, its workers) is killed;
      // a group whose leader was reaped may be someone else's by now.
      if (n.running) kill(-n.pid, SIGKILL);
      if (n.running) {
        waitpid(n.pid, nullptr, 0);
        n.running = false;
        n.killed = true;
      }
    }
  }

  // Stops one node (a watch's switch that failed after starting it).
  void stop_one(const std::string& name) {
    try {
      runtime::request_control(runtime::control_endpoint(run_dir_, name), "stop", 500);
    } catch (const std::exception&) {
    }
    const auto start = std::chrono::steady_clock::now();
    for (Node& n : nodes_) {
      if (n.name != name || !n.running) continue;
      while (seconds_since(start) < 8.0 && n.running) {
        if (const auto status = try_reap(n.pid)) {
          n.running = false;
          n.exit_status = *status;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      if (n.running) {
        kill(-n.pid, SIGKILL);
        waitpid(n.pid, nullptr, 0);
        n.running = false;
        n.killed = true;
      }
    }
  }

  bool running(const std::string& name) const {
    for (const Node& n : nodes_) {
      if (n.name == name && n.running) return true;
    }
    return false;
  }

  std::vector<Node>& nodes() { return nodes_; }

 private:
  std::string run_dir_;
  std::vector<Node> nodes_;
};

// A node's status, or nothing while it does not answer. A reply that is
// not a status (a foreign process on the socket) counts as not answering.
std::optional<runtime::NodeStatus> status_of(const std::string& endpoint, int timeout_ms, bool footprint = false) {
  try {
    return runtime::request_status(endpoint, timeout_ms, footprint);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A worker reports its windows every 200 ms: once the sink has every
// window, give each stage's members up to a second for their counts to add
// up to what the sink received, so that the report's windows per member are
// the run's, not a report behind.
void wait_for_worker_counts(const artifacts::PlanDoc& plan, const std::string& run_dir) {
  const auto start = std::chrono::steady_clock::now();
  while (seconds_since(start) < 1.0) {
    const auto sink = status_of(runtime::control_endpoint(run_dir, plan.sink), 500);
    if (!sink || !sink->sink) return;
    bool counted = true;
    for (const auto& stage : plan.stages) {
      long long processed = 0;
      for (const auto& member : stage.members) {
        const auto status = status_of(runtime::control_endpoint(run_dir, member.node), 500);
        if (status && status->stage) processed += status->stage->processed;
      }
      counted = counted && processed >= sink->sink->received;
    }
    if (counted) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// hare-node's command line for `node` of `plan` (in `plan_dir`); its
// workers start at core `cpu_offset` (-1: unpinned).
std::vector<std::string> node_args(const LocalDeployOptions& options, const std::string& run_dir,
                                   const std::string& plan_dir, const artifacts::PlanDoc& plan, const std::string& node,
                                   int cpu_offset) {
  std::vector<std::string> args = {options.node_binary, "run", "--plan", fs::absolute(plan_dir).string(), "--node", node,
                                   "--run-dir", run_dir, "--cpu-offset", std::to_string(cpu_offset), "--local", "--keys",
                                   runtime::run_file(run_dir, node, ".keys")};
  if (options.emulate_links) args.push_back("--emulate-links");
  if (node == plan.source) {
    args.push_back("--data");
    for (const auto& file : options.data) args.push_back(fs::absolute(file).string());
    if (!options.spec.empty()) args.insert(args.end(), {"--spec", options.spec});
    args.insert(args.end(), {"--speed", fmt::format("{}", options.speed), "--wait-start"});
    if (options.streams > 0) args.insert(args.end(), {"--streams", std::to_string(options.streams)});
    if (options.limit > 0) args.insert(args.end(), {"--limit", std::to_string(options.limit)});
    if (options.replay_windows >= 0) args.insert(args.end(), {"--replay-windows", std::to_string(options.replay_windows)});
  }
  return args;
}

// Waits until `node` answers with its workers ready; throws, naming it and
// why, when any node of the fleet dies meanwhile or `timeout_s` since
// `start` passes.
void wait_until_ready(Fleet& fleet, const std::string& run_dir, const std::string& node,
                      std::chrono::steady_clock::time_point start, double timeout_s) {
  const std::string endpoint = runtime::control_endpoint(run_dir, node);
  while (true) {
    diag::throw_if_interrupted();
    if (const Node* dead = fleet.check()) {
      throw failure("node {} failed to start: it {}: {}", dead->name, describe_exit(dead->exit_status),
                    last_line(fleet.log_of(dead->name)));
    }
    if (const auto status = status_of(endpoint, 200); status && status->ready) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (seconds_since(start) > timeout_s) {
      throw failure("node {} did not come up within {:.0f} s (log: {})", node, timeout_s, fleet.log_of(node));
    }
  }
}

// The watch's hands on local processes: a plan directory is where it is
// written, a node is a process of the fleet (a lost one, a killed process).
class LocalTarget : public WatchTarget {
 public:
  LocalTarget(Fleet& fleet, const LocalDeployOptions& options, std::string run_dir)
      : fleet_(fleet), options_(options), run_dir_(std::move(run_dir)) {}

  std::map<std::string, std::optional<runtime::NodeStatus>> status(const std::vector<std::string>& nodes,
                                                                  double timeout_s) override {
    std::map<std::string, std::optional<runtime::NodeStatus>> out;
    std::vector<std::thread> threads;
    std::mutex mutex;
    for (const std::string& node : nodes) {
      out[node] = std::nullopt;
      // A process that exited does not answer: no need to wait for it.
      if (!fleet_.running(node)) continue;
      threads.emplace_back([&, node] {
        auto status = status_of(runtime::control_endpoint(run_dir_, node), static_cast<int>(timeout_s * 1000));
        std::lock_guard<std::mutex> lock(mutex);
        out[node] = std::move(status);
      });
    }
    for (auto& thread : threads) thread.join();
    return out;
  }

  runtime::ControlReply control(const std::string& node, const std::string& request) override {
    // A switch answers once the node's new workers are ready (slices
    // loaded and warmed up, at most the supervisor's 60 s).
    const int timeout_ms = request.rfind("switch ", 0) == 0 ? 65'000 : 2000;
    try {
      if (auto reply = runtime::request_control(runtime::control_endpoint(run_dir_, node), request, timeout_ms)) {
        return *reply;
      }
    } catch (const Error& e) {
      return runtime::ControlReply{false, e.message()};
    }
    return runtime::ControlReply{false, fmt::format("no answer within {} ms", timeout_ms)};
  }

  std::map<std::string, std::string> install(const std::string& plan_dir, const std::vector<std::string>& nodes) override {
    const artifacts::PlanDoc plan = artifacts::load_plan_dir(plan_dir).plan;
    std::map<std::string, std::string> paths;
    for (const std::string& node : nodes) {
      // What the node will refuse is refused here, before any node switches.
      if (plan.find_node(node) != nullptr) runtime::load_node_spec(plan_dir, node, /*local=*/true);
      paths[node] = fs::absolute(plan_dir).string();
    }
    return paths;
  }

  // The plan directory stays, for the record: nothing runs it.
  void uninstall(const std::string&) override {}

  void start(const std::string& node, const std::string& plan_path) override {
    const artifacts::PlanDoc plan = artifacts::load_plan_dir(plan_path).plan;
    // Unpinned: the cores the first plan pinned are taken.
    fleet_.start(node, node_args(options_, run_dir_, plan_path, plan, node, -1));
    wait_until_ready(fleet_, run_dir_, node, std::chrono::steady_clock::now(), options_.start_timeout_s);
  }

  void stop(const std::string& node) override { fleet_.stop_one(node); }

 private:
  Fleet& fleet_;
  const LocalDeployOptions& options_;
  std::string run_dir_;
};

}  // namespace

std::optional<std::string> last_error_line(const std::string& log) {
  std::optional<std::string> error;
  for (const std::string_view line : split(log, '\n')) {
    if (line.find(": error: ") != std::string_view::npos) error = std::string(trim(line));
  }
  return error;
}

LocalDeployResult deploy_local(const LocalDeployOptions& options) {
  const artifacts::PlanDoc plan = artifacts::load_plan_dir(options.plan_dir).plan;
  if (options.data.empty()) throw input_error(Location{}, "give the source recordings to stream: --data FILE...");
  // Each node's part of the plan is checked here, before any node starts: a
  // node that refused it was "failed to start: it exited with code 2:
  // hare-node: 13 errors", exit 1, with the errors only in its log.
  for (const auto& node : plan.nodes) runtime::load_node_spec(options.plan_dir, node.name, /*local=*/true);
  runtime::SourceOptions source;
  source.files = options.data;
  source.spec = options.spec;
  runtime::check_source_files(source);
  for (const auto& node : plan.nodes) {
    if (node.address != "127.0.0.1" && node.address != "localhost") {
      diag::note("node {} has address {} in the plan; local mode runs it on 127.0.0.1:{}", node.name, node.address,
                 node.port);
    }
  }
  // Every node of the plan shares this machine's cores (and the source, the
  // sink and each supervisor need some too): throughput predictions assume
  // each node's cores are its own.
  const int machine_cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  // Pinned, each node's workers get cores of their own, which holds only
  // while the plan's worker cores fit this machine's. Beyond, pins would
  // stack some nodes on one core while another idles (emulated boards that
  // sleep most of each window need a fraction of a core each): the
  // scheduler places them instead.
  const bool pin = plan.cores <= machine_cores;
  if (!pin) {
    diag::warning("the plan's workers take {} cores and this machine has {}: they run unpinned, sharing its cores with "
                  "each other, the source, the sink and the supervisors; a saturated run falls short of the predicted "
                  "throughput",
                  plan.cores, machine_cores);
  } else if (plan.stages.size() > 1 && plan.cores == machine_cores) {
    diag::warning("the plan's {} stage(s) use all {} cores of this machine, shared with the source, the sink and the "
                  "supervisors: a saturated run will fall short of the predicted throughput",
                  plan.stages.size(), machine_cores);
  }
  LocalDeployResult result;
  result.run_dir = fs::absolute(options.run_dir).string();
  // Every node's sockets fit a Unix socket path (throws, naming the path),
  // checked before the directory is made.
  for (const auto& node : plan.nodes) runtime::ipc_endpoint(result.run_dir, node.name, ".stats");
  make_private_dir(result.run_dir);  // before anything is started or written (common/fs.h)
  result.sink_node = plan.sink;
  result.predictions_path = runtime::run_file(result.run_dir, plan.sink, ".predictions.jsonl");
  const auto start = std::chrono::steady_clock::now();

  // Watched: what re-planning needs, checked before anything starts.
  std::optional<ReplanInputs> replan;
  if (options.watch) {
    replan = load_replan_inputs(options.plan_dir, plan, options.watch->cluster_path, options.watch->model_path,
                                options.watch->profiles_dir, options.data);
  }

  // Fresh keys for this run: every node gets its own file (0600) and no
  // earlier run's key opens this run's ports. Watched, every node of the
  // cluster gets its keys: a new plan may use any of them.
  std::vector<std::string> names;
  for (const auto& node : plan.nodes) names.push_back(node.name);
  if (replan) {
    names.clear();
    for (const auto& node : replan->cluster.nodes) {
      runtime::ipc_endpoint(result.run_dir, node.name, ".stats");  // fits a socket path, or an error naming it
      names.push_back(node.name);
    }
  }
  // They live as long as the run (a restarted worker reads its node's
  // again): removed after the fleet has stopped, whatever ends the run.
  struct KeyFiles {
    std::vector<std::string> paths;
    ~KeyFiles() {
      for (const auto& path : paths) std::remove(path.c_str());
    }
  } key_files;
  for (const auto& [name, keys] : runtime::generate_deployment_keys(names)) {
    key_files.paths.push_back(runtime::run_file(result.run_dir, name, ".keys"));
    runtime::write_keys_file(key_files.paths.back(), keys);
  }

  Fleet fleet(result.run_dir);
  // Nodes with stages first, the source last: nothing is sent before its
  // receiver exists. Each node's workers start at the next free core.
  std::vector<const artifacts::PlanNode*> order;
  for (const auto& node : plan.nodes) {
    if (node.name != plan.source) order.push_back(&node);
  }
  order.push_back(plan.find_node(plan.source));
  int cpu_offset = 0;
  for (const artifacts::PlanNode* node : order) {
    fleet.start(node->name,
                node_args(options, result.run_dir, options.plan_dir, plan, node->name, pin ? cpu_offset : -1));
    if (node->stage) {
      const artifacts::PlanMember& member = *plan.stages[static_cast<size_t>(*node->stage - 1)].find_member(node->name);
      cpu_offset += member.replicas * member.threads;
    }
  }

  // Wait until every node answers.
  for (const artifacts::PlanNode* node : order) {
    wait_until_ready(fleet, result.run_dir, node->name, start, options.start_timeout_s);
  }
  diag::note("{} nodes up after {:.1f} s; streaming", fleet.nodes().size(), seconds_since(start));
  // A lost reply is asked again (the request is idempotent); a node that
  // never answers is an error, not a run that waits for its timeout.
  bool started_stream = false;
  for (int attempt = 0; attempt < 5 && !started_stream; ++attempt) {
    diag::throw_if_interrupted();
    try {
      const auto reply = runtime::request_control(runtime::control_endpoint(result.run_dir, plan.source), "start", 2000);
      started_stream = reply && reply->ok;
    } catch (const Error&) {
    }
  }
  if (!started_stream) {
    throw failure("node {} did not accept 'start' for its source (log: {})", plan.source, fleet.log_of(plan.source));
  }

  // Wait for the sink to account for every window.
  const std::string sink_endpoint = runtime::control_endpoint(result.run_dir, plan.sink);
  const std::string source_endpoint = runtime::control_endpoint(result.run_dir, plan.source);
  const auto check_source = [&](const runtime::NodeStatus& status) {
    if (status.source->state.rfind("failed", 0) == 0) {
      throw failure("the source on node {} {} (log: {})", plan.source, status.source->state, fleet.log_of(plan.source));
    }
  };
  std::optional<LocalTarget> target;
  std::optional<Watch> watch;
  if (replan) {
    WatchOptions settings = options.watch->watch;
    if (settings.log_path.empty()) settings.log_path = result.run_dir + "/watch.jsonl";
    target.emplace(fleet, options, result.run_dir);
    std::map<std::string, std::string> paths;
    for (const auto& node : plan.nodes) paths[node.name] = fs::absolute(options.plan_dir).string();
    watch.emplace(*target, fs::absolute(options.plan_dir).string(), plan, paths, replan->cluster,
                  make_replanner_for(*replan), make_plan_writer(*replan, result.run_dir + "/plans"), settings);
    diag::note("watching: a decision every {} s in {}", settings.window_s, settings.log_path);
  }
  std::set<std::string> exited;  // nodes that died while watched: lost, not the end of the run
  double next_window_s = 0.0;
  while (true) {
    diag::throw_if_interrupted();
    if (const Node* dead = fleet.check()) {
      // The source and the sink are the cluster's: no plan runs without them.
      if (!watch || dead->name == plan.source || dead->name == plan.sink) {
        throw failure("node {} stopped while streaming: it {}: {}", dead->name, describe_exit(dead->exit_status),
                      last_line(fleet.log_of(dead->name)));
      }
      exited.insert(dead->name);
      diag::note("node {} stopped while streaming ({}): the watch takes it as lost", dead->name,
                 describe_exit(dead->exit_status));
    }
    if (watch && seconds_since(start) >= next_window_s) {
      const double now_s = seconds_since(start);
      watch->step(now_s);
      next_window_s = now_s + options.watch->watch.window_s;
      if (watch->stream_done()) break;
    }
    // The source may sit on another node than the sink: a failed source
    // ends the run at once, naming its node.
    if (plan.source != plan.sink) {
      if (const auto status = status_of(source_endpoint, 1000); status && status->source) check_source(*status);
    }
    if (const auto status = status_of(sink_endpoint, 1000)) {
      if (status->source) check_source(*status);
      if (status->sink && status->sink->done) break;
    }
    if (seconds_since(start) > options.run_timeout_s) throw failure("the run did not finish within {:.0f} s", options.run_timeout_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const artifacts::PlanDoc& final_plan = watch ? watch->plan() : plan;
  result.plan_dir = watch ? watch->plan_dir() : fs::absolute(options.plan_dir).string();
  if (watch) result.watch = watch->summary();
  wait_for_worker_counts(final_plan, result.run_dir);
  for (const Node& node : fleet.nodes()) {
    if (!node.running) continue;
    // Each node's last status, with the footprint alone (what the node
    // takes on a board of its own) if it comes in time: that reads every
    // mapping, and the run does not depend on it, so else a plain one.
    const std::string endpoint = runtime::control_endpoint(result.run_dir, node.name);
    if (auto status = status_of(endpoint, 2000, true); status && status->memory.alone_bytes) {
      result.status[node.name] = std::move(*status);
    } else if (auto plain = status_of(endpoint, 2000)) {
      result.status[node.name] = std::move(*plain);
    }
  }
  const auto sink_status = result.status.find(plan.sink);
  if (sink_status == result.status.end() || !sink_status->second.sink) {
    throw failure("the sink on node {} finished but did not report its summary (log: {})", plan.sink,
                  fleet.log_of(plan.sink));
  }
  result.summary = *sink_status->second.sink;
  fleet.stop_all();
  // A node that failed while stopping (its summary could not be written,
  // say) fails the run: its outputs are not what they claim.
  for (const Node& node : fleet.nodes()) {
    if (!node.killed && node.exit_status != 0 && exited.count(node.name) == 0) {
      throw failure("node {} failed while stopping: it {}: {}", node.name, describe_exit(node.exit_status),
                    last_line(fleet.log_of(node.name)));
    }
  }
  result.wall_s = seconds_since(start);
  write_file_atomic(result.run_dir + "/report.json", record_line(result) + "\n", FileAccess::owner_only);
  return result;
}

}  // namespace hare::deploy
