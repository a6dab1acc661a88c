// hare-profile: measure every layer of a layer-chain TorchScript model on
// this machine and write the profile the partitioner reads.
//
//   hare-profile --model models/hare-cnn.pt          -> profiles/<device-id>/hare-cnn.yaml
//   hare-profile show PROFILE                        table of a profile
//   hare-profile compare A B                         per-layer median ratios of two profiles

#include <CLI/CLI.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "common/diag.h"
#include "common/progress.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "data/model_card.h"
#include "common/strings.h"
#include "profile/probe.h"
#include "profile/profile.h"
#include "profile/profiler.h"
#include "profile/remote_profile.h"
#include "tool_common.h"

using namespace hare;

namespace {

std::vector<int64_t> parse_shape(const std::string& text) {
  std::vector<int64_t> shape;
  for (auto part : split(text, ',')) {
    auto value = parse_int(part);
    if (!value || *value < 1) {
      throw input_error(Location{}, "--input-shape '{}' must be positive sizes separated by commas, e.g. 1,6,128", text);
    }
    shape.push_back(*value);
  }
  return shape;
}

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
  std::cout << fmt::format("memory: base_rss {:.1f} MB, model adds {:.1f} MB; blas {}\n", p.base_rss_bytes / 1048576.0,
                           p.model_rss_bytes / 1048576.0, p.device.blas);
}

