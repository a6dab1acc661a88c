#include "deploy/watch.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "artifacts/planner.h"
#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "data/model_card.h"
#include "partition/problem.h"
#include "partition/solver.h"
#include "runtime/control.h"

namespace hare::deploy {

namespace {

// The node that sends into stage `k` (0-based) of `plan`, when one node
// does (the source, or a previous stage of one member); "" for a group,
// whose windows come from any of its members over several links.
std::string sender_into(const artifacts::PlanDoc& plan, size_t k) {
  if (k == 0) return plan.source;
  const artifacts::PlanStage& before = plan.stages[k - 1];
  return before.members.size() == 1 ? before.members[0].node : std::string();
}

// A link's transfer time per window, split into the two figures the cost
// model has: one-way latency and bandwidth. One figure cannot say which of
// the two changed, so the change is put on the term that dominates the
// planned transfer: serialization (bytes / bandwidth) for a link that
// carries much, latency for one that carries little. `planned`: the plan's
// figures for the link.
LinkMeasurement split_transfer(const std::string& from, const std::string& to, double transfer_ms, double bytes,
                               const artifacts::PlanLink& planned) {
  LinkMeasurement m{from, to, planned.bandwidth_mbps, planned.latency_ms};
  const double serialize_ms = planned.bandwidth_mbps > 0.0 ? bytes * 8.0 / (planned.bandwidth_mbps * 1000.0) : 0.0;
  if (serialize_ms >= planned.latency_ms && bytes > 0.0) {
    // At least a microsecond of serialization: a transfer measured at or
    // under the latency means a link faster than the clock can tell.
    m.bandwidth_mbps = bytes * 8.0 / (std::max(transfer_ms - planned.latency_ms, 1e-3) * 1000.0);
  } else {
    m.latency_ms = std::max(transfer_ms - serialize_ms, 0.0);
  }
  return m;
}

// A node's compute per window as its replicas measured it: their p50s,
// weighted by the windows each served, and those windows.
std::pair<long long, double> served_compute(const runtime::StageStatus& stage) {
  long long windows = 0;
  double sum = 0.0;
  for (const runtime::WorkerStatus& worker : stage.workers) {
    windows += worker.windows;
    sum += worker.compute_ms_p50 * static_cast<double>(worker.windows);
  }
  return {windows, windows > 0 ? sum / static_cast<double>(windows) : 0.0};
}

// The order in which nodes take a new plan: receivers before their senders
// (the sink, the stages from the last, the source's node last), then the
// nodes the new plan no longer uses, which idle.
std::vector<std::string> switch_order(const artifacts::PlanDoc& next, const std::set<std::string>& others) {
  std::vector<std::string> order;
  const auto add = [&](const std::string& node) {
    if (std::find(order.begin(), order.end(), node) == order.end()) order.push_back(node);
  };
  // The source's node goes last, whatever else it runs (the sink, a
  // stage): its source replays the unacknowledged windows as soon as it
  // switches, and a stage node still on the old plan would drop them.
  if (next.sink != next.source) add(next.sink);
  for (auto stage = next.stages.rbegin(); stage != next.stages.rend(); ++stage) {
    for (const artifacts::PlanMember& m : stage->members) {
      if (m.node != next.source) add(m.node);
    }
  }
  add(next.source);
  for (const std::string& node : others) add(node);
  return order;
}

partition::Objective objective_of(const artifacts::PlanDoc& plan) {
  const auto objective = partition::parse_objective(plan.objective);
  if (!objective) throw failure("plan.yaml: unknown objective '{}'", plan.objective);
  return *objective;
}

}  // namespace

ReplanInputs load_replan_inputs(const std::string& plan_dir, const artifacts::PlanDoc& plan,
                                const std::string& cluster_path, const std::string& model_path,
                                const std::string& profiles_dir, std::vector<std::string> check_data) {
  ReplanInputs in;
  in.cluster_path = cluster_path;
  in.model_path = model_path.empty() ? "models/" + plan.model_name + ".pt" : model_path;
  in.card_path = plan_dir + "/model.yaml";
  if (!std::filesystem::exists(in.model_path)) {
    throw input_error(Location{in.model_path}, "the plan's model is not here; the watch slices it for every new plan")
        .with_hint("give it with --model FILE");
  }
  const std::string sha = sha256_file(in.model_path);
  if (sha != plan.model_sha256) {
    throw input_error(Location{in.model_path}, "is not the model of plan {} (sha256 differs)", plan_dir)
        .with_hint("give the model the plan was made from with --model FILE");
  }
  const data::ModelCard card = data::read_card_for_model(in.model_path, in.card_path);
  in.cluster = partition::read_cluster(cluster_path);
  partition::resolve_local_devices(in.cluster);
  for (const artifacts::PlanNode& node : plan.nodes) {
    if (in.cluster.find_node(node.name) == nullptr) {
      throw input_error(Location{cluster_path}, "the plan's node {} is not in this cluster config", node.name)
          .with_hint("watch with the cluster config the plan was made from");
    }
  }
  in.profiles = partition::load_profiles(in.cluster, profiles_dir, card, in.card_path, sha);
  in.window_rate = plan.window_rate;
  in.objective = objective_of(plan);
  in.expand = in.profiles.begin()->second.expand;
  in.check_data = std::move(check_data);
  // The plan's ports are base + the node's index in the config: nodes it
  // does not use get theirs the same way.
  int base_port = 5550;
  for (const artifacts::PlanNode& node : plan.nodes) base_port = node.port - in.cluster.node_index(node.name);
  for (size_t i = 0; i < in.cluster.nodes.size(); ++i) in.ports[in.cluster.nodes[i].name] = base_port + static_cast<int>(i);
  return in;
}

ReplannerFor make_replanner_for(const ReplanInputs& inputs) {
  return [profiles = inputs.profiles, rate = inputs.window_rate, objective = inputs.objective](
             const artifacts::PlanDoc& running) { return make_replanner(profiles, rate, running, objective); };
}

PlanWriter make_plan_writer(const ReplanInputs& inputs, std::string plans_root) {
  return [inputs, plans_root = std::move(plans_root)](const partition::ClusterConfig& cluster, const Replan& replan,
                                                      int number) {
    const partition::Problem problem = partition::build_problem(cluster, inputs.profiles, inputs.window_rate);
    partition::SolveResult result;
    result.plans = {*replan.best};
    result.metrics = {replan.best_metrics};
    result.method = "re-solved by hare-deploy watch";
    artifacts::WritePlanRequest request;
    request.model_path = inputs.model_path;
    request.card_path = inputs.card_path;
    request.cluster_path = inputs.cluster_path;
    request.cluster = &cluster;
    request.problem = &problem;
    request.result = &result;
    request.objective = inputs.objective;
    request.expand = inputs.expand;
    request.check_data = inputs.check_data;
    request.ports = inputs.ports;
    request.out = fmt::format("{}/plan-{}", plans_root, number);
    request.force = true;  // the watch's own directory: a plan of an earlier watch there is replaced
    make_dirs(plans_root);
    artifacts::write_plan_dir(request);
    return NewPlan{request.out, artifacts::load_plan_dir(request.out).plan};
  };
}

Watch::Watch(WatchTarget& target, std::string plan_dir, artifacts::PlanDoc plan,
             std::map<std::string, std::string> plan_paths, partition::ClusterConfig cluster, ReplannerFor replanner_for,
             PlanWriter writer, WatchOptions options)
    : target_(target),
      plan_dir_(std::move(plan_dir)),
      plan_(std::move(plan)),
      plan_paths_(std::move(plan_paths)),
      replanner_for_(std::move(replanner_for)),
      writer_(std::move(writer)),
      options_(std::move(options)),
      policy_(std::move(cluster), planned_compute_ms(plan_), objective_of(plan_),
              options_.policy, [this](const partition::ClusterConfig& measured) {
                // Always the running plan's replanner: it evaluates that plan.
                last_replan_ = replanner_for_(plan_)(measured);
                return *last_replan_;
              }) {
  summary_.plan_dir = plan_dir_;
  for (const artifacts::PlanNode& node : plan_.nodes) last_seen_s_[node.name] = 0.0;
}

std::vector<std::string> Watch::watched_nodes() const {
  std::set<std::string> nodes;
  for (const artifacts::PlanNode& node : plan_.nodes) nodes.insert(node.name);
  nodes.insert(started_.begin(), started_.end());
  // A lost node is asked again every window: one that answers is back.
  nodes.insert(policy_.lost().begin(), policy_.lost().end());
  nodes.insert(unstartable_.begin(), unstartable_.end());
  return {nodes.begin(), nodes.end()};
}

std::optional<double> Watch::window_mean(const std::string& key, long long windows, double mean) {
  Counters& c = counters_[key];
  const Counters now{windows, mean * static_cast<double>(windows)};
  const Counters before = c;
  c = now;
  // A counter that went back is a restarted process's: a baseline only.
  if (now.windows <= before.windows) return std::nullopt;
  return std::max(0.0, (now.total - before.total) / static_cast<double>(now.windows - before.windows));
}

Observation Watch::observe(double now_s, const std::map<std::string, std::optional<runtime::NodeStatus>>& answers) {
  Observation o;
  o.time_s = now_s;
  for (const auto& [node, status] : answers) {
    if (status) {
      last_seen_s_[node] = now_s;
      unstartable_.erase(node);
      o.alive.push_back(node);
    } else if (now_s - last_seen_s_.try_emplace(node, now_s).first->second >= options_.lost_after_s ||
               unstartable_.count(node) > 0) {
      o.lost.push_back(node);
    }
  }
  // The links and stages of the running plan, over this window. The sink
  // publishes each hop's windows and mean transfer and bytes so far: the
  // window's mean is their difference, weighted by the windows.
  const auto sink = answers.find(plan_.sink);
  if (sink != answers.end() && sink->second && sink->second->sink) {
    const runtime::SinkSummary& summary = *sink->second->sink;
    const auto link = [&](const std::string& key, const std::string& from, const std::string& to, long long windows,
                          double transfer_ms, double bytes) {
      const auto mean_ms = window_mean(key + " ms", windows, transfer_ms);
      const auto mean_bytes = window_mean(key + " bytes", windows, bytes);
      // No bytes: the hop carried nothing this window (or the sink has no figure for it).
      if (from.empty() || to.empty() || from == to || !mean_ms || !mean_bytes || *mean_bytes <= 0.0) return;
      const artifacts::PlanLink* planned = plan_.find_link(from, to);
      if (planned != nullptr) o.links.push_back(split_transfer(from, to, *mean_ms, *mean_bytes, *planned));
    };
    for (size_t k = 0; k < plan_.stages.size(); ++k) {
      const artifacts::PlanStage& stage = plan_.stages[k];
      const auto measured = std::find_if(summary.stages.begin(), summary.stages.end(),
                                         [&](const runtime::StageMeasurement& m) { return m.stage == stage.index; });
      if (measured == summary.stages.end()) continue;
      link(fmt::format("into stage {}", k + 1), sender_into(plan_, k),
           stage.members.size() == 1 ? stage.members[0].node : std::string(), measured->windows,
           measured->transfer_in_ms_mean, measured->bytes_in);
    }
    link("into the sink", sender_into(plan_, plan_.stages.size()), plan_.sink, summary.received,
         summary.transfer_to_sink_ms_mean, summary.bytes_to_sink);
  }
  for (const artifacts::PlanStage& stage : plan_.stages) {
    for (const artifacts::PlanMember& member : stage.members) {
      const auto answer = answers.find(member.node);
      if (answer == answers.end() || !answer->second || !answer->second->stage) continue;
      const auto [windows, compute_ms] = served_compute(*answer->second->stage);
      if (const auto mean = window_mean("compute on " + member.node, windows, compute_ms)) {
        o.compute.push_back(ComputeMeasurement{member.node, *mean});
      }
    }
  }
  return o;
}

void Watch::relay_ack(const std::map<std::string, std::optional<runtime::NodeStatus>>& answers) {
  // Source and sink on one node: the node acknowledges in-process.
  if (plan_.source == plan_.sink) return;
  const auto sink = answers.find(plan_.sink);
  if (sink == answers.end() || !sink->second || !sink->second->sink) return;
  const auto source = answers.find(plan_.source);
  if (source == answers.end() || !source->second) return;
  const runtime::SinkAck ack = runtime::sink_ack(*sink->second->sink);
  // Sent again when the sequence moved, or a missing window came since
  // (else the source would keep, and replay, what the sink has).
  if (source->second->source && source->second->source->acked_through >= static_cast<long long>(ack.next_sequence) &&
      ack.missing == acked_missing_) {
    return;
  }
  // A lost ack is sent again next window; the source keeps what it holds.
  const std::string request = runtime::ack_request(ack);
  const runtime::ControlReply reply = target_.control(plan_.source, request);
  if (reply.ok) acked_missing_ = ack.missing;
  if (!reply.ok) {
    diag::warning("watch: node {} did not take the sink's ack (through {}, {} missing): {}", plan_.source,
                  ack.next_sequence, ack.missing.size(), reply.error);
  }
}

std::string Watch::switch_plan(const Replan& replan, const std::set<std::string>& alive) {
  // 1. The plan directory.
  // A retry of the plan whose switch failed uses the directory written for
  // it (slicing and checking it again takes seconds).
  const auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  const auto write_begun = std::chrono::steady_clock::now();
  NewPlan next;
  if (failed_plan_ && failed_plan_->first == replan.placement) {
    next = failed_plan_->second;
  } else {
    try {
      next = writer_(policy_.measured_cluster(), replan, ++plans_written_);
    } catch (const Error& e) {
      return "not switched: writing the new plan failed: " + e.message();
    }
  }
  failed_plan_ = std::make_pair(replan.placement, next);
  // 2. On the nodes (install undoes itself on failure): its plan's, and
  // the running nodes it does not use, which idle on it.
  std::set<std::string> others;
  for (const std::string& node : alive) {
    if (next.plan.find_node(node) == nullptr) others.insert(node);
  }
  std::vector<std::string> receivers;
  for (const artifacts::PlanNode& node : next.plan.nodes) receivers.push_back(node.name);
  receivers.insert(receivers.end(), others.begin(), others.end());
  const double write_s = since(write_begun);
  const auto install_begun = std::chrono::steady_clock::now();
  std::map<std::string, std::string> paths;
  try {
    paths = target_.install(next.dir, receivers);
  } catch (const Error& e) {
    return "not switched: putting the new plan on its nodes failed: " + e.message();
  }
  std::vector<std::string> started;  // by this switch
  std::vector<std::string> switched;
  const std::string source = plan_.source;  // the same node in every plan of a deployment
  bool paused = false;                      // the source, by step 4
  const auto roll_back = [&](const std::string& why) {
    std::vector<std::string> failed_back;
    for (const std::string& node : switched) {
      const auto old_path = plan_paths_.find(node);
      if (old_path == plan_paths_.end()) continue;  // it came with the new plan: stopped below
      // Each switch back may take the control timeout: the pause must
      // outlast them all, or the source resumes with nodes on both plans.
      if (paused) target_.control(source, "pause");
      if (!target_.control(node, "switch " + old_path->second).ok) failed_back.push_back(node);
    }
    for (const std::string& node : started) {
      try {
        target_.stop(node);
      } catch (const Error& e) {
        diag::warning("watch: stopping node {} after a failed switch: {}", node, e.message());
      }
      started_.erase(node);
    }
    try {
      target_.uninstall(next.dir);
    } catch (const Error& e) {
      diag::warning("watch: removing plan {} after a failed switch: {}", next.dir, e.message());
    }
    return fmt::format("rolled back to {}: {}{}", plan_dir_, why,
                       failed_back.empty() ? std::string()
                                           : "; these nodes did not take the old plan back: " + join(failed_back, ", "));
  };
  const double install_s = since(install_begun);
  // 3. Nodes the new plan uses that do not run.
  for (const artifacts::PlanNode& node : next.plan.nodes) {
    if (alive.count(node.name) > 0) continue;
    try {
      target_.start(node.name, paths.at(node.name));
      started.push_back(node.name);
      started_.insert(node.name);
    } catch (const Error& e) {
      // Lost until it answers: the retry re-solves without it.
      unstartable_.insert(node.name);
      return roll_back(fmt::format("node {} did not start: {}", node.name, e.message()));
    }
  }
  // 4. "switch" to every node that runs. With the source paused, all at
  // once: no window enters until every node is on the new plan (each new
  // worker loads its slice meanwhile, in parallel), and what was in flight
  // on the old plan is dropped by its tag and replayed on "resume". If the
  // source cannot be paused, one by one, receivers first, the source's
  // node last (its replay must find every other node switched).
  const auto begun = std::chrono::steady_clock::now();
  std::vector<std::string> order;
  for (const std::string& node : switch_order(next.plan, others)) {
    if (std::find(started.begin(), started.end(), node) == started.end()) order.push_back(node);  // else started on it
  }
  // "resume" whatever "pause" answered (it may have paused the source and
  // lost its reply); resuming a source that runs changes nothing.
  struct Resume {
    WatchTarget& target;
    std::string source;
    const bool& paused;
    ~Resume() {
      const runtime::ControlReply reply = target.control(source, "resume");
      if (!reply.ok && paused) {
        diag::warning("watch: the source's node {} did not resume ({}): it does by itself within {:.0f} s", source,
                      reply.error, runtime::kSourcePauseS);
      }
    }
  } resume{target_, source, paused};
  const runtime::ControlReply pause = target_.control(source, "pause");
  paused = pause.ok;
  if (!paused) diag::warning("watch: the source's node {} did not pause ({}): switching one node at a time", source, pause.error);
  std::vector<runtime::ControlReply> replies(order.size(), runtime::ControlReply{true, ""});
  if (paused) {
    // No exception leaves a thread (it would end the process): a failure
    // is that node's refusal.
    const auto switch_node = [&](size_t i) {
      try {
        replies[i] = target_.control(order[i], "switch " + paths.at(order[i]));
      } catch (const std::exception& e) {
        replies[i] = runtime::ControlReply{false, e.what()};
      }
    };
    std::vector<std::thread> threads;
    threads.reserve(order.size());
    try {
      for (size_t i = 0; i < order.size(); ++i) threads.emplace_back(switch_node, i);
    } catch (const std::system_error&) {  // no thread to be had: the rest one by one, here
      for (size_t i = threads.size(); i < order.size(); ++i) switch_node(i);
    }
    for (std::thread& thread : threads) thread.join();
    switched = order;  // whatever each answered: it may have switched before its reply was lost
  } else {
    for (size_t i = 0; i < order.size(); ++i) {
      replies[i] = target_.control(order[i], "switch " + paths.at(order[i]));
      switched.push_back(order[i]);
      if (!replies[i].ok) break;
    }
  }
  for (size_t i = 0; i < order.size(); ++i) {
    if (!replies[i].ok) {
      return roll_back(fmt::format("node {} refused 'switch {}': {}", order[i], paths.at(order[i]), replies[i].error));
    }
  }
  const double switch_s = since(begun);
  // 5. The new plan runs.
  failed_plan_.reset();
  plan_dir_ = next.dir;
  plan_ = std::move(next.plan);
  for (auto& [node, path] : paths) plan_paths_[node] = path;
  for (const artifacts::PlanNode& node : plan_.nodes) last_seen_s_.try_emplace(node.name, 0.0);
  policy_.switched_to(planned_compute_ms(plan_));
  counters_.clear();
  summary_.plan_dir = plan_dir_;
  // Where a switch's time goes (the recovery from a lost node is mostly this).
  return fmt::format("switched to {} ({}) in {:.2f} s (plan written in {:.2f} s, put on its nodes in {:.2f} s){}",
                     plan_dir_, replan.placement, switch_s, write_s, install_s,
                     started.empty() ? std::string() : ", started " + join(started, ", "));
}

Decision Watch::step(double now_s) {
  const auto answers = target_.status(watched_nodes(), std::min(options_.window_s, options_.lost_after_s) * 0.8);
  Observation observed = observe(now_s, answers);
  // A switch that failed is tried again after the hold time, not every
  // window: the policy forgets the lost nodes, sees them lost again.
  if (retry_at_s_ && now_s >= *retry_at_s_) {
    policy_.switch_failed();
    retry_at_s_.reset();
  }
  last_replan_.reset();
  Decision d = policy_.observe(observed);

  const auto sink = answers.find(plan_.sink);
  if (sink != answers.end() && sink->second && sink->second->sink) {
    const runtime::SinkSummary& summary = *sink->second->sink;
    if (summary.received > received_) {
      if (outage_since_s_ && !summary_.recovery_s) summary_.recovery_s = now_s - *outage_since_s_;
      outage_since_s_.reset();
      received_ = summary.received;
      last_progress_s_ = now_s;
    }
    stream_done_ = summary.done;
  }
  const auto source = answers.find(plan_.source);
  if (source != answers.end() && source->second && source->second->source) {
    summary_.evicted_unacked = source->second->source->evicted_unacked;
    summary_.replayed = source->second->source->replayed;
  }

  if (d.switched && last_replan_ && last_replan_->best) {
    // Running: every node watched that is not lost (one whose poll was
    // only late this window runs; starting it again would clash with it).
    // (A node back is no longer lost, and may be in no plan: the nodes
    // asked this window, not the ones watched from now on.)
    std::set<std::string> alive;
    for (const auto& [node, answer] : answers) {
      if (policy_.lost().count(node) == 0) alive.insert(node);
    }
    const auto switch_begun = std::chrono::steady_clock::now();
    d.outcome = switch_plan(*last_replan_, alive);
    // The seconds the switch took were not silence: a node that answered
    // this window is not lost by the next one's first missed poll.
    const double switch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - switch_begun).count();
    for (const std::string& node : alive) last_seen_s_[node] = now_s + switch_s;
    if (d.outcome.rfind("switched", 0) == 0) {
      ++summary_.switches;
      retry_at_s_.reset();  // a switch that failed before is overtaken
      // Recovery counts from the last window the sink had before the loss.
      if (d.trigger.rfind("node lost", 0) == 0 && !outage_since_s_) {
        outage_since_s_ = last_progress_s_.value_or(now_s);
        summary_.recovery_s.reset();
      }
    } else {
      ++summary_.rollbacks;
      retry_at_s_ = now_s + std::max(options_.policy.hold_s, options_.window_s);
    }
  }
  relay_ack(answers);
  d.plan_dir = plan_dir_;
  d.received = received_;
  ++summary_.windows;
  if (!options_.log_path.empty()) {
    std::ofstream log(options_.log_path, std::ios::app);
    log << record_line(d) << "\n";
    if (!log) throw failure("{}: cannot append the watch's decision", options_.log_path);
  }
  if (d.resolved) diag::note("watch: {}: {}{}", d.trigger, d.reason, d.outcome.empty() ? "" : "; " + d.outcome);
  return d;
}

