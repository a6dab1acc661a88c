#include "runtime/transport.h"

#include <cerrno>

namespace hare::runtime {

int poll_interruptible(zmq::pollitem_t* items, size_t count, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return 0;
    throw;
  }
}

bool receive_spinning(zmq::socket_t& socket, zmq::message_t& message, std::chrono::microseconds spin,
                      std::chrono::milliseconds block) {
  const auto until = std::chrono::steady_clock::now() + spin;
  do {
    if (socket.recv(message, zmq::recv_flags::dontwait)) return true;
  } while (std::chrono::steady_clock::now() < until);
  zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
  poll_interruptible(items, 1, block);
  return static_cast<bool>(socket.recv(message, zmq::recv_flags::dontwait));
}

bool send_with_backpressure(zmq::socket_t& socket, zmq::const_buffer data, const std::function<bool()>& stop) {
  while (!stop()) {
    if (socket.send(data, zmq::send_flags::dontwait)) return true;
    zmq::pollitem_t wait[] = {{socket.handle(), 0, ZMQ_POLLOUT, 0}};
    poll_interruptible(wait, 1, std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace hare::runtime
