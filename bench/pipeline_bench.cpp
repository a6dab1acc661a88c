// Per-hop overhead of hare's transport: encode a frame, send it over
// ZeroMQ PUSH/PULL on TCP loopback, receive it, decode (validate) it — for
// the reference model's largest activation (8 KB) and the raw window
// (3 KB). Prints min/median/p90/max over N round trips after warm-up, for
// each frame twice in the same run: plain, and with CURVE (authenticated and
// encrypted, as nodes send them; keys.h), with the same sockets' settings.
//
//   build/bin/pipeline_bench [iterations]
//
// Target (issues 5 and 12): median under 100 µs for the largest activation,
// with CURVE.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "common/stats.h"
#include "runtime/frame.h"
#include "runtime/keys.h"
#include "runtime/transport.h"

using namespace hare::runtime;

namespace {

// One sender and one receiver on TCP loopback; with `keys`, a CURVE server
// and client, as a node's public socket and its upstream sender.
struct Hop {
  zmq::socket_t pull, push;
  Hop(zmq::context_t& context, const std::map<std::string, DeploymentKeys>* keys)
      : pull(context, zmq::socket_type::pull), push(context, zmq::socket_type::push) {
    if (keys != nullptr) {
      make_curve_server(pull, keys->at("receiver"));
      make_curve_client(push, keys->at("sender"), "receiver");
    }
    pull.bind("tcp://127.0.0.1:*");
    push.connect(pull.get(zmq::sockopt::last_endpoint));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(100, std::atoi(argv[1])) : 20000;
  zmq::context_t context(1);
  const auto keys = generate_deployment_keys({"sender", "receiver"});
  Hop plain(context, nullptr);
  Hop curve(context, &keys);
  std::printf("pipeline_bench: one hop = encode + send + receive + decode, TCP loopback, %d iterations after 1000 warm-up\n",
              iterations);
  std::printf("%-28s %-6s %10s %10s %10s %10s %10s\n", "frame", "link", "bytes", "min_us", "median_us", "p90_us", "max_us");
  for (const auto& [name, shape] : std::vector<std::pair<const char*, std::vector<int64_t>>>{
           {"raw window [1,6,128]", {1, 6, 128}}, {"largest activation [1,64,32]", {1, 64, 32}}, {"logits [1,12]", {1, 12}}}) {
    int64_t elements = 1;
    for (int64_t d : shape) elements *= d;
    std::vector<float> payload(static_cast<size_t>(elements), 0.5f);
    FrameHeader header;
    header.shape = shape;
    std::vector<uint8_t> buffer(kHeaderBytes + payload.size() * 4);
    // Plain and CURVE alternate in blocks of 100, so that both see the same
    // machine (a neighbour's load, frequency changes) over the run.
    std::vector<double> samples[2];
    Hop* hops[2] = {&plain, &curve};
    for (int block = 0; block < (iterations + 1000) / 100; ++block) {
      for (int which = 0; which < 2; ++which) {
        Hop& hop = *hops[which];
        for (int j = 0; j < 100; ++j) {
          const int i = block * 100 + j;
          const auto start = std::chrono::steady_clock::now();
          header.sequence = static_cast<uint64_t>(i);
          header.send_ns = now_ns();
          encode_header(header, payload.size() * 4, buffer.data());
          std::memcpy(buffer.data() + kHeaderBytes, payload.data(), payload.size() * 4);
          hop.push.send(zmq::buffer(buffer), zmq::send_flags::none);
          zmq::message_t message;
          // As hare's receivers do: spin briefly on the queue before sleeping.
          if (!receive_spinning(hop.pull, message)) return 1;
          FrameView view;
          if (decode(message.data(), message.size(), view) != DecodeError::none) return 1;
          const auto end = std::chrono::steady_clock::now();
          if (i >= 1000) samples[which].push_back(std::chrono::duration<double, std::micro>(end - start).count());
        }
      }
    }
    for (int which = 0; which < 2; ++which) {
      std::vector<double>& s = samples[which];
      std::sort(s.begin(), s.end());
      std::printf("%-28s %-6s %10zu %10.1f %10.1f %10.1f %10.1f\n", name, which == 0 ? "plain" : "curve", buffer.size(),
                  s.front(), hare::percentile_sorted(s, 0.5), hare::percentile_sorted(s, 0.9), s.back());
    }
  }
  return 0;
}
