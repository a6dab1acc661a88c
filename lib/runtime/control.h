#pragma once

// A node's control socket: a ZeroMQ REP socket on ipc://<run_dir>/<node>.ctl
// that answers "status" with the node's NodeStatus ("footprint": the same,
// with its memory's alone_bytes measured) and "start" / "stop" /
// "switch <plan_dir>" / "ack <sequence> [<missing> ...]" / "pause" /
// "resume" with a ControlReply (records.h), one JSON document per reply.
// "switch" makes the node take its roles in another plan directory without
// exiting; "ack" passes the sink's ack (SinkAck) to the source's replay
// buffer (source.h); "pause" holds the source's sends (new windows and
// replays) until "resume", or kSourcePauseS at most, so that a watch can
// switch every node at once (deploy/watch.h). Local only (an
// ipc path in the node's run directory); hare-deploy reaches remote nodes
// through `hare-node status|signal|control` over SSH.

#include <functional>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "runtime/records.h"
#include "runtime/replay_buffer.h"

namespace hare::runtime {

// "<run_dir>/<node><suffix>": a file of a node in its run directory (its
// log, predictions, summary), named in this one place for the node that
// writes it and the tools that read it.
std::string run_file(const std::string& run_dir, const std::string& node, const std::string& suffix);

// "ipc://<run_dir>/<node><suffix>": a node's local socket. Throws an input
// error naming the path when it is longer than a Unix socket path may be
// (107 bytes), so a deep run directory is refused before anything starts.
std::string ipc_endpoint(const std::string& run_dir, const std::string& node, const std::string& suffix);
std::string control_endpoint(const std::string& run_dir, const std::string& node);

// Binds `socket` to an ipc:// endpoint (from ipc_endpoint) under umask
// 077, then sets the socket file's mode to 0600 explicitly: connecting to a
// Unix socket needs write permission on it, and the permission is checked at
// connect only, so the file is never open to others, not even between bind
// and chmod (an existing run directory of ours may be 0755). Throws a
// failure naming the endpoint.
void bind_private_ipc(zmq::socket_t& socket, const std::string& endpoint);

// The server side, polled by the supervisor's loop (not thread-safe).
class ControlServer {
 public:
  struct Handlers {
    std::function<NodeStatus(bool footprint)> status;
    std::function<void()> start;  // start the source
    std::function<void()> stop;   // drain and stop the node
    // Take the roles of the plan in this directory; "" when they are up,
    // else what failed (the node keeps its old plan).
    std::function<std::string(const std::string& plan_dir)> switch_plan;
    // What the sink has (SinkAck); "" or why not taken.
    std::function<std::string(const SinkAck& ack)> ack;
    // "pause" (true) / "resume" (false) the source's sends; "" or why not.
    std::function<std::string(bool pause)> pause;
  };
  ControlServer(zmq::context_t& context, const std::string& endpoint, Handlers handlers);

  zmq::socket_t& socket() { return socket_; }
  // Answers the request waiting on the socket, if there is one.
  void serve_pending();
  // The reply to one request (for tests, and serve_pending).
  std::string answer(const std::string& request) const;

 private:
  zmq::socket_t socket_;
  Handlers handlers_;
};

// How long a source stays paused without "resume" (a watch that died
// mid-switch): longer than one switch request may take (over SSH its
// command's timeout, 150 s; a watch renews the pause before each switch
// back of a roll back).
inline constexpr double kSourcePauseS = 300.0;

// The sink's ack in its status (next_sequence and missing).
SinkAck sink_ack(const SinkSummary& sink);

// The control request that passes the sink's ack to the source:
// "ack <next_sequence>", then each missing sequence, space-separated.
std::string ack_request(const SinkAck& ack);
// The arguments of that request ("<next_sequence> [<missing> ...]": whole
// numbers separated by single spaces, the missing ones ascending, below
// next_sequence, at most kMaxAckMissing); nullopt if they are not.
std::optional<SinkAck> parse_ack(std::string_view arguments);

// The client side: one request, or nothing if the node does not answer
// within the timeout. A reply that is not the expected record is a failure
// naming the endpoint.
std::optional<NodeStatus> request_status(const std::string& endpoint, int timeout_ms, bool footprint = false);
std::optional<ControlReply> request_control(const std::string& endpoint, const std::string& request, int timeout_ms);

// A node's memory as a table, one row per process (the supervisor, each
// worker process with its replicas) with RSS, PSS, USS, anonymous and
// file-backed MB, then the node's sums; the node's PSS is what its
// processes take together. For `hare-node status --memory` and the benchmark.
std::string format_node_memory(const NodeMemory& memory);

}  // namespace hare::runtime
