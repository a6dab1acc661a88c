#include "deploy/local.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/diag.h"
#include "common/error.h"
#include "runtime/supervisor.h"

namespace hare::deploy {
namespace fs = std::filesystem;

namespace {

struct Node {
  std::string name;
  pid_t pid = -1;
  bool running = false;
  int exit_status = 0;
};

std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
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
    const std::string log = run_dir_ + "/" + name + ".log";
    const pid_t pid = fork();
    if (pid < 0) throw failure("cannot start node {} (fork failed)", name);
    if (pid == 0) {
      setpgid(0, 0);  // its own process group: the node and its workers
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    setpgid(pid, pid);
    nodes_.push_back(Node{name, pid, true, 0});
    return nodes_.back();
  }

  // Reaps exited nodes; returns the first one that exited, if any.
  const Node* check() {
    for (Node& n : nodes_) {
      if (!n.running) continue;
      int status = 0;
      if (waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.running = false;
        n.exit_status = status;
        return &n;
      }
    }
    return nullptr;
  }

  std::string log_of(const std::string& name) const { return run_dir_ + "/" + name + ".log"; }

  void stop_all() {
    for (const Node& n : nodes_) {
      if (n.running) runtime::control_request(runtime::control_endpoint(run_dir_, n.name), "stop", 500);
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
      // Whatever is left of the group (the node, its workers) is killed.
      kill(-n.pid, SIGKILL);
      if (n.running) {
        waitpid(n.pid, nullptr, 0);
        n.running = false;
      }
    }
  }

  std::vector<Node>& nodes() { return nodes_; }

 private:
  std::string run_dir_;
  std::vector<Node> nodes_;
};

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return fmt::format("exited with code {}", WEXITSTATUS(status));
}

}  // namespace

LocalDeployResult deploy_local(const LocalDeployOptions& options) {
  artifacts::verify_plan_dir(options.plan_dir);
  const artifacts::PlanDoc plan = artifacts::read_plan((fs::path(options.plan_dir) / "plan.yaml").string());
  if (options.data.empty()) throw input_error(Location{}, "give the source recordings to stream: --data FILE...");
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
  if (plan.stages.size() > 1 && plan.cores >= machine_cores) {
    diag::warning("the plan's {} stage(s) use {} worker cores and this machine has {}, shared with the source, the sink "
                  "and the supervisors: a saturated run will fall short of the predicted throughput",
                  plan.stages.size(), plan.cores, machine_cores);
  }
  LocalDeployResult result;
  result.run_dir = fs::absolute(options.run_dir).string();
  fs::create_directories(result.run_dir);
  result.sink_node = plan.sink;
  result.predictions_path = result.run_dir + "/" + plan.sink + ".predictions.jsonl";
  const auto start = std::chrono::steady_clock::now();

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
    std::vector<std::string> args = {options.node_binary, "run", "--plan", fs::absolute(options.plan_dir).string(),
                                     "--node", node->name, "--run-dir", result.run_dir, "--cpu-offset",
                                     std::to_string(cpu_offset), "--local"};
    if (options.emulate_links) args.push_back("--emulate-links");
    if (node->name == plan.source) {
      args.push_back("--data");
      for (const auto& file : options.data) args.push_back(fs::absolute(file).string());
      if (!options.spec.empty()) args.insert(args.end(), {"--spec", options.spec});
      args.insert(args.end(), {"--speed", fmt::format("{}", options.speed), "--wait-start"});
      if (options.streams > 0) args.insert(args.end(), {"--streams", std::to_string(options.streams)});
      if (options.limit > 0) args.insert(args.end(), {"--limit", std::to_string(options.limit)});
    }
    if (node->stage) {
      const auto& stage = plan.stages[static_cast<size_t>(*node->stage - 1)];
      cpu_offset += stage.replicas * stage.threads;
    }
    fleet.start(node->name, args);
  }

  // Wait until every node answers.
  for (const Node& node : fleet.nodes()) {
    const std::string endpoint = runtime::control_endpoint(result.run_dir, node.name);
    while (true) {
      diag::throw_if_interrupted();
      if (const Node* dead = fleet.check()) {
        throw failure("node {} failed to start: it {}: {}", dead->name, describe_exit(dead->exit_status),
                      last_line(fleet.log_of(dead->name)));
      }
      // Up when it answers and its workers are loaded and warmed up.
      if (const auto reply = runtime::control_request(endpoint, "status", 200)) {
        if (YAML::Load(*reply)["ready"].as<bool>()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (seconds_since(start) > options.start_timeout_s) {
        throw failure("node {} did not come up within {:.0f} s (log: {})", node.name, options.start_timeout_s,
                      fleet.log_of(node.name));
      }
    }
  }
  diag::note("{} nodes up after {:.1f} s; streaming", fleet.nodes().size(), seconds_since(start));
  runtime::control_request(runtime::control_endpoint(result.run_dir, plan.source), "start", 2000);

  // Wait for the sink to account for every window.
  const std::string sink_endpoint = runtime::control_endpoint(result.run_dir, plan.sink);
  while (true) {
    diag::throw_if_interrupted();
    if (const Node* dead = fleet.check()) {
      throw failure("node {} stopped while streaming: it {}: {}", dead->name, describe_exit(dead->exit_status),
                    last_line(fleet.log_of(dead->name)));
    }
    if (const auto reply = runtime::control_request(sink_endpoint, "status", 1000)) {
      const YAML::Node status = YAML::Load(*reply);
      if (status["source"] && status["source"]["state"].as<std::string>().rfind("failed", 0) == 0) {
        throw failure("the source failed: {}", status["source"]["state"].as<std::string>());
      }
      if (status["sink"] && status["sink"]["done"].as<bool>()) break;
    }
    if (seconds_since(start) > options.run_timeout_s) throw failure("the run did not finish within {:.0f} s", options.run_timeout_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const Node& node : fleet.nodes()) {
    if (auto reply = runtime::control_request(runtime::control_endpoint(result.run_dir, node.name), "status", 2000)) {
      result.status[node.name] = *reply;
    }
  }
  const YAML::Node sink_status = YAML::Load(result.status.at(plan.sink));
  YAML::Emitter json;
  json << YAML::Flow << YAML::DoubleQuoted << sink_status["sink"];
  result.summary_json = json.c_str();
  fleet.stop_all();
  result.wall_s = seconds_since(start);
  return result;
}

}  // namespace hare::deploy
