// hare-profile: measure every segment (model/segments.h) of a TorchScript model on
// this machine and write the profile the partitioner reads.
//
//   hare-profile --model models/hare-cnn.pt          -> profiles/<device-id>/hare-cnn.yaml
//   hare-profile show PROFILE                        table of a profile
//   hare-profile compare A B                         per-layer median ratios of two profiles

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "common/diag.h"
#include "common/fs.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "data/model_card.h"
#include "profile/probe.h"
#include "profile/profile.h"
#include "profile/profiler.h"
#include "profile/remote_profile.h"
#include "tool_common.h"

using namespace hare;

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::vector<std::string> parts;
  for (int64_t d : shape) parts.push_back(std::to_string(d));
  return "[" + join(parts, ",") + "]";
}

void print_table(const profile::Profile& p) {
  std::cout << fmt::format("model {} ({}), input {}, {} bytes per window; device {} ({}, {} cores)\n", p.model_name,
                           p.model_sha256.substr(0, 12), shape_text(p.input_shape), p.in_bytes, p.device.id,
                           p.device.cpu_model, p.device.cores);
  std::string header = fmt::format("{:>3}  {:<14} {:<14} {:<16} {:>10} {:>10}", "#", "layer", "type", "output",
                                   "out_KB", "param_KB");
  for (int t : p.threads) header += fmt::format(" {:>10}", fmt::format("ms@{}t", t));
  std::cout << header << "\n";
  for (const auto& layer : p.layers) {
    std::string row = fmt::format("{:>3}  {:<14} {:<14} {:<16} {:>10.2f} {:>10.2f}", layer.index, layer.name,
                                  layer.type, shape_text(layer.output_shape), layer.out_bytes / 1024.0,
                                  layer.param_bytes / 1024.0);
    for (int t : p.threads) row += fmt::format(" {:>10.4f}", layer.latency.at(t).median_ms);
    if (layer.below_resolution) row += "  (below timer resolution)";
    std::cout << row << "\n";
  }
  std::string sum = fmt::format("{:>3}  {:<14} {:<14} {:<16} {:>10} {:>10}", "", "sum of layers", "", "", "", "");
  std::string whole = fmt::format("{:>3}  {:<14} {:<14} {:<16} {:>10} {:>10}", "", "whole model", "", "", "", "");
  std::string gap = fmt::format("{:>3}  {:<14} {:<14} {:<16} {:>10} {:>10}", "", "sum/whole", "", "", "", "");
  for (int t : p.threads) {
    const double s = p.sum_of_layer_medians_ms(t);
    const double w = p.whole_model.at(t).median_ms;
    sum += fmt::format(" {:>10.4f}", s);
    whole += fmt::format(" {:>10.4f}", w);
    gap += fmt::format(" {:>10.3f}", w > 0 ? s / w : 0.0);
  }
  std::cout << sum << "\n" << whole << "\n" << gap << "\n";
  for (const auto& m : p.idle) {
    std::string idle = fmt::format("{:>3}  {:<14} {:<14} {:<16} {:>10} {:>10}", "", fmt::format("after {:g} ms idle", m.gap_ms),
                                   "", "", "", "");
    for (int t : p.threads) idle += fmt::format(" {:>10.4f}", m.whole_model.at(t).median_ms);
    std::cout << idle << fmt::format("  (runtime hop {:.4f} ms)\n", m.hop.median_ms);
  }
  std::cout << fmt::format("per-call overhead {:.4f} ms (in every layer's time; once per whole model); timer "
                           "overhead {:.0f} ns; OMP_WAIT_POLICY {}\n",
                           p.call_overhead_ms, p.timer_overhead_ns, p.omp_wait_policy);
  const profile::MemoryProfile& m = p.memory;
  if (m.from_rss_only) {
    std::cout << fmt::format("memory (RSS only, profiled before PSS): executor {:.1f} MB, model adds {:.1f} MB; blas {}\n",
                             m.executor_private_bytes / 1048576.0, m.model_bytes / 1048576.0, p.device.blas);
  } else {
    std::cout << fmt::format("memory: executor {:.1f} MB shared (libraries, once per node) + {:.1f} MB private, model adds "
                             "{:.1f} MB, each further replica thread {:.1f} MB; supervisor {:.1f} MB private + {:.1f} MB "
                             "own; blas {}\n",
                             m.executor_shared_bytes / 1048576.0, m.executor_private_bytes / 1048576.0,
                             m.model_bytes / 1048576.0, m.replica_bytes / 1048576.0,
                             m.supervisor_private_bytes / 1048576.0, m.supervisor_shared_bytes / 1048576.0, p.device.blas);
  }
}

