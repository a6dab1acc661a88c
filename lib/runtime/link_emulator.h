#pragma once

// Link emulation for local runs, where every plan link is loopback: a frame
// that arrives over a plan link is held for the time the real link would
// take — its payload serialized at the link's bandwidth, in order behind the
// frames before it on that link, then the link's one-way latency — and
// released when that time comes. Payload bytes are counted as the cost model
// counts them (docs/design.md "Cost model"), so measured and predicted
// transfer times compare like for like.
//
// Not thread-safe; the supervisor's poll loop owns it. Times are ns since the
// epoch (frame send times are CLOCK_REALTIME, see frame.h).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

namespace hare::runtime {

struct EmulatedLink {
  double bandwidth_mbps = 0.0;  // > 0
  double latency_ms = 0.0;      // one way
};

class LinkEmulator {
 public:
  // When a frame of `payload_bytes` sent at `send_ns` by `sender` over
  // `link` is delivered: serialization starts when the link is free (or at
  // the send time), and the frame lands `latency_ms` after it is serialized.
  int64_t delivery_ns(const std::string& sender, const EmulatedLink& link, uint64_t payload_bytes, int64_t send_ns);

  // Holds a frame until `release_ns`.
  void hold(int64_t release_ns, zmq::message_t message);
  // The held frames due at `now_ns`, earliest first.
  std::vector<zmq::message_t> take_due(int64_t now_ns);
  size_t held() const { return held_.size(); }
  // The earliest release time of a held frame.
  std::optional<int64_t> next_release_ns() const;

 private:
  std::multimap<int64_t, zmq::message_t> held_;     // release time -> frame
  std::map<std::string, int64_t> busy_until_ns_;  // per sending node: its link is serializing until then
};

}  // namespace hare::runtime