int compare(const std::string& a_path, const std::string& b_path, double min_ms) {
  const auto a = profile::read_profile(a_path);
  const auto b = profile::read_profile(b_path);
  std::cout << fmt::format("{:<14} {:>7} {:>12} {:>12} {:>8}\n", "layer", "threads", "a_ms", "b_ms", "b/a");
  double worst = 0.0;
  int counted_layers = 0;
  for (const auto& c : profile::compare_profiles(a, b)) {
    const bool counted = c.a_ms >= min_ms;
    if (counted) {
      worst = std::max(worst, std::abs(c.ratio() - 1.0));
      ++counted_layers;
    }
    std::cout << fmt::format("{:<14} {:>7} {:>12.4f} {:>12.4f} {:>8.3f}{}\n", c.name, c.threads, c.a_ms, c.b_ms,
                             c.ratio(), counted ? "" : "  (below --min-ms, not counted)");
  }
  if (counted_layers == 0) {
    std::cout << fmt::format("no layer takes {} ms or more: nothing to compare at that size\n", min_ms);
  } else {
    std::cout << fmt::format("largest deviation over {} layer timings >= {} ms: {:.1f}%\n", counted_layers, min_ms,
                             worst * 100.0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Profile the way an executor runs: on its own cores, OpenMP threads spinning.
  std::string policy = tools::peek_flag(argc, argv, "--omp-wait-policy");
  for (char& c : policy) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  tools::use_openmp_wait_policy(argv, policy == "ACTIVE" || policy == "PASSIVE" ? policy : "", "ACTIVE");
  return diag::run_main("hare-profile", [&] {
    CLI::App app{"Measure every layer of a layer-chain TorchScript model on this machine (the cost model's input)."};
    profile::ProfileOptions options;
    std::string input_shape;
    std::string threads;
    std::string out;
    bool quiet = false;
    app.add_option("--model", options.model_path, "TorchScript model (.pt)");
    app.add_option("--card", options.card_path, "Model card (default: <model>.yaml if present)");
    app.add_option("--input-shape", input_shape, "Input shape of one window, e.g. 1,6,128 (default: from the card)");
    app.add_option("--threads", threads, "Intra-op thread counts to profile, e.g. 1,2,4 (default: 1, 2, 4, ... cores)");
    app.add_option("--runs", options.runs, "Timed runs per thread count")->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--warmup", options.warmup, "Untimed warm-up runs per thread count")->capture_default_str()->check(CLI::NonNegativeNumber);
    app.add_option("--idle-runs", options.idle_runs,
                   "Per idle gap: whole-model runs per thread count, and runtime hops timed (0 = skip)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    std::string idle_gaps = "1,5,25";
    app.add_option("--idle-gaps-ms", idle_gaps, "The idle gaps before those runs, ascending")->capture_default_str();
    app.add_option("--device-id", options.device_id, "Device id (default: from the CPU model and core count)");
    app.add_option("--out", out, "Output file (default: profiles/<device-id>/<model>.yaml)");
    app.add_flag("--expand", options.expand, "Descend into children that are chains themselves (nested Sequentials)");
    app.add_flag("-q,--quiet", quiet, "No progress and no table");
    std::string wait_policy = "active";
    app.add_option("--omp-wait-policy", wait_policy,
                   "OpenMP waiting: active (spin; as a pinned executor runs) or passive (sleep)")
        ->capture_default_str()
        ->check(CLI::IsMember({"active", "passive", "ACTIVE", "PASSIVE"}));

    // Remote: on a node of a cluster, or the links between its nodes.
    profile::RemoteToolOptions remote;
    std::string host;
    bool network = false;
    bool accept_new = false;
    app.add_option("--host", host, "Profile on this node of --cluster, over SSH; the profile is written here");
    app.add_flag("--network", network, "Measure bandwidth and round-trip time of every node pair of --cluster "
                                       "and write them into its link table");
    app.add_option("--cluster", remote.cluster_path, "Cluster config (for --host and --network)");
    app.add_option("--known-hosts", remote.known_hosts, "known_hosts file (default: ~/.ssh/known_hosts)");
    app.add_option("--ssh-config", remote.ssh_config, "ssh config file (default: ~/.ssh/config)");
    app.add_flag("--accept-new-host-keys", accept_new, "Add unknown host keys (a changed key is still refused)");
    app.add_option("--remote-bin", remote.remote_bin, "Where hare's tools are on the nodes (default: this hare's bin/)");

    std::string show_path, show_model;
    CLI::App* show = app.add_subcommand("show", "Print a profile as a table");
    show->add_option("profile", show_path, "Profile YAML")->required();
    show->add_option("--model", show_model, "Refuse the profile unless it was measured for this model file");

    std::string a_path, b_path;
    double min_ms = 0.05;
    CLI::App* cmp = app.add_subcommand("compare", "Compare the per-layer medians of two profiles of one model");
    cmp->add_option("a", a_path, "First profile")->required();
    cmp->add_option("b", b_path, "Second profile")->required();
    cmp->add_option("--min-ms", min_ms, "Ignore layers faster than this in the summary")->capture_default_str();

    std::string probe_model, probe_shape;
    int probe_threads = 1;
    CLI::App* probe = app.add_subcommand("internal-rss-probe", "(internal) measure executor RSS in a fresh process");
    probe->group("");  // hidden from --help
    probe->add_option("--model", probe_model)->required();
    probe->add_option("--input-shape", probe_shape)->required();
    probe->add_option("--threads", probe_threads);

    if (auto code = tools::parse(app, argc, argv)) return *code;
    diag::set_quiet(quiet);
    diag::install_interrupt_handler();

    if (*probe) return profile::rss_probe_main(probe_model, parse_shape(probe_shape), probe_threads);
    if (*show) {
      const profile::Profile p = profile::read_profile(show_path);
      if (!show_model.empty()) profile::check_model_hash(p, show_path, sha256_file(show_model), show_model);
      print_table(p);
      return 0;
    }
    if (*cmp) return compare(a_path, b_path, min_ms);

    remote.policy = accept_new ? deploy::HostKeyPolicy::accept_new : deploy::HostKeyPolicy::strict;
    if (remote.remote_bin.empty()) remote.remote_bin = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
    if ((network || !host.empty()) && remote.cluster_path.empty()) {
      throw input_error(Location{}, "--host and --network need --cluster FILE");
    }
    if (network) {
      const auto links = profile::measure_links(remote);
      std::cout << fmt::format("{:<12} {:<12} {:>14} {:>12}\n", "from", "to", "bandwidth_mbps", "latency_ms");
      for (const auto& l : links) {
        std::cout << fmt::format("{:<12} {:<12} {:>14.1f} {:>12.3f}\n", l.from, l.to, l.bandwidth_mbps, l.latency_ms());
      }
      write_file_atomic(remote.cluster_path, profile::rewrite_links(read_file(remote.cluster_path), remote.cluster_path, links));
      diag::note("wrote the measured links into {}", remote.cluster_path);
      return 0;
    }
    if (options.model_path.empty()) throw input_error(Location{}, "--model is required").with_hint("see --help");
    if (!host.empty()) {
      std::vector<std::string> args = {"--runs", std::to_string(options.runs), "--warmup", std::to_string(options.warmup),
                                       "--idle-runs", std::to_string(options.idle_runs), "--idle-gaps-ms", idle_gaps};
      if (!threads.empty()) args.insert(args.end(), {"--threads", threads});
      if (!input_shape.empty()) args.insert(args.end(), {"--input-shape", input_shape});
      if (options.expand) args.push_back("--expand");
      const std::string card = options.card_path.empty() ? data::card_path_for_model(options.model_path) : options.card_path;
      const std::string text = profile::profile_on_host(remote, host, options.model_path, card, args);
      const profile::Profile measured = profile::parse_profile(text, host + ":profile.yaml");
      if (out.empty()) out = "profiles/" + measured.device.id + "/" + measured.model_name + ".yaml";
      write_file_atomic(out, text);
      if (!quiet) print_table(measured);
      std::cout << std::flush;
      diag::note("wrote {} (measured on {})", out, host);
      return 0;
    }
    if (!input_shape.empty()) options.input_shape = parse_shape(input_shape);
    if (!threads.empty()) {
      auto list = parse_int_list(threads);
      if (!list) throw input_error(Location{}, "--threads '{}' must be a list like 1,2,4", threads);
      for (int t : *list) {
        if (t < 1) throw input_error(Location{}, "--threads values must be at least 1");
        options.threads.push_back(t);
      }
    }
    options.idle_gaps_ms.clear();
    for (std::string_view part : split(idle_gaps, ',')) {
      const auto gap = parse_double(part);
      if (!gap || *gap <= 0.0 || *gap > 1000.0 || (!options.idle_gaps_ms.empty() && *gap <= options.idle_gaps_ms.back())) {
        throw input_error(Location{}, "--idle-gaps-ms '{}' must be ascending gaps in ms like 1,5,25", idle_gaps);
      }
      options.idle_gaps_ms.push_back(*gap);
    }
    options.rss_probe_command = {std::filesystem::read_symlink("/proc/self/exe").string(), "internal-rss-probe"};

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

    if (out.empty()) out = "profiles/" + result.device.id + "/" + result.model_name + ".yaml";
    profile::write_profile(out, result);
    if (!quiet) print_table(result);
    std::cout << std::flush;
    diag::note("wrote {} ({} layers, threads {}, {} runs each, {:.1f} s)", out, result.layers.size(),
               [&] {
                 std::vector<std::string> t;
                 for (int n : result.threads) t.push_back(std::to_string(n));
                 return join(t, ",");
               }(),
               result.runs, seconds);
    return 0;
  });
}
