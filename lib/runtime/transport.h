#pragma once

// Receiving with a short spin before sleeping. On small boards and virtual
// machines a thread that blocks pays a wake-up (tens of µs, more when an
// idle vCPU has to be woken) on every message; spinning on the queue for a
// few tens of µs first turns that into a poll when messages come back to
// back, and costs at most the spin when the stream is idle.

#include <chrono>

#include <zmq.hpp>

namespace hare::runtime {

// True with a message; false when nothing came within spin + block time.
bool receive_spinning(zmq::socket_t& socket, zmq::message_t& message,
                      std::chrono::microseconds spin = std::chrono::microseconds(60),
                      std::chrono::milliseconds block = std::chrono::milliseconds(100));

}  // namespace hare::runtime
