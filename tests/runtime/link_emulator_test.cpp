#include <catch2/catch.hpp>

#include "runtime/link_emulator.h"

using namespace hare::runtime;

namespace {
constexpr int64_t kMs = 1'000'000;
}

TEST_CASE("link emulator: serialization at the bandwidth, then the one-way latency", "[runtime]") {
  LinkEmulator links;
  const EmulatedLink link{8.0, 5.0};  // 8 Mbit/s: 1,000 bytes take 1 ms
  CHECK(links.delivery_ns("gw", link, 1000, 100 * kMs) == 100 * kMs + 1 * kMs + 5 * kMs);
  // Sent while the first is still being serialized: it waits its turn.
  CHECK(links.delivery_ns("gw", link, 2000, 100 * kMs) == 100 * kMs + 3 * kMs + 5 * kMs);
  // Another sender has a link of its own.
  CHECK(links.delivery_ns("e1", link, 1000, 100 * kMs) == 106 * kMs);
  // Sent after the link went idle: no queueing.
  CHECK(links.delivery_ns("gw", link, 1000, 200 * kMs) == 206 * kMs);
}

TEST_CASE("link emulator: held frames come out when due, earliest first", "[runtime]") {
  LinkEmulator links;
  links.hold(30 * kMs, zmq::message_t(std::string("c")));
  links.hold(10 * kMs, zmq::message_t(std::string("a")));
  links.hold(20 * kMs, zmq::message_t(std::string("b")));
  CHECK(links.held() == 3);
  CHECK(links.next_release_ns() == 10 * kMs);
  CHECK(links.take_due(5 * kMs).empty());
  auto due = links.take_due(25 * kMs);
  REQUIRE(due.size() == 2);
  CHECK(due[0].to_string() == "a");
  CHECK(due[1].to_string() == "b");
  CHECK(links.held() == 1);
  CHECK(links.take_due(30 * kMs).size() == 1);
  CHECK_FALSE(links.next_release_ns().has_value());
}
