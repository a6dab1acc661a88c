// The source's replay buffer without a source: acks, eviction, replay order.

#include <catch2/catch.hpp>

#include <vector>

#include "runtime/replay_buffer.h"

using namespace hare::runtime;

namespace {

std::vector<uint64_t> sequences(const std::vector<ReplayWindow>& windows) {
  std::vector<uint64_t> out;
  for (const ReplayWindow& w : windows) out.push_back(w.sequence);
  return out;
}

void send(ReplayBuffer& buffer, uint64_t from, uint64_t to) {
  for (uint64_t s = from; s < to; ++s) buffer.add(ReplayWindow{s, static_cast<int>(s % 3), static_cast<size_t>(s), 0});
}

}  // namespace

TEST_CASE("replay buffer: an ack releases every window below it, and the rest replay oldest first", "[runtime]") {
  ReplayBuffer buffer(8);
  send(buffer, 0, 6);
  CHECK(buffer.size() == 6);
  buffer.ack(SinkAck{4, {}});
  CHECK(buffer.acked_through() == 4);
  CHECK(sequences(buffer.unacked()) == std::vector<uint64_t>{4, 5});
  // An ack never goes back; one past everything sent empties the buffer.
  buffer.ack(SinkAck{2, {}});
  CHECK(buffer.acked_through() == 4);
  buffer.ack(SinkAck{6, {}});
  CHECK(buffer.unacked().empty());
  // A window the sink acknowledged before it was recorded needs no replay.
  buffer.ack(SinkAck{9, {}});
  send(buffer, 6, 11);
  CHECK(sequences(buffer.unacked()) == std::vector<uint64_t>{9, 10});
  CHECK(buffer.evicted_unacked() == 0);
  const std::vector<ReplayWindow> held = buffer.unacked();
  CHECK(held[0].stream == 0);
  CHECK(held[0].window == 9);
}

TEST_CASE("replay buffer: a full buffer pushes out its oldest window and counts it as unacknowledged", "[runtime]") {
  ReplayBuffer buffer(4);
  send(buffer, 0, 10);
  CHECK(buffer.size() == 4);
  CHECK(buffer.evicted_unacked() == 6);  // 0..5 can no longer be replayed
  CHECK(sequences(buffer.unacked()) == std::vector<uint64_t>{6, 7, 8, 9});
  // Acked in time, nothing is evicted unacked.
  ReplayBuffer acked(4);
  for (uint64_t s = 0; s < 100; ++s) {
    acked.add(ReplayWindow{s, 0, static_cast<size_t>(s), 0});
    if (s >= 2) acked.ack(SinkAck{s - 2, {}});
  }
  CHECK(acked.evicted_unacked() == 0);
  CHECK(sequences(acked.unacked()) == std::vector<uint64_t>{97, 98, 99});
}

TEST_CASE("replay buffer: capacity 0 is off: nothing held, nothing counted", "[runtime]") {
  ReplayBuffer buffer(0);
  send(buffer, 0, 50);
  CHECK(buffer.size() == 0);
  CHECK(buffer.unacked().empty());
  CHECK(buffer.evicted_unacked() == 0);
}

TEST_CASE("replay buffer: windows the sink gave up on stay held until they arrive, and replay oldest first", "[runtime]") {
  ReplayBuffer buffer(16);
  send(buffer, 0, 10);
  // The sink is through 8, but 2 and 5 never came (stuck on a lost node):
  // they stay, with everything from 8 on.
  buffer.ack(SinkAck{8, {2, 5}});
  CHECK(buffer.acked_through() == 8);
  CHECK(sequences(buffer.unacked()) == std::vector<uint64_t>{2, 5, 8, 9});
  send(buffer, 10, 12);
  // The replay brought 2; 5 is still missing.
  buffer.ack(SinkAck{11, {5}});
  CHECK(sequences(buffer.unacked()) == std::vector<uint64_t>{5, 11});
  // A missing window is pushed out of a full buffer like any other, counted.
  ReplayBuffer small(3);
  send(small, 0, 3);
  small.ack(SinkAck{2, {1}});
  CHECK(sequences(small.unacked()) == std::vector<uint64_t>{1, 2});
  send(small, 3, 5);
  CHECK(small.evicted_unacked() == 1);
  CHECK(sequences(small.unacked()) == std::vector<uint64_t>{2, 3, 4});
}
