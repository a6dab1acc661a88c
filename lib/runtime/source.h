#pragma once

// The source role: the sensor gateway. Reads recordings (any format lib/data
// reads), makes sliding windows with the model card's window, step and
// normalization, and sends one frame per window to one member of the first
// stage's group (fanout.h: in proportion to the members' shares) — in
// real time (a window leaves when its last sample would have arrived), at
// `speed` times real time, or as fast as the pipeline takes them (speed 0;
// the bounded send queue gives back-pressure). After the last window it
// sends an end-of-stream frame, with the number of windows sent, to the sink.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "runtime/keys.h"
#include "runtime/node_spec.h"

namespace hare::runtime {

struct SourceOptions {
  std::vector<std::string> files;
  std::string spec;          // dataset spec, "" = from the file names
  double speed = 1.0;        // 0 = as fast as possible
  int streams = 0;           // 0 = one per file; more cycle over the files
  long long limit = 0;       // windows per stream, 0 = all
  int send_hwm = 64;
};

struct SourceStats {
  std::atomic<long long> sent{0};
  std::atomic<long long> total{0};
  std::atomic<bool> done{false};
  std::atomic<long long> bytes{0};
};

// The recordings and the dataset spec exist and their format is known:
// checked before a node or a deployment starts anything (a missing file was
// found by the running source, exit 1, or a node left running). Throws an
// input Error naming the file.
void check_source_files(const SourceOptions& options);

// Runs until all windows are sent or `stop` becomes true. Throws on bad input.
// With `keys`, both sockets are CURVE clients of the nodes they send to.
void run_source(zmq::context_t& context, const NodeSpec& spec, const SourceOptions& options, SourceStats& stats,
                const std::atomic<bool>& stop, const DeploymentKeys* keys = nullptr);

}  // namespace hare::runtime
