// Per-hop overhead of hare's transport: encode a frame, send it over
// ZeroMQ PUSH/PULL on TCP loopback, receive it, decode (validate) it — for
// the reference model's largest activation (8 KB) and the raw window
// (3 KB). Prints min/median/p90/max over N round trips after warm-up.
//
//   build/bin/pipeline_bench [iterations]
//
// Target (issue 5): median under 100 µs for the largest activation.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <zmq.hpp>

#include "common/stats.h"
#include "runtime/frame.h"
#include "runtime/transport.h"

using namespace hare::runtime;

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(100, std::atoi(argv[1])) : 20000;
  zmq::context_t context(1);
  zmq::socket_t pull(context, zmq::socket_type::pull);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);
  zmq::socket_t push(context, zmq::socket_type::push);
  push.connect(endpoint);
  std::printf("pipeline_bench: one hop = encode + send + receive + decode, TCP loopback, %d iterations after 1000 warm-up\n",
              iterations);
  std::printf("%-28s %10s %10s %10s %10s %10s\n", "frame", "bytes", "min_us", "median_us", "p90_us", "max_us");
  for (const auto& [name, shape] : std::vector<std::pair<const char*, std::vector<int64_t>>>{
           {"raw window [1,6,128]", {1, 6, 128}}, {"largest activation [1,64,32]", {1, 64, 32}}, {"logits [1,12]", {1, 12}}}) {
    int64_t elements = 1;
    for (int64_t d : shape) elements *= d;
    std::vector<float> payload(static_cast<size_t>(elements), 0.5f);
    FrameHeader header;
    header.shape = shape;
    std::vector<uint8_t> buffer(kHeaderBytes + payload.size() * 4);
    std::vector<double> samples;
    for (int i = 0; i < iterations + 1000; ++i) {
      const auto start = std::chrono::steady_clock::now();
      header.sequence = static_cast<uint64_t>(i);
      header.send_ns = now_ns();
      encode_header(header, payload.size() * 4, buffer.data());
      std::memcpy(buffer.data() + kHeaderBytes, payload.data(), payload.size() * 4);
      push.send(zmq::buffer(buffer), zmq::send_flags::none);
      zmq::message_t message;
      // As hare's receivers do: spin briefly on the queue before sleeping.
      if (!receive_spinning(pull, message)) return 1;
      FrameView view;
      if (decode(message.data(), message.size(), view) != DecodeError::none) return 1;
      const auto end = std::chrono::steady_clock::now();
      if (i >= 1000) samples.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
    std::sort(samples.begin(), samples.end());
    std::printf("%-28s %10zu %10.1f %10.1f %10.1f %10.1f\n", name, buffer.size(), samples.front(),
                hare::percentile_sorted(samples, 0.5), hare::percentile_sorted(samples, 0.9), samples.back());
  }
  return 0;
}
