#include "artifacts/planner.h"

#include <csignal>
#include <cstring>
#include <filesystem>

#include "artifacts/plan.h"
#include "artifacts/slice_job.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/sha256.h"
#include "data/model_card.h"

namespace hare::artifacts {
namespace fs = std::filesystem;
using partition::Plan;
using partition::Problem;
using partition::Stage;

namespace {

// hare-slice next to this program (build/bin/ or an installed bin/).
std::string default_slicer() { return (fs::read_symlink("/proc/self/exe").parent_path() / "hare-slice").string(); }

// Runs the torch side in its own process; its error, if any, becomes ours.
model::EquivalenceReport run_slicer(const std::string& slicer, const SliceJob& job) {
  if (!fs::exists(slicer)) {
    throw failure("{} is missing: writing a plan directory needs it next to hare-partition", slicer)
        .with_hint("build the hare-slice target");
  }
  // Torch's OpenMP threads sleep while waiting, as hare-slice would
  // otherwise re-execute itself to make them (OMP_WAIT_POLICY is read once).
  const ProcessResult run = run_process({slicer, "--job", slice_job_to_json(job)}, {"OMP_WAIT_POLICY=PASSIVE"});
  if (run.term_signal == SIGINT || run.term_signal == SIGTERM) throw Error(Error::Kind::interrupted, "interrupted");
  SliceOutcome outcome;
  try {
    outcome = parse_slice_outcome(run.out);
  } catch (const Error&) {
    if (run.term_signal != 0) {
      throw failure("{} (slicing the model) was killed by signal {} ({}); nothing was written", slicer, run.term_signal,
                    strsignal(run.term_signal));
    }
    throw failure("{} (slicing the model) exited with code {} and no result; nothing was written", slicer, run.exit_code);
  }
  if (outcome.error) throw *outcome.error;
  return *outcome.check;
}

// The check must pass without the codecs, and with them keep the argmax on
// enough real windows.
void require_passed(const model::EquivalenceReport& check) {
  if (check.passed) return;
  if (check.max_abs_diff <= 1e-5 && check.argmax_disagreements == 0) {
    throw failure("with the links' codecs the slices agree with the model on {:.1f}% of {} real windows, below the "
                  "{:.0f}% required (max |difference| {:.3g}); nothing was written",
                  100.0 * check.lossy_agreement, check.real_windows, 100.0 * check.lossy_required, check.lossy_max_abs_diff)
        .with_hint("use a less lossy codec on those links (float16, or float32)");
  }
  throw failure("the chained slices do not reproduce the model: max |difference| {:.3g} (tolerance 1e-5), {} "
                "argmax disagreements over {} windows; nothing was written",
                check.max_abs_diff, check.argmax_disagreements, check.real_windows + check.random_windows);
}

void add_check(PlanDoc& doc, const model::EquivalenceReport& check) {
  for (size_t k = 0; k < doc.stages.size() && k < check.slice_input_shapes.size(); ++k) {
    doc.stages[k].input_shape = check.slice_input_shapes[k];
  }
  doc.check_real_windows = check.real_windows;
  doc.check_random_windows = check.random_windows;
  doc.check_max_abs_diff = check.max_abs_diff;
  if (check.lossy) {
    doc.check_lossy_agreement = check.lossy_agreement;
    doc.check_lossy_required = check.lossy_required;
    doc.check_lossy_max_abs_diff = check.lossy_max_abs_diff;
  }
}

}  // namespace

// What the solver decided and predicted, before the check adds its figures.
PlanDoc draft_plan(const WritePlanRequest& request, const data::ModelCard& card) {
  const Problem& problem = *request.problem;
  const partition::ClusterConfig& cluster = *request.cluster;
  const Plan& plan = request.result->plans.front();
  const partition::PlanMetrics& metrics = request.result->metrics.front();
  // The codec into each member of each stage, and to the sink (float32 on
  // a node). A member takes frames from every member of the stage before:
  // it takes them in the lossiest codec of those links, and so does the sink.
  std::vector<int> senders = {problem.source};
  const auto codec_into = [&](int node) {
    Codec codec = Codec::float32;
    for (int from : senders) codec = std::max(codec, problem.link_codec(from, node));
    return codec;
  };
  std::vector<std::vector<Codec>> codecs;  // [stage][member]
  for (const auto& s : plan.stages) {
    codecs.emplace_back();
    for (const auto& member : s.members) codecs.back().push_back(codec_into(member.node));
    senders.clear();
    for (const auto& member : s.members) senders.push_back(member.node);
  }
  const Codec codec_to_sink = codec_into(problem.sink);

  PlanDoc doc;
  doc.model_name = card.name;
  doc.model_sha256 = card.model_sha256;
  doc.cluster_name = cluster.name;
  doc.cluster_sha256 = sha256_file(request.cluster_path);
  doc.objective = partition::objective_name(request.objective);
  doc.method = request.result->method;
  doc.exact = request.result->exact;
  doc.window_rate = problem.window_rate;
  doc.slo_latency_ms = problem.slo_latency_ms;
  doc.source = problem.nodes[static_cast<size_t>(problem.source)].name;
  doc.sink = problem.nodes[static_cast<size_t>(problem.sink)].name;
  doc.latency_ms = metrics.latency_ms;
  doc.idle_latency_ms = metrics.idle_latency_ms;
  doc.mean_latency_ms = metrics.mean_latency_ms;
  doc.utilization = metrics.utilization;
  doc.throughput = metrics.throughput;
  doc.cores = metrics.cores;
  doc.source_transfer_ms = metrics.xfer_in_ms;
  doc.sink_hop_ms = metrics.sink_hop_ms;
  doc.codec_to_sink = codec_to_sink;
  doc.in_bytes = problem.out_bytes[0];
  doc.bytes_leaving_source = partition::bytes_leaving_source(problem, plan);
  for (size_t k = 0; k < plan.stages.size(); ++k) {
    const Stage& s = plan.stages[k];
    PlanStage stage;
    stage.index = static_cast<int>(k + 1);
    stage.first_layer = s.first + 1;
    stage.last_layer = s.last + 1;
    for (int i = s.first; i <= s.last; ++i) stage.layers.push_back(problem.layer_names[static_cast<size_t>(i)]);
    stage.out_bytes = metrics.stage[k].out_bytes;
    // One slice per stage; every member runs it with its own figures.
    for (size_t j = 0; j < s.members.size(); ++j) {
      const partition::Member& m = s.members[j];
      const partition::MemberMetrics& predicted = metrics.stage[k].member[j];
      PlanMember member;
      member.node = problem.nodes[static_cast<size_t>(m.node)].name;
      member.replicas = m.replicas;
      member.threads = m.threads;
      member.share = predicted.share;
      member.codec_in = codecs[k][j];
      member.compute_ms = predicted.compute_ms;
      member.wake_ms = predicted.wake_ms;
      member.hops_ms = predicted.hops_ms;
      member.queue_ms = predicted.queue_ms;
      member.transfer_ms = predicted.xfer_out_ms;
      member.memory_bytes = predicted.memory_bytes;
      stage.members.push_back(member);
    }
    stage.slice = fmt::format("slices/stage-{}.pt", k + 1);
    doc.stages.push_back(stage);
  }
  for (size_t i = 0; i < cluster.nodes.size(); ++i) {
    const auto& config = cluster.nodes[i];
    PlanNode node;
    node.name = config.name;
    node.address = config.address;
    const auto kept = request.ports.find(config.name);
    node.port = kept != request.ports.end() ? kept->second : request.base_port + static_cast<int>(i);
    node.cores = config.cores;
    node.mem_bytes = config.mem_bytes;
    for (const auto& device : cluster.devices) {
      if (device.name == config.device) node.time_factor = device.time_factor;
    }
    if (config.name == doc.source) node.roles.push_back("source");
    const partition::DeviceCosts& device =
        problem.devices[static_cast<size_t>(problem.nodes[static_cast<size_t>(cluster.node_index(config.name))].device)];
    node.memory_bytes = partition::node_memory_bytes(device, 0);
    if (const PlanStage* stage = doc.stage_of(config.name)) {
      node.roles.push_back("stage");
      node.stage = stage->index;
      node.memory_bytes = partition::node_memory_bytes(device, stage->find_member(config.name)->memory_bytes);
      node.memory_shared_bytes = device.memory.shared_bytes;
    }
    if (config.name == doc.sink) node.roles.push_back("sink");
    if (!node.roles.empty()) doc.nodes.push_back(node);
  }
  for (const auto& a : doc.nodes) {
    for (const auto& b : doc.nodes) {
      if (a.name == b.name) continue;
      const partition::Link& link = problem.links[static_cast<size_t>(cluster.node_index(a.name))]
                                                 [static_cast<size_t>(cluster.node_index(b.name))];
      doc.links.push_back(PlanLink{a.name, b.name, link.bandwidth_mbps, link.latency_ms});
    }
  }
  return doc;
}

WritePlanResult write_plan_dir(const WritePlanRequest& request) {
  const std::string card_path = request.card_path.empty() ? data::card_path_for_model(request.model_path) : request.card_path;
  const data::ModelCard card = data::read_card_for_model(request.model_path, card_path);
  PlanDoc doc = draft_plan(request, card);

  WritePlanResult result;
  const std::string staging = make_staging_dir(request.out);
  try {
    // 1. The draft plan and the card; then the slices, written by the torch
    // side and checked on the saved files (what will be deployed).
    const std::string plan_path = (fs::path(staging) / "plan.yaml").string();
    write_plan(plan_path, doc);
    write_file_atomic((fs::path(staging) / "model.yaml").string(), read_file(card_path));
    SliceJob job;
    job.plan_dir = staging;
    job.model_path = request.model_path;
    job.card_path = card_path;
    job.expand = request.expand;
    job.check_data = request.check_data;
    job.check_windows = request.check_windows;
    job.check_random = request.check_random;
    result.check = run_slicer(request.slicer_path.empty() ? default_slicer() : request.slicer_path, job);
    require_passed(result.check);

    // 2. plan.yaml with the check's figures (each node derives its part from it).
    add_check(doc, result.check);
    write_plan(plan_path, doc);
    // 3. The manifest, then the move into place.
    seal_plan_dir(staging);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
  result.commit = commit_plan_dir(staging, request.out, request.force);
  return result;
}

}  // namespace hare::artifacts