void Watch::run(double timeout_s, const std::function<bool()>& stop) {
  const auto begun = std::chrono::steady_clock::now();
  const auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count(); };
  while (!stream_done_ && since() < timeout_s && !(stop && stop())) {
    const double window_start = since();
    step(window_start);
    const double rest_s = options_.window_s - (since() - window_start);
    if (rest_s > 0 && !stream_done_) std::this_thread::sleep_for(std::chrono::duration<double>(rest_s));
  }
}

std::optional<Decision> last_decision(const std::string& log_path, bool resolved_only) {
  std::ifstream in(log_path);
  if (!in) return std::nullopt;
  std::optional<Decision> last;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (trim(line).empty()) continue;
    Decision d = parse_record<Decision>(line, fmt::format("{}:{}", log_path, number));
    if (!resolved_only || d.resolved) last = std::move(d);
  }
  return last;
}

std::string format_watch_summary(const WatchSummary& s) {
  return fmt::format("watch: {} window(s), {} switch(es), {} rolled back; recovery {}; source replay: {} window(s) "
                     "re-sent, {} pushed out unacknowledged (lost at most); running plan {}\n",
                     s.windows, s.switches, s.rollbacks,
                     s.recovery_s ? fmt::format("{:.2f} s (last window at the sink before the loss to the first after)",
                                                *s.recovery_s)
                                  : std::string("none measured"),
                     s.replayed, s.evicted_unacked, s.plan_dir);
}

}  // namespace hare::deploy
