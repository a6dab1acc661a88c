#pragma once

// edge_vs_cloud --workload care-home: the workload no single board carries
// (configs/care-home.yaml: 64 residents' streams, a Pi-class gateway, three
// edge boards of differing speed, a cloud behind the home's uplink, the
// DeepConvLSTM reference), deployed as
//
//   cloud-only       raw windows over the uplink, the whole model in the cloud
//   gateway-only     the whole model on the gateway (edge-only)
//   best-board       the whole model on the edge board of most capacity
//   even-split       the model's segments in equal ranges over the boards,
//                    one stage per board (PipeEdge-style)
//   replicated       the whole model on every board, a stage group
//   hare-latency, hare-throughput, hare-resources   hare's plans
//
// each measured beside its plan's prediction (idle and loaded): sustained
// windows/s, windows lost, latency p50/p95/p99 and mean, bytes over the
// uplink per window, memory per node, cores. Then hare's latency plan at
// 30%, 60% and 85% of its predicted capacity (the queueing term against
// the measured latency) and with the source as fast as it goes (capacity).
// Writes results.md, results.json, latency.svg and load.svg into the output
// directory and prints the table.

#include <string>
#include <vector>

namespace hare::bench {

struct CareHomeSettings {
  std::string out = "bench/results/care-home";
  std::string model = "models/deepconvlstm.pt";
  std::string cluster = "configs/care-home.yaml";
  std::string profiles;  // "" = profile this machine into <out>/profiles
  std::vector<std::string> data = {"data/mhealth/subject07.tsv.gz", "data/mhealth/subject08.tsv.gz"};
  double seconds = 40.0;          // each paced run streams this long (at its pace)
  std::vector<double> load_levels = {0.3, 0.6, 0.85};  // of the hare plan's capacity
  bool saturation = true;               // and a run with the source as fast as it goes
  std::vector<std::string> scenarios;   // run only these (names as above); empty = all
  bool testbed = false;           // run on the SSH test bed (root) instead of local processes
  std::string bin_dir;            // where hare-node and friends are
  std::string command;            // as invoked, for the results
};

// Runs every scenario; returns the process exit code.
int run_care_home(CareHomeSettings settings);

}  // namespace hare::bench
