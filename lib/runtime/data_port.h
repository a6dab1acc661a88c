#pragma once

// A node's public socket, the only one other machines can reach, and what
// keeps strangers off it. Anyone who can reach the address can open a TCP
// connection; what they can make the node do is bounded here:
//
//   authentication   the socket is a CURVE server (keys.h). A ZAP handler
//                    (RFC 27, inproc://zeromq.zap.01) admits only client
//                    keys of this run. Data never passes before the
//                    handshake, so a stranger's frame is refused unread.
//   message size     ZMQ_MAXMSGSIZE = the largest frame the plan sends to
//                    this node (+ CURVE's box): anything larger drops its
//                    connection before it is buffered.
//   idle strangers   ZMQ_HANDSHAKE_IVL: a connection that has not finished
//                    its handshake within a few seconds is closed.
//   connections      a socket monitor counts open connections. At the cap,
//                    a classic BPF filter that drops everything is put on
//                    the listening socket: new SYNs are dropped (clients
//                    retry), while connections already open keep their own
//                    sockets and are untouched. (Unbinding would not do:
//                    libzmq closes every connection a listener accepted
//                    when it is unbound.) Below 3/4 of the cap, the filter
//                    comes off.
//   descriptors      an accept that fails (EMFILE, ENFILE) is counted and
//                    reported once; the door is shut for a second and the
//                    accept queue drained through a spare descriptor, so
//                    libzmq's I/O thread does not spin on it.
//
// Counts are reported in DataPortStatus (records.h), and each kind of
// trouble once as a warning. Not thread-safe: the supervisor's poll loop
// owns it and calls serve() whenever its sockets are ready.

#include <cstdint>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "runtime/keys.h"
#include "runtime/records.h"

namespace hare::runtime {

// CURVE's MESSAGE command wraps each frame in 33 bytes (command name,
// nonce, box MAC, flags), and ZMQ_MAXMSGSIZE applies to that wrapped size.
constexpr int64_t kCurveMessageOverheadBytes = 64;
// The smallest ZMQ_MAXMSGSIZE: the handshake's own commands must fit.
constexpr int64_t kMinMaxMessageBytes = 4096;

struct DataPortOptions {
  std::string node;
  std::string endpoint;                 // tcp://address:port
  const DeploymentKeys* keys = nullptr;  // null: --insecure, no authentication
  int receive_hwm = 64;
  int64_t max_frame_bytes = 0;          // the largest frame (header + payload) the plan sends here
  int max_connections = 0;              // 0: default_max_connections()
  int handshake_ms = 3000;
};

// min(256, (RLIMIT_NOFILE - 64) / 2), at least 8: room for the node's own
// descriptors (workers' sockets, logs) whatever strangers hold.
int default_max_connections();

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit; returns
// the soft limit now in force.
long raise_descriptor_limit();

class DataPort {
 public:
  // Binds; throws a failure naming the node and endpoint when it cannot.
  DataPort(zmq::context_t& context, DataPortOptions options);
  ~DataPort();
  DataPort(const DataPort&) = delete;
  DataPort& operator=(const DataPort&) = delete;

  zmq::socket_t& socket() { return socket_; }
  // The sockets serve() reads (ZAP requests, monitor events), to poll for POLLIN.
  void append_poll_items(std::vector<zmq::pollitem_t>& items);
  // Answers pending ZAP requests and takes pending monitor events; never blocks.
  void serve();
  const DataPortStatus& status() const { return status_; }
  // A plan switch may send larger frames here: connections made from now
  // on take them (ZMQ_MAXMSGSIZE applies per connection, at its start).
  void set_max_frame_bytes(int64_t bytes);

 private:
  // ZMQ_MAXMSGSIZE for options_.max_frame_bytes (with CURVE's wrapping).
  int64_t max_message_bytes() const;
  void on_zap_request();
  void on_event(uint16_t event, int32_t value);
  void set_door(bool open);
  void drain_accept_queue();

  DataPortOptions options_;
  std::vector<std::string> admitted_;  // client public keys of this run, 32 bytes each
  zmq::socket_t zap_;
  zmq::socket_t socket_;
  zmq::socket_t monitor_;
  int listen_fd_ = -1;
  int spare_fd_ = -1;          // given up to accept (and close) a connection when descriptors ran out
  bool door_open_ = true;
  int64_t door_shut_until_ns_ = 0;
  DataPortStatus status_;
  bool warned_refused_ = false, warned_failed_ = false, warned_cap_ = false, warned_descriptors_ = false;
};

}  // namespace hare::runtime
