#pragma once

// Receiving with a short spin before sleeping. On small boards and virtual
// machines a thread that blocks pays a wake-up (tens of µs, more when an
// idle vCPU has to be woken) on every message; spinning on the queue for a
// few tens of µs first turns that into a poll when messages come back to
// back, and costs at most the spin when the stream is idle.

#include <chrono>
#include <functional>

#include <zmq.hpp>

namespace hare::runtime {

// zmq::poll, with a signal's interruption (EINTR) taken as "nothing ready":
// the caller's loop then sees the interrupt flag and stops in order.
int poll_interruptible(zmq::pollitem_t* items, size_t count, std::chrono::milliseconds timeout);

// True with a message; false when nothing came within spin + block time.
bool receive_spinning(zmq::socket_t& socket, zmq::message_t& message,
                      std::chrono::microseconds spin = std::chrono::microseconds(60),
                      std::chrono::milliseconds block = std::chrono::milliseconds(100));

// Sends, waiting (in polls of at most 100 ms) while the peer's queue is
// full: a slow receiver slows the sender down (back-pressure). False when
// `stop()` became true first.
bool send_with_backpressure(zmq::socket_t& socket, zmq::const_buffer data, const std::function<bool()>& stop);

}  // namespace hare::runtime
