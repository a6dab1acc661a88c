#include "deploy/remote.h"

#include <filesystem>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "artifacts/plan.h"
#include "artifacts/plan_dir.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "data/dataset_spec.h"
#include "deploy/shell.h"
#include "partition/cluster.h"
#include "runtime/keys.h"

namespace hare::deploy {
namespace fs = std::filesystem;

namespace {

struct Deployment {
  partition::ClusterConfig cluster;
  artifacts::PlanDoc plan;
  std::map<std::string, artifacts::ManifestEntry> manifest;
  std::string hash;  // of the manifest: names the plan on the nodes
};

Deployment load(const RemoteOptions& options) {
  Deployment d;
  artifacts::PlanDir loaded = artifacts::load_plan_dir(options.plan_dir);
  d.manifest = std::move(loaded.manifest);
  d.plan = std::move(loaded.plan);
  d.cluster = partition::read_cluster(options.cluster_path);
  const std::string manifest_path = (fs::path(options.plan_dir) / "manifest.yaml").string();
  const std::string manifest_sha = sha256_file(manifest_path);
  d.hash = manifest_sha.substr(0, 16);
  // The manifest travels too: its own entry, for the checks on the nodes.
  d.manifest["manifest.yaml"] = artifacts::ManifestEntry{manifest_sha, static_cast<int64_t>(fs::file_size(manifest_path))};
  for (const auto& node : d.plan.nodes) {
    if (d.cluster.find_node(node.name) == nullptr) {
      throw input_error(Location{options.cluster_path}, "the plan's node {} is not in this cluster config", node.name)
          .with_hint("deploy with the cluster config the plan was made from");
    }
  }
  return d;
}

SshTarget target_for(const RemoteOptions& options, const partition::NodeConfig& node) {
  return ssh_target(node.name, node.address, node.ssh.user, node.ssh.port, node.ssh.identity_file, options.known_hosts,
                    options.ssh_config, options.policy);
}

// The files of the plan a node needs: the plan, the card, the manifest and
// its slice.
std::vector<std::string> files_for(const Deployment& d, const std::string& node) {
  std::vector<std::string> files = {"plan.yaml", "model.yaml", "manifest.yaml"};
  const artifacts::PlanNode* n = d.plan.find_node(node);
  if (n != nullptr && n->stage) files.push_back(d.plan.stages[static_cast<size_t>(*n->stage - 1)].slice);
  return files;
}

// Runs `body` for every plan node in parallel; collects every failure.
void for_each_node(const Deployment& d, const std::function<void(const partition::NodeConfig&)>& body) {
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::vector<Error> errors;
  for (const auto& plan_node : d.plan.nodes) {
    const partition::NodeConfig* node = d.cluster.find_node(plan_node.name);
    threads.emplace_back([&, node] {
      try {
        body(*node);
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(mutex);
        errors.push_back(e);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        errors.push_back(failure("node {}: {}", node->name, e.what()));
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!errors.empty()) {
    Error first = errors.front();
    first.with_more(std::vector<Error>(errors.begin() + 1, errors.end()));
    throw first;
  }
}


// A node's directory: <remote_dir>/<node> under the login directory (one per
// node name, so that hosts sharing a home — the test bed — do not collide).
std::string node_rel(const RemoteOptions& options, const std::string& node) { return options.remote_dir + "/" + node; }
std::string node_dir(const RemoteOptions& options, const std::string& node) {
  return home_path({options.remote_dir, node});
}
// A file of the node's run directory (pid, log), as shell text.
std::string run_file(const RemoteOptions& options, const std::string& node, const std::string& suffix) {
  return home_path({options.remote_dir, node, "run", node + suffix});
}

// A dataset spec file's name among the source node's recordings.
std::string spec_upload_name(const std::string& spec_path) {
  return "dataset-spec-" + fs::path(spec_path).filename().string();
}

std::string bin(const RemoteOptions& options, const std::string& tool) {
  return shell_quote((fs::path(options.remote_bin) / tool).string());
}

}  // namespace

PushResult push(const RemoteOptions& options) {
  Deployment d = load(options);
  for (const std::string& name : options.also_nodes) {
    if (d.plan.find_node(name) != nullptr) continue;
    if (d.cluster.find_node(name) == nullptr) {
      throw input_error(Location{options.cluster_path}, "node {} is not in this cluster config", name);
    }
    artifacts::PlanNode idle;  // no role: the plan, the card and the manifest only
    idle.name = name;
    d.plan.nodes.push_back(idle);
  }
  PushResult result;
  std::mutex mutex;
  // What each node looked like before, to revert on failure.
  std::map<std::string, std::string> previous_current;
  std::map<std::string, bool> created;
  try {
    for_each_node(d, [&](const partition::NodeConfig& node) {
      SshSession session(target_for(options, node));
      const std::string D = node_dir(options, node.name);
      const std::string target = "plans/" + d.hash;
      const auto files = files_for(d, node.name);
      std::string check;  // sha256sum -c list
      for (const auto& f : files) check += d.manifest.at(f).sha256 + "  " + f + "\n";
      // Private whatever the node's umask: hare-node refuses a run directory
      // others can write to, and the run's keys go there.
      session.run_checked("preparing " + options.remote_dir,
                          "(umask 077 && mkdir -p " + D + "/plans " + D + "/run) && chmod 700 " + D + " " + D + "/run");
      const CommandResult before = session.run("readlink " + D + "/current");
      {
        std::lock_guard<std::mutex> lock(mutex);
        previous_current[node.name] = before.exit_status == 0 ? std::string(trim(before.out)) : "";
      }
      // Already there and intact: only (maybe) switch to it.
      session.upload_bytes(check, node_rel(options, node.name) + "/.check-" + d.hash);
      const bool present = session.run("cd " + D + "/" + target + " 2>/dev/null && sha256sum -c --quiet ../../.check-" + d.hash).exit_status == 0;
      std::string what;
      if (!present) {
        // Stage: reuse files the current plan already has, upload the rest.
        const std::string staging = "staging-" + d.hash;
        session.run_checked("staging", "cd " + D + " && rm -rf " + staging + " && mkdir -p " + staging + "/nodes " + staging + "/slices");
        const CommandResult have = session.run("cd " + D + "/current 2>/dev/null && sha256sum " + [&] {
          std::string list;
          for (const auto& f : files) list += shell_quote(f) + " ";
          return list;
        }() + " 2>/dev/null");
        int uploaded = 0;
        int64_t bytes = 0;
        for (const auto& f : files) {
          const std::string want = d.manifest.at(f).sha256;
          if (have.out.find(want + "  " + f) != std::string::npos) {
            session.run_checked("reusing " + f, "cp -p " + D + "/current/" + shell_quote(f) + " " + D + "/" + staging + "/" + shell_quote(f));
            continue;
          }
          session.upload((fs::path(options.plan_dir) / f).string(), node_rel(options, node.name) + "/" + staging + "/" + f);
          ++uploaded;
          bytes += d.manifest.at(f).bytes;
        }
        // Verify on the node before anything switches.
        const CommandResult verified = session.run("cd " + D + "/" + staging + " && sha256sum -c --quiet ../.check-" + d.hash);
        if (verified.exit_status != 0) {
          session.run("rm -rf " + D + "/" + staging);
          throw failure("node {}: checksum mismatch after upload: {}", node.name, std::string(trim(verified.out + verified.err)))
              .with_hint("the transfer was corrupted; push again");
        }
        session.run_checked("moving the plan into place", "cd " + D + " && rm -rf " + target + " && mv " + staging + " " + target);
        std::lock_guard<std::mutex> lock(mutex);
        created[node.name] = true;
        what = fmt::format("uploaded {} of {} files ({} bytes), verified", uploaded, files.size(), bytes);
      }
      // Switch atomically; keep the previous plan for one rollback.
      const std::string old = previous_current[node.name];
      if (old == target) {
        what = what.empty() ? "unchanged" : what;
      } else {
        session.run_checked("switching to the new plan",
             "cd " + D + " && " + (old.empty() ? std::string() : "ln -sfn " + shell_quote(old) + " previous.tmp && mv -T previous.tmp previous && ") +
                 "ln -sfn " + target + " current.tmp && mv -T current.tmp current");
        what = what.empty() ? "switched to the plan already on the node" : what;
      }
      session.run("rm -f " + D + "/.check-" + d.hash);
      diag::note("{}: {}", node.name, what);  // progress, as each node finishes
      std::lock_guard<std::mutex> lock(mutex);
      result.per_node[node.name] = what;
      if (what != "unchanged") result.changed = true;
    });
  } catch (const Error&) {
    // Revert every node this push touched (best effort), then report.
    for (const auto& plan_node : d.plan.nodes) {
      const partition::NodeConfig* node = d.cluster.find_node(plan_node.name);
      try {
        SshSession session(target_for(options, *node));
        const std::string D = node_dir(options, node->name);
        const std::string old = previous_current.count(node->name) ? previous_current[node->name] : "";
        std::string command = "cd " + D + " && rm -rf staging-" + d.hash + " .check-" + d.hash;
        if (!old.empty()) command += " && ln -sfn " + shell_quote(old) + " current.tmp && mv -T current.tmp current";
        if (created.count(node->name) && old != "plans/" + d.hash) command += " && rm -rf plans/" + d.hash;
        session.run(command);
      } catch (const Error&) {
        // Unreachable: nothing was changed there.
      }
    }
    throw;
  }
  return result;
}

namespace {

// `timeout_s`: each command's (a watch's poll must not hang on a host cut off).
NodeDeployStatus status_of(SshSession& session, const RemoteOptions& options, const std::string& node,
                           bool footprint = false, long timeout_s = 60) {
  NodeDeployStatus s;
  const std::string D = node_dir(options, node);
  const std::optional<int> pid = read_remote_pid(session, run_file(options, node, ".pid"), timeout_s);
  if (!pid) {
    s.state = "not running";
    return s;
  }
  s.pid = *pid;
  // Gone, or a zombie nobody reaped yet: either way the node is dead.
  const CommandResult state = session.run("ps -o stat= -p " + std::to_string(*pid) + " 2>/dev/null", timeout_s);
  if (state.exit_status != 0 || trim(state.out).empty() || trim(state.out)[0] == 'Z') {
    s.state = "dead";
    s.log = std::string(trim(session.run("tail -n 5 " + run_file(options, node, ".log") + " 2>/dev/null", timeout_s).out));
    return s;
  }
  const CommandResult status = session.run(bin(options, "hare-node") + " status --run-dir " + D + "/run --node " +
                                               shell_quote(node) + (footprint ? " --footprint" : ""),
                                           timeout_s);
  s.plan = std::string(trim(session.run("readlink " + D + "/current", timeout_s).out));
  if (status.exit_status != 0) {
    s.state = "not answering";
    return s;
  }
  s.state = "running";
  s.node = parse_record<runtime::NodeStatus>(status.out, "node " + node + ": hare-node status");
  return s;
}

void stop_node(SshSession& session, const RemoteOptions& options, const std::string& node) {
  const std::string D = node_dir(options, node);
  const std::string pid_file = run_file(options, node, ".pid");
  session.run(bin(options, "hare-node") + " signal --run-dir " + D + "/run --node " + shell_quote(node) + " stop 2>/dev/null");
  if (const std::optional<int> pid = read_remote_pid(session, pid_file)) {
    // Wait for it to drain and exit; then make sure (its process group).
    session.run(fmt::format("for i in $(seq 1 80); do kill -0 {0} 2>/dev/null || break; sleep 0.1; done; "
                            "kill -KILL -{0} 2>/dev/null; true",
                            *pid));
  }
  // The run's keys go with it (a start makes new ones).
  session.run("rm -f " + pid_file + " " + run_file(options, node, ".keys"));
}

// hare-node's arguments to run `node` on the plan at `plan_path` (shell
// text on the node), with the keys its run directory holds.
std::string node_run_args(const RemoteOptions& options, const std::string& node, const std::string& plan_path,
                          bool source) {
  const std::string D = node_dir(options, node);
  std::string args = "run --plan " + plan_path + " --node " + shell_quote(node) + " --run-dir " + D + "/run" +
                     " --keys " + run_file(options, node, ".keys");
  if (options.lease_s > 0) args += " --lease-s " + fmt::format("{}", options.lease_s);
  if (!options.pin_cores) args += " --cpu-offset -1";
  if (options.gap_wait_s > 0) args += " --gap-wait-s " + fmt::format("{}", options.gap_wait_s);
  if (source) {
    args += " --wait-start --speed " + fmt::format("{}", options.speed);
    if (options.streams > 0) args += " --streams " + std::to_string(options.streams);
    if (options.limit > 0) args += " --limit " + std::to_string(options.limit);
    if (options.replay_windows >= 0) args += " --replay-windows " + std::to_string(options.replay_windows);
    args += " --data";
    for (const auto& file : options.data) args += " " + D + "/data/" + shell_quote(fs::path(file).filename().string());
    if (!options.spec.empty()) {
      args += " --spec " + (data::find_builtin_spec(options.spec) ? shell_quote(options.spec)
                                                                  : D + "/data/" + shell_quote(spec_upload_name(options.spec)));
    }
  }
  return args;
}

// Starts hare-node on the node in the background (its pid and log in its
// run directory), then waits until it answers with its workers warmed up.
void launch_node(SshSession& session, const RemoteOptions& options, const std::string& node, const std::string& args) {
  const std::string D = node_dir(options, node);
  session.run_checked("starting hare-node",
       "cd " + D + " && test -e current && (setsid nohup " + bin(options, "hare-node") + " " + args + " > " +
           run_file(options, node, ".log") + " 2>&1 < /dev/null & echo $! > " + run_file(options, node, ".pid") + ")");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(options.timeout_s);
  while (true) {
    const NodeDeployStatus s = status_of(session, options, node);
    if (s.state == "dead") {
      std::string log = s.log;
      std::replace(log.begin(), log.end(), '\n', '|');
      throw failure("node {}: hare-node exited right after start: {}", node, log);
    }
    if (s.node && s.node->ready) {
      diag::note("{}: healthy", node);
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) throw failure("node {}: not healthy within {:.0f} s", node, options.timeout_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

void start(const RemoteOptions& options) {
  const Deployment d = load(options);
  std::mutex mutex;
  std::vector<std::string> started;
  // Fresh keys for every start; each node's goes to it over SSH only.
  // Every node of the cluster has its keys, and every node knows every
  // other's: a plan the watch switches to may use any of them.
  std::vector<std::string> names;
  for (const auto& node : d.cluster.nodes) names.push_back(node.name);
  const auto keys = runtime::generate_deployment_keys(names);
  const auto put_keys = [&](SshSession& session, const std::string& node) {
    session.run_checked("preparing the keys", "(umask 077 && mkdir -p " + node_dir(options, node) + "/run)");
    session.upload_bytes(runtime::keys_to_text(keys.at(node)), node_rel(options, node) + "/run/" + node + ".keys",
                         /*private_file=*/true);
  };
  auto start_node = [&](const partition::NodeConfig& node, bool source) {
    SshSession session(target_for(options, node));
    put_keys(session, node.name);
    {
      std::lock_guard<std::mutex> lock(mutex);
      started.push_back(node.name);
    }
    launch_node(session, options, node.name,
                node_run_args(options, node.name, node_dir(options, node.name) + "/current", source));
  };
  try {
    if (options.data.empty()) throw input_error(Location{}, "start needs recordings for the source: --data FILE...");
    // A spec is checked here, where its errors can name its file and line.
    if (!options.spec.empty()) data::resolve_dataset_spec(options.spec);
    // The recordings first (unchanged ones stay): no node's lease runs
    // while a long upload goes on.
    const partition::NodeConfig* source_node = d.cluster.find_node(d.plan.source);
    {
      SshSession session(target_for(options, *source_node));
      const std::string D = node_dir(options, source_node->name);
      session.run_checked("preparing data", "mkdir -p " + D + "/data");
      for (const auto& file : options.data) {
        const std::string name = fs::path(file).filename().string();
        const CommandResult have = session.run("sha256sum " + D + "/data/" + shell_quote(name) + " 2>/dev/null");
        if (have.out.rfind(sha256_file(file), 0) != 0) session.upload(file, node_rel(options, source_node->name) + "/data/" + name);
      }
      if (!options.spec.empty() && !data::find_builtin_spec(options.spec)) {
        session.upload(options.spec, node_rel(options, source_node->name) + "/data/" + spec_upload_name(options.spec));
      }
    }
    // Stage hosts first, then the source (which waits for "start").
    Deployment rest = d;
    rest.plan.nodes.erase(std::remove_if(rest.plan.nodes.begin(), rest.plan.nodes.end(),
                                         [&](const auto& n) { return n.name == d.plan.source; }),
                          rest.plan.nodes.end());
    for_each_node(rest, [&](const partition::NodeConfig& node) { start_node(node, false); });
    start_node(*source_node, true);
    // The nodes the plan does not use get their keys too, for a watch that
    // starts them (one that is unreachable now cannot be used then).
    for (const auto& node : d.cluster.nodes) {
      if (d.plan.find_node(node.name) != nullptr) continue;
      try {
        SshSession session(target_for(options, node));
        put_keys(session, node.name);
      } catch (const Error& e) {
        diag::note("{}: not in the plan and unreachable ({}): a watch cannot start it", node.name, e.message());
      }
    }
    SshSession session(target_for(options, *source_node));
    session.run_checked("starting the stream", bin(options, "hare-node") + " signal --run-dir " + node_dir(options, source_node->name) +
                                            "/run --node " + shell_quote(source_node->name) + " start");
  } catch (const Error&) {
    // Roll back: stop every node this start launched.
    for (const auto& name : started) {
      try {
        SshSession session(target_for(options, *d.cluster.find_node(name)));
        stop_node(session, options, name);
      } catch (const Error&) {
      }
    }
    throw;
  }
}

std::map<std::string, NodeDeployStatus> status(const RemoteOptions& options, bool footprint) {
  const Deployment d = load(options);
  std::map<std::string, NodeDeployStatus> out;
  std::mutex mutex;
  for_each_node(d, [&](const partition::NodeConfig& node) {
    NodeDeployStatus s;
    try {
      SshSession session(target_for(options, node));
      s = status_of(session, options, node.name, footprint);
    } catch (const Error& e) {
      s = NodeDeployStatus{};
      s.state = "unreachable";
      s.error = e.message();
    }
    std::lock_guard<std::mutex> lock(mutex);
    out[node.name] = std::move(s);
  });
  return out;
}

void to_json(Json& j, const NodeDeployStatus& s) {
  j = s.node ? Json(*s.node) : Json::object();
  j["state"] = s.state;
  j["plan"] = s.plan;
  j["pid"] = s.pid;
  j["log"] = s.log;
  j["error"] = s.error;
}

void from_json(const Json& j, NodeDeployStatus& s) {
  j.at("state").get_to(s.state);
  j.at("plan").get_to(s.plan);
  j.at("pid").get_to(s.pid);
  j.at("log").get_to(s.log);
  j.at("error").get_to(s.error);
  if (s.state == "running") {
    s.node = j.get<runtime::NodeStatus>();
  } else {
    s.node.reset();
  }
}

void stop(const RemoteOptions& options) {
  const Deployment d = load(options);
  for_each_node(d, [&](const partition::NodeConfig& node) {
    SshSession session(target_for(options, node));
    stop_node(session, options, node.name);
  });
}

void undeploy(const RemoteOptions& options) {
  const Deployment d = load(options);
  for_each_node(d, [&](const partition::NodeConfig& node) {
    SshSession session(target_for(options, node));
    stop_node(session, options, node.name);
    session.run_checked("removing " + node_rel(options, node.name), "rm -rf " + node_dir(options, node.name) +
                                                                 " && rmdir " + home_path({options.remote_dir}) + " 2>/dev/null; true");
  });
}

namespace {

// What a dead node's log tail says of its end (last_error_line), else that
// it left no error.
std::string last_log_line(const std::string& log) {
  return last_error_line(log).value_or("it exited without an error in its log (killed? out of memory?)");
}

// Where a node's log is, for a message: on the node, under the login directory.
std::string log_hint(const RemoteOptions& options, const std::string& node) {
  return fmt::format("its log, on that node: ~/{}/run/{}.log", node_rel(options, node), node);
}

}  // namespace

namespace {

// The plan directory's name on the nodes: plans/<hash>.
std::string plan_hash(const std::string& plan_dir) {
  return sha256_file((fs::path(plan_dir) / "manifest.yaml").string()).substr(0, 16);
}

class RemoteTarget : public WatchTarget {
 public:
  explicit RemoteTarget(RemoteOptions options) : options_(std::move(options)), cluster_(partition::read_cluster(options_.cluster_path)) {}

  ~RemoteTarget() override {
    // Polls still in flight end within their commands' timeout.
    for (auto& [node, poll] : polls_) poll.thread.join();
  }

  std::map<std::string, std::optional<runtime::NodeStatus>> status(const std::vector<std::string>& nodes,
                                                                  double timeout_s) override {
    // One SSH command per node and window, in parallel; the window waits
    // for them `timeout_s`, no longer: a host cut off (its interface down)
    // would otherwise hold the whole watch, and every other node's lease,
    // for the SSH timeouts. A poll that has not answered by then is no
    // answer this window; it ends in the background, and the node is not
    // asked again until it has. A late answer that did come is the node's
    // answer for the next window unless a fresh one comes in time: on a
    // loaded machine (an SSH command taking longer than the window) a node
    // that answers is never lost for being slow.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(timeout_s, 0.1));
    std::map<std::string, std::optional<runtime::NodeStatus>> out;
    std::vector<std::pair<std::string, std::shared_ptr<PollResult>>> asked;
    for (const std::string& node : nodes) {
      out[node] = std::nullopt;
      auto in_flight = polls_.find(node);
      if (in_flight != polls_.end()) {
        if (!in_flight->second.result->done) continue;
        in_flight->second.thread.join();
        if (!in_flight->second.result->failed) out[node] = in_flight->second.result->answer;  // late, not lost
        polls_.erase(in_flight);
      }
      auto result = std::make_shared<PollResult>();
      // The destructor joins it: `this` outlives it. Polls have sessions of
      // their own (one poll per node at a time): a late poll never shares
      // one with the control requests and starts of the watch's thread.
      std::thread poll([this, result, node] {
        std::optional<runtime::NodeStatus> answer;
        bool failed = false;
        try {
          std::shared_ptr<SshSession> s;
          {
            std::lock_guard<std::mutex> lock(mutex_);
            s = poll_sessions_[node];
          }
          if (!s) {
            // Connects here, not in the window: a host down costs the connect timeout.
            const partition::NodeConfig* config = cluster_.find_node(node);
            if (config == nullptr) throw failure("node {} is not in this cluster config", node);
            s = std::make_shared<SshSession>(target_for(options_, *config));
            std::lock_guard<std::mutex> lock(mutex_);
            poll_sessions_[node] = s;
          }
          const NodeDeployStatus st = status_of(*s, options_, node, false, kPollCommandTimeoutS);
          if (st.state == "running" && st.node) answer = *st.node;
        } catch (const Error&) {
          failed = true;
        }
        // A failed poll's connection may be wedged: the next one connects
        // anew. A late one that answered keeps its session (dropping it
        // would make every next poll pay a new handshake, and be late too).
        if (failed) {
          std::lock_guard<std::mutex> lock(mutex_);
          poll_sessions_.erase(node);
        }
        std::lock_guard<std::mutex> lock(result->mutex);
        result->answer = std::move(answer);
        result->failed = failed;
        result->done = true;
        result->ready.notify_all();
      });
      polls_[node] = Poll{std::move(poll), result};
      asked.emplace_back(node, result);
    }
    for (auto& [node, result] : asked) {
      std::unique_lock<std::mutex> lock(result->mutex);
      if (!result->ready.wait_until(lock, deadline, [&] { return result->done.load(); })) continue;  // late
      if (!result->failed) {
        out[node] = result->answer;
      } else {
        out[node] = std::nullopt;  // no late answer from before stands for a failed fresh one
      }
    }
    return out;
  }

  runtime::ControlReply control(const std::string& node, const std::string& request) override {
    // "switch <plan>" names the plan as shell text (from install); "ack"
    // numbers, each a word.
    const auto space = request.find(' ');
    const std::string verb = request.substr(0, space);
    const std::string argument = space == std::string::npos ? std::string() : request.substr(space + 1);
    std::string word = argument;
    if (verb == "ack") {
      word.clear();
      for (const std::string_view number : split_whitespace(argument)) {
        word += (word.empty() ? "" : " ") + shell_quote(std::string(number));
      }
    }
    try {
      const CommandResult r =
          session(node)->run(bin(options_, "hare-node") + " control --run-dir " + node_dir(options_, node) + "/run --node " +
                                shell_quote(node) + " " + shell_quote(verb) + " " + word,
                            /*timeout_s=*/150);
      if (r.exit_status == 0) return runtime::ControlReply{true, ""};
      return runtime::ControlReply{false, std::string(trim(r.err + r.out))};
    } catch (const Error& e) {
      drop(node);
      return runtime::ControlReply{false, e.message()};
    }
  }

  std::map<std::string, std::string> install(const std::string& plan_dir, const std::vector<std::string>& nodes) override {
    RemoteOptions o = options_;
    o.plan_dir = plan_dir;
    o.also_nodes = nodes;
    push(o);
    installed_on_[plan_dir] = nodes;
    const std::string hash = plan_hash(plan_dir);
    std::map<std::string, std::string> paths;
    for (const std::string& node : nodes) paths[node] = node_dir(options_, node) + "/plans/" + hash;
    return paths;
  }

  void uninstall(const std::string& plan_dir) override {
    // `current` back to the plan before the push (the nodes kept running it).
    RemoteOptions o = options_;
    o.plan_dir = plan_dir;
    o.also_nodes = installed_on_[plan_dir];
    rollback(o);
  }

  void start(const std::string& node, const std::string& plan_path) override {
    const std::shared_ptr<SshSession> held = session(node);
    SshSession& s = *held;
    if (s.run("test -f " + run_file(options_, node, ".keys")).exit_status != 0) {
      throw failure("node {} has no keys of this deployment: it was unreachable at `hare-deploy start`", node)
          .with_hint("start the deployment again with the node reachable");
    }
    launch_node(s, options_, node, node_run_args(options_, node, plan_path, /*source=*/false));
  }

  void stop(const std::string& node) override { stop_node(*session(node), options_, node); }

 private:
  // A poll's answer, shared with its thread (which may outlive the window).
  struct PollResult {
    std::mutex mutex;
    std::condition_variable ready;
    std::atomic<bool> done{false};
    bool failed = false;
    std::optional<runtime::NodeStatus> answer;
  };
  struct Poll {
    std::thread thread;
    std::shared_ptr<PollResult> result;
  };
  // A poll's commands each end within this (a host cut off mid-command).
  static constexpr long kPollCommandTimeoutS = 5;

  // Connects outside the lock: the switch's threads connect to their nodes
  // together, and a host cut off holds only its own thread for the timeout.
  std::shared_ptr<SshSession> session(const std::string& node) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto found = sessions_.find(node);
      if (found != sessions_.end() && found->second) return found->second;
    }
    const partition::NodeConfig* config = cluster_.find_node(node);
    if (config == nullptr) throw input_error(Location{options_.cluster_path}, "node {} is not in this cluster config", node);
    auto connected = std::make_shared<SshSession>(target_for(options_, *config));
    std::lock_guard<std::mutex> lock(mutex_);
    auto& slot = sessions_[node];
    if (!slot) slot = std::move(connected);  // else another thread connected first: its session is used
    return slot;
  }
  void drop(const std::string& node) {
    std::lock_guard<std::mutex> lock(mutex_);
    sessions_.erase(node);
  }

  RemoteOptions options_;
  partition::ClusterConfig cluster_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<SshSession>> sessions_;
  std::map<std::string, Poll> polls_;  // the last poll of each node (status() only: one thread)
  std::map<std::string, std::shared_ptr<SshSession>> poll_sessions_;  // the polls' own (under mutex_)
  std::map<std::string, std::vector<std::string>> installed_on_;  // plan directory -> the nodes it went to
};

// A watch of the deployment of `options` (running, started from
// `current` = plans/<hash> on every node), its log and plans in `work_dir`
// unless its log is given.
struct RemoteWatch {
  std::unique_ptr<WatchTarget> target;
  std::unique_ptr<Watch> watch;
};
RemoteWatch make_remote_watch(const RemoteOptions& options, const LocalWatchOptions& settings) {
  const Deployment d = load(options);
  const std::string work_dir = (fs::absolute(options.plan_dir).parent_path() / "run").string();
  make_private_dir(work_dir);
  const ReplanInputs inputs = load_replan_inputs(options.plan_dir, d.plan, options.cluster_path, settings.model_path,
                                                 settings.profiles_dir, options.data);
  WatchOptions watch = settings.watch;
  if (watch.log_path.empty()) watch.log_path = work_dir + "/watch.jsonl";
  std::map<std::string, std::string> paths;
  for (const auto& node : d.plan.nodes) paths[node.name] = node_dir(options, node.name) + "/plans/" + d.hash;
  RemoteWatch w;
  w.target = remote_watch_target(options);
  w.watch = std::make_unique<Watch>(*w.target, fs::absolute(options.plan_dir).string(), d.plan, paths, inputs.cluster,
                                    make_replanner_for(inputs), make_plan_writer(inputs, work_dir + "/plans"), watch);
  diag::note("watching: a decision every {} s in {}", watch.window_s, watch.log_path);
  return w;
}

}  // namespace

LocalDeployResult run_remote(const RemoteOptions& given, double run_timeout_s, const LocalWatchOptions* watch) {
  RemoteOptions options = given;
  if (options.lease_s <= 0) options.lease_s = kRunLeaseS;
  if (watch != nullptr && options.gap_wait_s <= 0) options.gap_wait_s = kWatchedGapWaitS;
  push(options);
  const auto started = std::chrono::steady_clock::now();
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  RemoteWatch watched;  // before stop_all, which stops its plan's nodes too
  // Whatever ends the run from here, every node is stopped first; a node
  // that cannot be reached then is named, and its lease ends it.
  struct StopAll {
    const RemoteOptions& options;
    const RemoteWatch& watched;
    bool armed = true;
    ~StopAll() {
      if (!armed) return;
      std::vector<RemoteOptions> plans = {options};
      if (watched.watch && watched.watch->plan_dir() != fs::absolute(options.plan_dir).string()) {
        plans.push_back(options);
        plans.back().plan_dir = watched.watch->plan_dir();
      }
      for (const RemoteOptions& plan : plans) {
        try {
          stop(plan);
        } catch (const Error& e) {
          diag::warning("stopping the run: {} (its lease stops it within {:.0f} s)", e.message(), options.lease_s);
        }
      }
    }
  } stop_all{options, watched};
  {
    // While start() waits for the slowest node, the ones already up are
    // asked their status every quarter lease: none runs out before the run
    // begins.
    std::atomic<bool> starting{true};
    std::thread renew([&] {
      while (starting) {
        for (int k = 0; k < static_cast<int>(options.lease_s * 2.5) && starting; ++k) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (!starting) break;
        try {
          status(options);
        } catch (const Error&) {
        }
      }
    });
    struct Join {
      std::atomic<bool>& flag;
      std::thread& thread;
      ~Join() {
        flag = false;
        thread.join();
      }
    } join{starting, renew};
    start(options);
  }
  LocalDeployResult result;
  const Deployment d = load(options);
  result.sink_node = d.plan.sink;
  result.plan_dir = fs::absolute(options.plan_dir).string();
  if (watch != nullptr) {
    // Watched: the watch polls every node each window (which renews their
    // leases) and takes one that dies or is cut off as lost.
    watched = make_remote_watch(options, *watch);
    watched.watch->run(run_timeout_s - seconds_since(started), [] { return diag::interrupted(); });
    diag::throw_if_interrupted();
    if (!watched.watch->stream_done()) {
      throw failure("the run of {} did not finish in {:.0f} s", options.plan_dir, run_timeout_s)
          .with_hint("its watch log says where it stands; raise --run-timeout for long recordings");
    }
    RemoteOptions final_plan = options;
    final_plan.plan_dir = watched.watch->plan_dir();
    for (const auto& [node, node_status] : status(final_plan, true)) {
      if (node_status.node) result.status[node] = *node_status.node;
    }
    const auto sink = result.status.find(d.plan.sink);
    if (sink == result.status.end() || !sink->second.sink) {
      throw failure("the sink on node {} finished but did not report its summary", d.plan.sink)
          .with_hint(log_hint(options, d.plan.sink));
    }
    result.summary = *sink->second.sink;
    result.plan_dir = watched.watch->plan_dir();
    result.watch = watched.watch->summary();
    stop_all.armed = false;
    stop(final_plan);
    if (result.plan_dir != fs::absolute(options.plan_dir).string()) stop(options);
    result.wall_s = seconds_since(started);
    return result;
  }
  std::optional<runtime::SinkSummary> sink;
  std::map<std::string, std::chrono::steady_clock::time_point> unreachable_since;
  while (true) {
    for (const auto& [node, node_status] : status(options)) {
      if (node_status.state == "dead") {
        throw failure("node {} stopped while streaming: {}", node, last_log_line(node_status.log))
            .with_hint(log_hint(options, node));
      }
      if (node_status.state == "running") {
        unreachable_since.erase(node);
      } else {
        // Unreachable, or alive but not answering: a while is tolerated,
        // not a lease's length (by then the node has stopped itself).
        const auto since = unreachable_since.try_emplace(node, std::chrono::steady_clock::now()).first->second;
        if (seconds_since(since) > options.lease_s / 2) {
          throw failure("node {} is {} for {:.0f} s{}", node, node_status.state, seconds_since(since),
                        node_status.error.empty() ? "" : ": " + node_status.error);
        }
        continue;
      }
      result.status[node] = *node_status.node;
      if (const auto& source = node_status.node->source; source && source->state.rfind("failed", 0) == 0) {
        throw failure("the source on node {} {}", node, source->state)
            .with_hint(log_hint(options, node));
      }
      if (node_status.node->sink) sink = node_status.node->sink;
    }
    if (sink && sink->done) break;
    if (seconds_since(started) > run_timeout_s) {
      throw failure("the run of {} did not finish in {:.0f} s", options.plan_dir, run_timeout_s)
          .with_hint("hare-deploy status shows where it stands; raise --run-timeout for long recordings");
    }
    diag::throw_if_interrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  // Each node's memory once more, with its footprint alone, before it stops.
  for (const auto& [node, node_status] : status(options, true)) {
    if (node_status.node) result.status[node] = *node_status.node;
  }
  stop_all.armed = false;
  stop(options);
  result.wall_s = seconds_since(started);
  result.summary = *sink;
  return result;
}

std::unique_ptr<WatchTarget> remote_watch_target(const RemoteOptions& options) {
  return std::make_unique<RemoteTarget>(options);
}

WatchSummary watch_remote(const RemoteOptions& options, const LocalWatchOptions& settings) {
  RemoteWatch w = make_remote_watch(options, settings);
  w.watch->run(std::numeric_limits<double>::infinity(), [] { return diag::interrupted(); });
  diag::throw_if_interrupted();
  return w.watch->summary();
}

void rollback(const RemoteOptions& options) {
  Deployment d = load(options);
  for (const std::string& name : options.also_nodes) {
    if (d.plan.find_node(name) != nullptr || d.cluster.find_node(name) == nullptr) continue;
    artifacts::PlanNode idle;
    idle.name = name;
    d.plan.nodes.push_back(idle);
  }
  for_each_node(d, [&](const partition::NodeConfig& node) {
    SshSession session(target_for(options, node));
    const std::string D = node_dir(options, node.name);
    if (session.run("test -L " + D + "/previous").exit_status != 0) {
      throw failure("node {}: nothing to roll back to (no previous plan)", node.name);
    }
    session.run_checked("rolling back",
         "cd " + D + " && old=$(readlink current) && new=$(readlink previous) && ln -sfn \"$new\" current.tmp && "
         "ln -sfn \"$old\" previous.tmp && mv -T current.tmp current && mv -T previous.tmp previous");
    diag::note("{}: rolled back to {}", node.name, std::string(trim(session.run("readlink " + D + "/current").out)));
  });
}

}  // namespace hare::deploy