// Everything the command line sets, for the root command and the subcommands.
struct Args {
  profile::ProfileOptions options;
  std::string out;
  bool quiet = false;
  std::string wait_policy = "active";  // read before parsing (main); declared for --help
  // Remote: on a node of a cluster, or the links between its nodes.
  profile::RemoteToolOptions remote;
  std::string host;
  bool network = false;
  // show, compare, internal-rss-probe
  std::string show_path, show_model;
  std::string a_path, b_path;
  double min_ms = 0.05;
  std::string probe_model;
  std::vector<int64_t> probe_shape;
  int probe_threads = 1;
};

// The root command: profile this machine, a node (--host), or the links (--network).
void declare_profile(CLI::App& app, Args& a) {
  profile::ProfileOptions& o = a.options;
  app.add_option("--model", o.model_path, "TorchScript model (.pt)");
  app.add_option("--card", o.card_path, "Model card (default: <model>.yaml if present)");
  tools::add_list(app, "--input-shape", o.input_shape, "Input shape of one window, e.g. 1,6,128 (default: from the card)",
                  tools::whole_numbers(1, "1,6,128"));
  tools::add_list(app, "--threads", o.threads, "Intra-op thread counts to profile, e.g. 1,2,4 (default: 1, 2, 4, ... cores)",
                  tools::whole_numbers(1, "1,2,4"));
  app.add_option("--runs", o.runs, "Timed runs per thread count")->capture_default_str()->check(tools::whole_number_in(1, std::numeric_limits<int>::max()));
  app.add_option("--warmup", o.warmup, "Untimed warm-up runs per thread count")->capture_default_str()->check(tools::whole_number_in(0, std::numeric_limits<int>::max()));
  app.add_option("--idle-runs", o.idle_runs, "Per idle gap: whole-model runs per thread count, and runtime hops timed (0 = skip)")
      ->capture_default_str()
      ->check(tools::whole_number_in(0, std::numeric_limits<int>::max()));
  tools::add_ascending_list(app, "--idle-gaps-ms", o.idle_gaps_ms, "The idle gaps before those runs, ascending",
                            tools::positive_numbers(1000.0, "1,5,25"));
  app.add_option("--device-id", o.device_id, "Device id (default: from the CPU model and core count)")
      ->check(tools::valid_name("device id"));
  app.add_option("--out", a.out, "Output file (default: profiles/<device-id>/<model>.yaml)");
  app.add_flag("--expand", o.expand, "Descend into children that are chains themselves (nested Sequentials)");
  app.add_flag("-q,--quiet", a.quiet, "No progress and no table");
  app.add_option("--omp-wait-policy", a.wait_policy, "OpenMP waiting: active (spin; as a pinned executor runs) or passive (sleep)")
      ->capture_default_str()
      ->check(CLI::IsMember({"active", "passive", "ACTIVE", "PASSIVE"}));
  app.add_option("--host", a.host, "Profile on this node of --cluster, over SSH; the profile is written here");
  app.add_flag("--network", a.network, "Measure bandwidth and round-trip time of every node pair of --cluster "
                                       "and write them into its link table (the file is rewritten: every "
                                       "setting is kept, its comments are not)");
  app.add_option("--cluster", a.remote.cluster_path, "Cluster config (for --host and --network)");
  tools::add_ssh_options(app, a.remote);
}

void declare_show(CLI::App& cmd, Args& a) {
  cmd.add_option("profile", a.show_path, "Profile YAML")->required();
  cmd.add_option("--model", a.show_model, "Refuse the profile unless it was measured for this model file");
}

