#pragma once

// The measurements that need the runtime's transport, not torch (target
// hare_measure): the link probe, and the runtime's hop on this machine.
//
// Measuring a network path between two nodes, with the transport hare uses
// (ZeroMQ over TCP): round-trip time from small request/reply pings, and
// bandwidth from a bulk transfer of 64 KB messages timed at the receiver,
// after the first quarter (TCP's slow start is not the link's rate).
// The server binds <endpoint> (pings) and <port + 1> (bulk data).

#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"

namespace hare::profile {

// What `hare-node probe send` prints on a node (one JSON line), read back
// over SSH by `hare-profile --network`.
struct ProbeResult {
  double rtt_ms = 0.0;          // median of the pings
  double bandwidth_mbps = 0.0;  // payload bits per second over the last three quarters
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ProbeResult, rtt_ms, bandwidth_mbps)

// Serves until `seconds` pass (or SIGTERM); `address` like 10.77.0.12, `port` like 5600.
int run_probe_server(const std::string& address, int port, double seconds);
ProbeResult run_probe_client(const std::string& address, int port, int pings = 50, long long bytes = 4 << 20);

// The runtime's hop on this machine: a frame of `bytes` payload handed to
// another thread over ZeroMQ TCP loopback, received as the runtime receives
// (receive_spinning), after `idle_gap_ms` of quiet each time so that the
// receiver has gone to sleep, as a stage fed at a sensor's pace does. One
// sample per frame: the receiver's receive minus the sender's send, ms.
std::vector<double> measure_idle_hops(int64_t bytes, int samples, double idle_gap_ms);

// hare-node internal-memory-probe: this process's memory once a
// supervisor's transport is up (a ZeroMQ context, a bound and a connected
// socket, a message through them), printed as one SupervisorMemoryProbe
// line (memory_probe.h).
int supervisor_memory_probe_main();

}  // namespace hare::profile
