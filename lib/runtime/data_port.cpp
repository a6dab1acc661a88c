#include "runtime/data_port.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include <fmt/format.h>
#include <zmq_addon.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "runtime/frame.h"

namespace hare::runtime {

namespace {

constexpr int64_t kDescriptorPauseNs = 1'000'000'000;

int64_t descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return static_cast<int64_t>(limit.rlim_cur);
}

}  // namespace

long raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? (1 << 20) : limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &raised);  // if refused, the old limit stays and the cap follows it
  }
  return static_cast<long>(descriptor_limit());
}

int default_max_connections() {
  return static_cast<int>(std::clamp<int64_t>((descriptor_limit() - 64) / 2, 8, 256));
}

DataPort::DataPort(zmq::context_t& context, DataPortOptions options)
    : options_(std::move(options)),
      zap_(context, zmq::socket_type::rep),
      socket_(context, zmq::socket_type::pull),
      monitor_(context, zmq::socket_type::pair) {
  if (options_.max_connections <= 0) options_.max_connections = default_max_connections();
  status_.authenticated = options_.keys != nullptr;
  status_.max_message_bytes = max_message_bytes();
  status_.max_connections = options_.max_connections;
  zap_.set(zmq::sockopt::linger, 0);
  if (options_.keys != nullptr) {
    for (const auto& [peer, key] : options_.keys->peers) admitted_.push_back(decode_key(key).value_or(""));
    // The handler is bound before the public socket: libzmq asks ZAP only
    // when a handler exists, and without one it admits any client key.
    zap_.bind("inproc://zeromq.zap.01");
    make_curve_server(socket_, *options_.keys);
  }
  socket_.set(zmq::sockopt::rcvhwm, options_.receive_hwm);
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::maxmsgsize, status_.max_message_bytes);
  socket_.set(zmq::sockopt::handshake_ivl, options_.handshake_ms);
  monitor_.set(zmq::sockopt::linger, 0);
  // libzmq sends monitor events blocking, from its I/O thread: a bounded
  // queue would stall the I/O thread under a burst of connections.
  monitor_.set(zmq::sockopt::rcvhwm, 0);
  const std::string monitor_endpoint = fmt::format("inproc://hare-data-port-{}", static_cast<const void*>(this));
  if (zmq_socket_monitor(socket_.handle(), monitor_endpoint.c_str(), ZMQ_EVENT_ALL) != 0) {
    throw failure("node {}: cannot monitor its public socket: {}", options_.node, zmq_strerror(zmq_errno()));
  }
  monitor_.connect(monitor_endpoint);
  try {
    socket_.bind(options_.endpoint);
  } catch (const zmq::error_t& e) {
    throw failure("node {}: cannot listen on {} ({})", options_.node, options_.endpoint, e.what());
  }
  serve();  // the LISTENING event names the listening descriptor
  if (listen_fd_ >= 0) {
    // Drained from here when descriptors run out: it must not block.
    fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
  } else {
    diag::warning("node {}: its listening socket is unknown: connections to {} are not capped", options_.node,
                  options_.endpoint);
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

DataPort::~DataPort() {
  zmq_socket_monitor(socket_.handle(), nullptr, 0);
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

int64_t DataPort::max_message_bytes() const {
  return std::max(kMinMaxMessageBytes, options_.max_frame_bytes + (options_.keys ? kCurveMessageOverheadBytes : 0));
}

void DataPort::set_max_frame_bytes(int64_t bytes) {
  options_.max_frame_bytes = bytes;
  status_.max_message_bytes = max_message_bytes();
  socket_.set(zmq::sockopt::maxmsgsize, status_.max_message_bytes);
}

void DataPort::append_poll_items(std::vector<zmq::pollitem_t>& items) {
  if (options_.keys != nullptr) items.push_back({zap_.handle(), 0, ZMQ_POLLIN, 0});
  items.push_back({monitor_.handle(), 0, ZMQ_POLLIN, 0});
}

void DataPort::serve() {
  for (int i = 0; options_.keys != nullptr && i < 1024; ++i) {
    if (!(zap_.get(zmq::sockopt::events) & ZMQ_POLLIN)) break;
    on_zap_request();
  }
  for (int i = 0; i < 4096; ++i) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(monitor_, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
    if (parts.size() < 2 || parts[0].size() < 6) continue;
    uint16_t event = 0;
    int32_t value = 0;
    std::memcpy(&event, parts[0].data(), sizeof event);
    std::memcpy(&value, static_cast<const char*>(parts[0].data()) + 2, sizeof value);
    on_event(event, value);
  }
  if (!door_open_ && status_.connections <= options_.max_connections * 3 / 4 && now_ns() >= door_shut_until_ns_) {
    set_door(true);
  }
}

// RFC 27: version, request id, domain, address, identity, mechanism,
// credentials (for CURVE, the client's 32-byte public key).
void DataPort::on_zap_request() {
  std::vector<zmq::message_t> request;
  if (!zmq::recv_multipart(zap_, std::back_inserter(request), zmq::recv_flags::dontwait)) return;
  const bool well_formed = request.size() >= 7 && request[0].to_string_view() == "1.0";
  const bool curve = well_formed && request[5].to_string_view() == "CURVE";
  const bool admitted = curve && std::find(admitted_.begin(), admitted_.end(), request[6].to_string()) != admitted_.end();
  if (!admitted) {
    ++status_.refused_peers;
    if (!warned_refused_) {
      warned_refused_ = true;
      diag::warning("node {}: refused a peer at {} whose key is not of this run's; further ones are only counted",
                    options_.node, well_formed ? request[3].to_string() : std::string("?"));
    }
  }
  std::vector<zmq::const_buffer> reply = {zmq::str_buffer("1.0"),
                                          request.size() >= 2 ? zmq::buffer(request[1].data(), request[1].size())
                                                              : zmq::const_buffer(),
                                          admitted ? zmq::str_buffer("200") : zmq::str_buffer("400"),
                                          admitted ? zmq::str_buffer("OK") : zmq::str_buffer("not a key of this run"),
                                          zmq::const_buffer(), zmq::const_buffer()};
  zmq::send_multipart(zap_, reply, zmq::send_flags::dontwait);
}

void DataPort::on_event(uint16_t event, int32_t value) {
  switch (event) {
    case ZMQ_EVENT_LISTENING: listen_fd_ = value; break;
    case ZMQ_EVENT_ACCEPTED:
      ++status_.accepted;
      ++status_.connections;
      status_.peak_connections = std::max(status_.peak_connections, status_.connections);
      break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: ++status_.handshakes; break;
    case ZMQ_EVENT_DISCONNECTED: status_.connections = std::max(0, status_.connections - 1); break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      ++status_.failed_handshakes;
      if (!warned_failed_) {
        warned_failed_ = true;
        diag::warning("node {}: dropped a connection that failed the handshake ({}), unread: a peer without this "
                      "run's keys, or none at all; further ones are only counted",
                      options_.node, event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error" : "closed or too slow");
      }
      break;
    case ZMQ_EVENT_ACCEPT_FAILED:
      if (value == EMFILE || value == ENFILE || value == ENOBUFS || value == ENOMEM) {
        ++status_.accept_failures;
        if (!warned_descriptors_) {
          warned_descriptors_ = true;
          diag::warning("node {}: cannot accept a connection ({}; descriptor limit {}): new connections are shut "
                        "out for a second at a time while it lasts; further ones are only counted",
                        options_.node, std::strerror(value), descriptor_limit());
        }
        // Every report drains the queue again: a connection that completed
        // after the last drain would keep libzmq's listener retrying (and
        // spinning) until the door reopens.
        door_shut_until_ns_ = now_ns() + kDescriptorPauseNs;
        set_door(false);
        drain_accept_queue();
      }
      break;
    default: break;
  }
  if (door_open_ && status_.connections >= options_.max_connections) {
    ++status_.cap_reached;
    if (!warned_cap_) {
      warned_cap_ = true;
      diag::warning("node {}: {} connections are open, its cap: new ones wait until some close (connected peers "
                    "keep their connections); further times are only counted",
                    options_.node, status_.connections);
    }
    set_door(false);
  }
}

void DataPort::set_door(bool open) {
  if (open == door_open_ || listen_fd_ < 0) return;
  if (open) {
    int unused = 0;
    setsockopt(listen_fd_, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
  } else {
    // Return 0: drop every packet to the listening socket (SYNs, and ACKs
    // that would complete a handshake). Accepted connections have sockets
    // of their own, which this filter does not reach.
    sock_filter drop_all[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
    sock_fprog program{1, drop_all};
    if (setsockopt(listen_fd_, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) return;
  }
  door_open_ = open;
}

void DataPort::drain_accept_queue() {
  // The connections already queued would make libzmq's listener retry (and
  // fail) at once, again and again: accept and close them here, through the
  // spare descriptor. None has sent data: ZMTP sends none before its handshake.
  if (listen_fd_ < 0) return;
  if (spare_fd_ >= 0) ::close(spare_fd_);
  for (int i = 0; i < 4096; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) break;
    ::close(fd);
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

}  // namespace hare::runtime