void declare_compare(CLI::App& cmd, Args& a) {
  cmd.add_option("a", a.a_path, "First profile")->required();
  cmd.add_option("b", a.b_path, "Second profile")->required();
  cmd.add_option("--min-ms", a.min_ms, "Ignore layers faster than this in the summary")->capture_default_str();
}

void declare_rss_probe(CLI::App& cmd, Args& a) {
  cmd.add_option("--model", a.probe_model)->required();
  tools::add_list(cmd, "--input-shape", a.probe_shape, "", tools::whole_numbers(1, "1,6,128"))->required();
  cmd.add_option("--threads", a.probe_threads);
}

int show(Args& a) {
  const profile::Profile p = profile::read_profile(a.show_path);
  if (!a.show_model.empty()) profile::check_model_hash(p, a.show_path, sha256_file(a.show_model), a.show_model);
  print_table(p);
  return 0;
}

int compare(Args& a) {
  const auto pa = profile::read_profile(a.a_path);
  const auto pb = profile::read_profile(a.b_path);
  std::cout << fmt::format("{:<14} {:>7} {:>12} {:>12} {:>8}\n", "layer", "threads", "a_ms", "b_ms", "b/a");
  double worst = 0.0;
  int counted_layers = 0;
  for (const auto& c : profile::compare_profiles(pa, pb)) {
    const bool counted = c.a_ms >= a.min_ms;
    if (counted) {
      worst = std::max(worst, std::abs(c.ratio() - 1.0));
      ++counted_layers;
    }
    std::cout << fmt::format("{:<14} {:>7} {:>12.4f} {:>12.4f} {:>8.3f}{}\n", c.name, c.threads, c.a_ms, c.b_ms,
                             c.ratio(), counted ? "" : "  (below --min-ms, not counted)");
  }
  if (counted_layers == 0) {
    std::cout << fmt::format("no layer takes {} ms or more: nothing to compare at that size\n", a.min_ms);
  } else {
    std::cout << fmt::format("largest deviation over {} layer timings >= {} ms: {:.1f}%\n", counted_layers, a.min_ms,
                             worst * 100.0);
  }
  return 0;
}

int rss_probe(Args& a) { return profile::rss_probe_main(a.probe_model, a.probe_shape, a.probe_threads); }

// --network: every node pair of the cluster, written into its link table.
int measure_network(Args& a) {
  const auto links = profile::measure_links(a.remote);
  std::cout << fmt::format("{:<12} {:<12} {:>14} {:>12}\n", "from", "to", "bandwidth_mbps", "latency_ms");
  for (const auto& l : links) {
    std::cout << fmt::format("{:<12} {:<12} {:>14.1f} {:>12.3f}\n", l.from, l.to, l.bandwidth_mbps, l.latency_ms());
  }
  const partition::ClusterConfig cluster = partition::read_cluster(a.remote.cluster_path);
  partition::write_cluster(a.remote.cluster_path, profile::with_measured_links(cluster, links));
  diag::note("wrote the measured links into {}", a.remote.cluster_path);
  return 0;
}

template <typename T>
std::string comma_list(const std::vector<T>& values) {
  std::vector<std::string> parts;
  for (const T& v : values) parts.push_back(fmt::format("{}", v));
  return join(parts, ",");
}

// --host: hare-profile runs on the node with the same settings; the profile is written here.
int profile_on_host(Args& a) {
  const profile::ProfileOptions& o = a.options;
  std::vector<std::string> args = {"--runs", std::to_string(o.runs), "--warmup", std::to_string(o.warmup),
                                   "--idle-runs", std::to_string(o.idle_runs), "--idle-gaps-ms", comma_list(o.idle_gaps_ms)};
  if (!o.threads.empty()) args.insert(args.end(), {"--threads", comma_list(o.threads)});
  if (!o.input_shape.empty()) args.insert(args.end(), {"--input-shape", comma_list(o.input_shape)});
  if (o.expand) args.push_back("--expand");
  const std::string card = o.card_path.empty() ? data::card_path_for_model(o.model_path) : o.card_path;
  const std::string text = profile::profile_on_host(a.remote, a.host, o.model_path, card, args);
  const profile::Profile measured = profile::parse_profile(text, a.host + ":profile.yaml");
  if (a.out.empty()) a.out = "profiles/" + measured.device.id + "/" + measured.model_name + ".yaml";
  write_file_atomic(a.out, text);
  if (!a.quiet) print_table(measured);
  std::cout << std::flush;
  diag::note("wrote {} (measured on {})", a.out, a.host);
  return 0;
}

