#pragma once

// A stage worker: one process that runs one or more of the stage's
// replicas, each as a thread, on one loaded slice. Torch is initialised,
// the slice loaded and the key file read once per process; each replica
// thread has its own sockets (work in, results out, reports), pins itself
// to its own cores and sets its own intra-op threads. A replica runs the
// slice on every frame it is given and forwards the result to one member of
// the next hop's group (fanout.h); it validates
// every frame before use (a bad one is counted, logged once per kind, and
// dropped), records its hop in the frame's trace, and reports its counters
// to the supervisor. A plan switch that keeps the stage but moves the next
// one gives the replicas new destinations (WorkerTarget, records.h) on the
// targets socket: each takes them before its next window, abandoning a send
// blocked on a lost node (the source replays that window).
// Torch-free interface; worker.cpp is the torch side.

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/codec.h"
#include "runtime/node_spec.h"

namespace hare::runtime {

struct WorkerOptions {
  std::string slice_path;
  // The manifest's SHA-256 of the slice: the bytes loaded must have it.
  std::string slice_sha256;
  int stage = 1;
  std::vector<int> replicas{0};  // replica indexes, one thread each (HopTrace.worker)
  int threads = 1;               // intra-op threads per replica
  // Replica k (in `replicas` order) pins to cpus[k*threads .. k*threads +
  // threads - 1]; empty = no pinning.
  std::vector<int> cpus;
  std::string work_endpoint;     // PULL: frames from the supervisor
  std::string stats_endpoint;    // PUSH: counters to the supervisor
  std::string targets_endpoint;  // SUB: new destinations from the supervisor (WorkerTarget); "" = none
  // PUSH: results to the next hop, one member of its group per window
  // (fanout.h), each in its own codec. With a key file, each socket is a
  // CURVE client of its destination's node.
  std::vector<Destination> downstream;
  int member = 0;  // this node's place in its stage's group (FrameHeader::member)
  // The node's key file (keys.h). Empty: --insecure.
  std::string node;
  std::string keys_path;
  uint16_t next_destination = 0;
  int send_hwm = 64;
  std::vector<int64_t> warmup_shape;  // run a few windows of this shape before taking work
  // Emulating a slower device (the plan's nodes of a cluster emulated on
  // one machine): each window takes `device_ms`, the plan's compute for this
  // member on that device (time_factor x this machine's profiled time), or,
  // without it, time_factor x the slice's own time here (the fastest quarter
  // of its warm-up calls). The worker computes for real, then sleeps the
  // rest, so that emulated nodes do not take each other's cores; a window
  // slowed by the other emulated nodes on this machine's shared cores is not
  // slowed on a board of its own, and is not here until its real compute
  // takes longer than device_ms. time_factor 1 = this machine, no waiting.
  double time_factor = 1.0;
  double device_ms = 0.0;
};

// Runs until SIGTERM/SIGINT; returns the process exit code. An error in any
// replica stops them all and is thrown here.
int run_worker(const WorkerOptions& options);

}  // namespace hare::runtime
