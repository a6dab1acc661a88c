#include "profile/probe.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "common/process.h"
#include "common/memory.h"
#include "common/stats.h"
#include "profile/memory_probe.h"
#include "runtime/frame.h"
#include "runtime/transport.h"

namespace hare::profile {

using runtime::now_ns;
using runtime::receive_spinning;

int run_probe_server(const std::string& address, int port, double seconds) {
  diag::install_interrupt_handler();
  zmq::context_t context(1);
  zmq::socket_t control(context, zmq::socket_type::rep);
  zmq::socket_t bulk(context, zmq::socket_type::pull);
  control.set(zmq::sockopt::linger, 0);
  bulk.set(zmq::sockopt::linger, 0);
  control.bind(fmt::format("tcp://{}:{}", address, port));
  bulk.bind(fmt::format("tcp://{}:{}", address, port + 1));
  long long received = 0;
  std::vector<std::pair<int64_t, long long>> arrivals;  // (time, bytes so far) after each chunk
  std::string pending;  // a "report N" waiting for N bytes
  const int64_t deadline = now_ns() + static_cast<int64_t>(seconds * 1e9);
  while (!diag::interrupted() && now_ns() < deadline) {
    zmq::pollitem_t items[] = {{control.handle(), 0, ZMQ_POLLIN, 0}, {bulk.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(50));
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t chunk;
      while (bulk.recv(chunk, zmq::recv_flags::dontwait)) {
        received += static_cast<long long>(chunk.size());
        arrivals.emplace_back(now_ns(), received);
      }
    }
    if (pending.empty() && (items[0].revents & ZMQ_POLLIN)) {
      zmq::message_t request;
      if (control.recv(request, zmq::recv_flags::dontwait)) {
        const std::string text = request.to_string();
        if (text == "ping") {
          control.send(zmq::str_buffer("pong"), zmq::send_flags::none);
        } else if (text == "reset") {
          received = 0;
          arrivals.clear();
          control.send(zmq::str_buffer("ok"), zmq::send_flags::none);
        } else {
          pending = text;  // "report <bytes>"
        }
      }
    }
    if (!pending.empty()) {
      const long long want = std::stoll(pending.substr(pending.find(' ') + 1));
      if (received >= want) {
        // The rate after TCP's slow start: from the chunk that completed the
        // first quarter to the last one (on a 40 ms round trip, slow start
        // alone costs ~10% of a 4 MB transfer at 50 Mbit/s).
        const auto from = std::find_if(arrivals.begin(), arrivals.end(),
                                       [&](const auto& a) { return a.second * 4 >= received; });
        const long long bytes = received - from->second;
        control.send(zmq::buffer(fmt::format("{} {}", bytes, arrivals.back().first - from->first)), zmq::send_flags::none);
        pending.clear();
      }
    }
  }
  return 0;
}

ProbeResult run_probe_client(const std::string& address, int port, int pings, long long bytes) {
  zmq::context_t context(1);
  zmq::socket_t control(context, zmq::socket_type::req);
  control.set(zmq::sockopt::linger, 0);
  control.set(zmq::sockopt::rcvtimeo, 30000);
  control.connect(fmt::format("tcp://{}:{}", address, port));
  zmq::socket_t bulk(context, zmq::socket_type::push);
  bulk.set(zmq::sockopt::linger, 5000);
  bulk.connect(fmt::format("tcp://{}:{}", address, port + 1));
  auto request = [&](const std::string& text) {
    control.send(zmq::buffer(text), zmq::send_flags::none);
    zmq::message_t reply;
    if (!control.recv(reply, zmq::recv_flags::none)) {
      throw failure("network probe: {}:{} does not answer", address, port);
    }
    return reply.to_string();
  };
  ProbeResult result;
  std::vector<double> rtts;
  request("ping");  // connection set-up is not a round trip
  for (int i = 0; i < pings; ++i) {
    const int64_t start = now_ns();
    request("ping");
    rtts.push_back(static_cast<double>(now_ns() - start) / 1e6);
  }
  result.rtt_ms = percentile(rtts, 0.5);
  request("reset");
  const std::vector<char> chunk(64 * 1024, 'h');
  for (long long sent = 0; sent < bytes; sent += static_cast<long long>(chunk.size())) {
    bulk.send(zmq::buffer(chunk), zmq::send_flags::none);
  }
  const std::string report = request(fmt::format("report {}", bytes));
  const long long timed_bytes = std::stoll(report.substr(0, report.find(' ')));
  const double seconds = std::stod(report.substr(report.find(' ') + 1)) / 1e9;
  result.bandwidth_mbps = seconds > 0 ? static_cast<double>(timed_bytes) * 8.0 / seconds / 1e6 : 0.0;
  return result;
}

std::vector<double> measure_idle_hops(int64_t bytes, int samples, double idle_gap_ms) {
  // As in the runtime, the frame crosses processes, and each receiver has
  // gone to sleep: this process sends, a child process receives and sends
  // it back, this process receives; a hop is half of that round trip.
  zmq::context_t context(1);
  zmq::socket_t out(context, zmq::socket_type::push);
  zmq::socket_t back(context, zmq::socket_type::pull);
  out.set(zmq::sockopt::linger, 0);
  back.set(zmq::sockopt::linger, 0);
  out.bind("tcp://127.0.0.1:*");
  back.bind("tcp://127.0.0.1:*");
  const std::string out_endpoint = out.get(zmq::sockopt::last_endpoint);
  const std::string back_endpoint = back.get(zmq::sockopt::last_endpoint);
  const pid_t child = fork_call([&] {
    int code = 0;
    // A fresh context: ZeroMQ's threads do not survive fork(). Closed before
    // the child exits, so that the last echo is flushed.
    zmq::context_t child_context(1);
    zmq::socket_t in(child_context, zmq::socket_type::pull);
    zmq::socket_t reply(child_context, zmq::socket_type::push);
    in.set(zmq::sockopt::linger, 0);
    reply.set(zmq::sockopt::linger, 1000);
    in.connect(out_endpoint);
    reply.connect(back_endpoint);
    zmq::message_t message;
    for (int i = 0; i <= samples && code == 0; ++i) {
      if (!receive_spinning(in, message, std::chrono::microseconds(60), std::chrono::milliseconds(5000))) code = 1;
      else reply.send(message, zmq::send_flags::none);
    }
    return code;
  });
  std::vector<double> hops;
  std::vector<char> frame(static_cast<size_t>(std::max<int64_t>(bytes, sizeof(int64_t))), 'h');
  zmq::message_t message;
  bool ok = true;
  for (int i = 0; ok && i <= samples; ++i) {  // one more: the connection's first frame is not timed
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(idle_gap_ms * 1000)));
    const int64_t sent = now_ns();
    out.send(zmq::buffer(frame), zmq::send_flags::none);
    ok = receive_spinning(back, message, std::chrono::microseconds(60), std::chrono::milliseconds(5000));
    if (ok && i > 0) hops.push_back(static_cast<double>(now_ns() - sent) / 2e6);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw failure("measuring the runtime hop: {} after {} of {} frames (echo process: {})",
                  ok ? "the echo process failed" : "no echo within 5 s", hops.size(), samples,
                  describe_exit(status));
  }
  return hops;
}

int supervisor_memory_probe_main() {
  zmq::context_t context(1);
  zmq::socket_t in(context, zmq::socket_type::pull);
  in.bind("inproc://memory-probe");
  zmq::socket_t out(context, zmq::socket_type::push);
  out.connect("inproc://memory-probe");
  out.send(zmq::str_buffer("x"), zmq::send_flags::none);
  zmq::message_t message;
  (void)in.recv(message, zmq::recv_flags::none);
  SupervisorMemoryProbe probe{own_process_memory(), read_mappings(getpid())};
  std::printf("%s\n", record_line(probe).c_str());
  return 0;
}

}  // namespace hare::profile
