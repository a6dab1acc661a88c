#include "runtime/probe.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <fmt/format.h>
#include <zmq.hpp>

#include "common/diag.h"
#include "common/error.h"
#include "runtime/frame.h"

namespace hare::runtime {

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
  std::sort(rtts.begin(), rtts.end());
  result.rtt_ms = rtts[rtts.size() / 2];
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

}  // namespace hare::runtime