// This machine.
int profile_here(Args& a) {
  profile::ProfileOptions& options = a.options;
  options.rss_probe_command = {std::filesystem::read_symlink("/proc/self/exe").string(), "internal-rss-probe"};
  // The supervisor's memory: hare-node from the same build (or the same
  // remote_bin, when profiling over SSH).
  options.supervisor_probe_command = {(std::filesystem::path(tools::program_dir()) / "hare-node").string(),
                                      "internal-memory-probe"};
  ProgressBar bar("profiling", 1);
  const auto start = std::chrono::steady_clock::now();
  profile::Profile result = profile::run_profile(options, [&](long long done, long long total) {
    bar.set_status(fmt::format("{}/{} rounds", done, total));
    bar.update(done * 1000 / std::max(1LL, total));
  });
  bar.finish();
  // The runtime's hop on this device: a raw window handed between
  // processes over ZeroMQ after the same idle gaps (profile/probe.h, torch-free;
  // the torch-side profiler does not link the transport).
  for (auto& m : result.idle) m.hop = profile::summarize(profile::measure_idle_hops(result.in_bytes, options.idle_runs, m.gap_ms));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (a.out.empty()) a.out = "profiles/" + result.device.id + "/" + result.model_name + ".yaml";
  profile::write_profile(a.out, result);
  if (!a.quiet) print_table(result);
  std::cout << std::flush;
  diag::note("wrote {} ({} layers, threads {}, {} runs each, {:.1f} s)", a.out, result.layers.size(),
             comma_list(result.threads), result.runs, seconds);
  return 0;
}

int profile_root(Args& a) {
  if ((a.network || !a.host.empty()) && a.remote.cluster_path.empty()) {
    throw input_error(Location{}, "--host and --network need --cluster FILE");
  }
  if (a.network) return measure_network(a);
  const profile::ProfileOptions& o = a.options;
  if (o.model_path.empty()) throw input_error(Location{}, "--model is required").with_hint("see --help");
  // The card gives the input shape unless --input-shape does: a missing one
  // is named with the command that writes it (a missing model is the
  // profiler's to report).
  const std::string card = o.card_path.empty() ? data::card_path_for_model(o.model_path) : o.card_path;
  if ((o.input_shape.empty() || !o.card_path.empty()) && std::filesystem::exists(o.model_path) &&
      !std::filesystem::exists(card)) {
    throw data::missing_card_error(o.model_path, card);
  }
  if (!a.host.empty()) return profile_on_host(a);
  return profile_here(a);
}

const tools::Subcommand<Args> kSubcommands[] = {
    {"show", "Print a profile as a table", declare_show, show},
    {"compare", "Compare the per-layer medians of two profiles of one model", declare_compare, compare},
    {"internal-rss-probe", "(internal) measure an executor's memory in a fresh process", declare_rss_probe, rss_probe, true},
};

}  // namespace

int main(int argc, char** argv) {
  // Profile the way an executor runs: on its own cores, OpenMP threads spinning.
  std::string policy = tools::peek_flag(argc, argv, "--omp-wait-policy");
  for (char& c : policy) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  tools::use_openmp_wait_policy(argv, policy == "ACTIVE" || policy == "PASSIVE" ? policy : "", "ACTIVE");
  return diag::run_main("hare-profile", [&] {
    CLI::App app{"Measure every segment of a TorchScript model (scripted or traced) on this machine (the cost model's input)."};
    Args args;
    declare_profile(app, args);
    tools::add_subcommands(app, kSubcommands, args);
    if (auto code = tools::parse(app, argc, argv)) return *code;
    diag::set_quiet(args.quiet);
    diag::install_interrupt_handler();
    if (const auto* command = tools::chosen_subcommand(app, kSubcommands)) return command->run(args);
    return profile_root(args);
  });
}
