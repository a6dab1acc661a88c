#pragma once

// The records a node's processes exchange and report, each a struct with one
// JSON form (common/json.h): the worker's report to its supervisor, the
// sink's summary, one prediction line, and a node's status as its control
// socket answers it. hare-deploy, the run report and the benchmarks read
// these types, never the JSON text. Field names carry their units; counts
// are windows (or frames) unless named otherwise. See docs/design.md
// "Records".

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/memory.h"

namespace hare::runtime {

// One replica's counters, pushed to its supervisor on the stats socket
// after loading and then every 200 ms (and once at exit) by the replica's
// thread. Percentiles are over this incarnation's windows, by common/stats.
// The process's memory is not here: the supervisor reads it from /proc
// itself when asked (NodeMemory), so there is one source for it.
struct WorkerReport {
  int worker = 0;                // the replica index
  int pid = 0;                   // its process: tells a restarted one's reports from its predecessor's
  bool ready = false;            // slice loaded and warmed up
  long long windows = 0;         // processed by this incarnation
  double compute_ms_p50 = 0.0;   // forward() time per window
  double compute_ms_p95 = 0.0;
  int64_t peak_rss_bytes = 0;    // its process's VmHWM (a peak /proc keeps only while the process lives)
  long long bad_frames = 0;      // dropped: failed decode or unexpected shape
  long long target = 0;          // the last WorkerTarget it took (0: its command line's destinations)
};

// New destinations for a stage's running workers, published by their
// supervisor when a plan switch keeps the stage as it is but changes where
// its results go: the workers send there from the next window on, without
// restarting (no torch start). The lists are fanout.h's DestinationLists.
struct WorkerTarget {
  long long generation = 0;  // counts up from 1 per supervisor
  std::vector<std::string> endpoints;
  std::vector<std::string> nodes;
  std::vector<double> shares;
  std::vector<std::string> codecs;
  int next_destination = 0;  // stage index, or the sink's
};

// One replica as its supervisor sees it (all incarnations together).
// Replicas run as threads of one hare-worker process by default, so several
// may share a pid, its restarts and its memory.
struct WorkerStatus {
  int id = 0;
  int pid = -1;  // its process
  bool alive = false;
  int restarts = 0;  // of its process
  long long windows = 0;
  double compute_ms_p50 = 0.0;  // of the current incarnation
  double compute_ms_p95 = 0.0;
  long long bad_frames = 0;
  long long target = 0;  // WorkerReport::target
};

// One live hare-worker process and the replicas it runs (one thread each).
struct WorkerProcessMemory {
  int pid = 0;
  std::vector<int> replicas;
  ProcessMemory memory;        // from its smaps_rollup when the status was taken
  int64_t peak_rss_bytes = 0;  // VmHWM, the largest of its incarnations
};

// What a node's hare processes hold, as /proc/<pid>/smaps_rollup counts it
// (common/memory.h). PSS shares every page among the processes that map
// it, so total.pss_bytes is what this node's processes take together; on a
// machine that runs other torch processes too (hare-deploy local runs every
// node here), the library pages they share are split with those as well.
// total.rss_bytes counts shared pages once per process; total.uss_bytes is
// what stopping all of them would free at least.
struct NodeMemory {
  ProcessMemory supervisor;
  std::vector<WorkerProcessMemory> workers;  // live worker processes
  ProcessMemory total;                       // supervisor + workers
  // The same processes on a board of their own (common/memory.h
  // alone_footprint_bytes): what a prediction for one node per machine is
  // compared with where nodes share a machine. Only when asked for
  // ("footprint": it reads every mapping, 10-20 ms per worker); else null.
  std::optional<int64_t> alone_bytes;
};

struct SourceStatus {
  std::string state;  // waiting, running, done, or "failed: <why>"
  long long sent = 0;
  long long total = 0;   // windows the recordings give (0 until known)
  long long bytes = 0;   // payload bytes sent
  // The replay buffer (replay_buffer.h): its capacity (0: off), the windows
  // it holds, the sink's ack (every window below it has arrived, but those
  // the sink reports missing: its last 1,024 given up), windows re-sent
  // after plan switches, and
  // windows pushed out unacknowledged (what a switch can have lost at most).
  long long replay_buffer_windows = 0;
  long long buffered = 0;
  long long acked_through = 0;
  long long replayed = 0;
  long long evicted_unacked = 0;
};

struct StageStatus {
  int index = 0;
  long long dispatched = 0;   // windows handed to the workers
  long long processed = 0;    // windows the workers report done
  long long queue_depth = 0;  // dispatched - processed
  std::vector<WorkerStatus> workers;
  // The stage's group: its nodes, this node's place in it (0-based) and
  // the share of the stage's windows the plan gives this node.
  std::vector<std::string> group;
  int member = 0;
  double share = 1.0;
};

// What the sink measured for one stage, from the traces frames carry.
struct StageMeasurement {
  int stage = 0;
  double compute_ms_p50 = 0.0;
  double compute_ms_p95 = 0.0;
  double queue_ms_p50 = 0.0;
  double transfer_in_ms_p50 = 0.0;  // from the previous hop's end (or the origin)
  double bytes_in = 0.0;            // payload bytes received, mean per window
  // Published while the stream runs, not only at its end: the windows
  // measured and their mean transfer, cumulative, so that a watch gets a
  // link's figure over any interval from two readings (differences of
  // windows x mean).
  long long windows = 0;
  double transfer_in_ms_mean = 0.0;
};

struct SinkSummary {
  long long expected = -1;  // from the end-of-stream frame, -1 until it came
  long long received = 0;
  long long lost = 0;
  long long duplicated = 0;  // received twice (a replay after a plan switch): dropped, not an error
  long long late = 0;  // arrived after the sink gave up waiting for them (written out of order)
  long long labelled = 0;
  long long correct = 0;
  double accuracy = 0.0;
  double latency_ms_p50 = 0.0;  // end to end: window complete -> prediction at the sink
  double latency_ms_p95 = 0.0;
  double latency_ms_p99 = 0.0;
  double latency_ms_mean = 0.0;  // what the plan's mean_latency_ms predicts
  double throughput = 0.0;  // windows/s, first origin to last arrival
  double bytes_to_sink = 0.0;
  double transfer_to_sink_ms_p50 = 0.0;
  double transfer_to_sink_ms_mean = 0.0;  // over every window received; while running too
  // While running: windows, bytes_in and transfer_in_ms_mean (cumulative);
  // at the end, every figure.
  std::vector<StageMeasurement> stages;
  bool done = false;
  // Contiguous through: every window below it is written or given up.
  // With `missing` (windows below it given up and not received since,
  // ascending, at most kMaxAckMissing, the most recent), the sink's ack:
  // the source's replay buffer releases what is below it but the missing
  // (replay_buffer.h, SinkAck).
  long long next_sequence = 0;
  std::vector<long long> missing;
};

// One line of <sink>.predictions.jsonl.
struct Prediction {
  uint64_t sequence = 0;
  uint32_t stream = 0;
  std::string predicted;             // class name (or the index, if the card lacks it)
  std::optional<std::string> label;  // null when the recording has none
  double latency_ms = 0.0;
};

// A node's public socket (data_port.h): who tried to connect, what was let
// in. Counts are since the node started.
struct DataPortStatus {
  bool authenticated = false;      // CURVE with this run's keys; false under --insecure
  int64_t max_message_bytes = 0;   // ZMQ_MAXMSGSIZE: larger messages drop their connection unread
  int max_connections = 0;         // the cap; new connections wait (SYNs dropped) while it is reached
  int connections = 0;             // open now, authenticated or not
  int peak_connections = 0;
  long long accepted = 0;          // connections accepted
  long long handshakes = 0;        // connections that passed the handshake: peers of this run
  long long refused_peers = 0;     // handshakes with a client key not of this run (ZAP)
  // Other handshakes that failed as libzmq reports them (no CURVE, another
  // server key, too slow). Bytes that are not ZMTP 3 at all close the
  // connection without a report: accepted - handshakes counts every stranger.
  long long failed_handshakes = 0;
  long long cap_reached = 0;       // times the cap shut new connections out
  long long accept_failures = 0;   // accepts that failed (descriptors ran out)
};

// A node's answer to "status" on its control socket.
struct NodeStatus {
  std::string node;
  std::string plan_dir;    // the plan the node runs now
  int plan_switches = 0;   // "switch" requests it took
  bool ready = false;  // every worker loaded and warmed up
  double uptime_s = 0.0;
  NodeMemory memory;           // measured when asked (at most once a second)
  int64_t peak_rss_bytes = 0;  // the supervisor's VmHWM + every worker process's
  std::string confinement;     // "cgroup v2", "cgroup v1", "unconfined (<why>)"
  std::map<std::string, long long> bad_frames;  // kind -> frames dropped
  long long bad_frames_total = 0;
  DataPortStatus data_port;
  std::optional<SourceStatus> source;
  std::optional<StageStatus> stage;
  std::optional<SinkSummary> sink;
};

// The answer to any other control request.
struct ControlReply {
  bool ok = false;
  std::string error;  // when not ok
};

// The JSON forms: field names as in the structs. Reading is strict (a
// missing or mistyped field is an error) because both ends are hare.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WorkerReport, worker, pid, ready, windows, compute_ms_p50, compute_ms_p95,
                                   peak_rss_bytes, bad_frames, target)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WorkerTarget, generation, endpoints, nodes, shares, codecs, next_destination)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WorkerStatus, id, pid, alive, restarts, windows, compute_ms_p50, compute_ms_p95,
                                   bad_frames, target)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(WorkerProcessMemory, pid, replicas, memory, peak_rss_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(NodeMemory, supervisor, workers, total, alone_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SourceStatus, state, sent, total, bytes, replay_buffer_windows, buffered,
                                   acked_through, replayed, evicted_unacked)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StageStatus, index, dispatched, processed, queue_depth, workers, group, member,
                                   share)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StageMeasurement, stage, compute_ms_p50, compute_ms_p95, queue_ms_p50,
                                   transfer_in_ms_p50, bytes_in, windows, transfer_in_ms_mean)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SinkSummary, expected, received, lost, duplicated, late, labelled, correct, accuracy,
                                   latency_ms_p50, latency_ms_p95, latency_ms_p99, latency_ms_mean, throughput, bytes_to_sink,
                                   transfer_to_sink_ms_p50, transfer_to_sink_ms_mean, stages, done, next_sequence,
                                   missing)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Prediction, sequence, stream, predicted, label, latency_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DataPortStatus, authenticated, max_message_bytes, max_connections, connections,
                                   peak_connections, accepted, handshakes, refused_peers, failed_handshakes, cap_reached,
                                   accept_failures)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(NodeStatus, node, plan_dir, plan_switches, ready, uptime_s, memory, peak_rss_bytes, confinement,
                                   bad_frames, bad_frames_total, data_port, source, stage, sink)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ControlReply, ok, error)


}  // namespace hare::runtime
