// The source role without a pipeline: its frames are received here.

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <zmq.hpp>

#include "data/model_card.h"
#include "runtime/frame.h"
#include "runtime/source.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

namespace {

struct Received {
  std::vector<FrameHeader> windows;
  std::optional<FrameHeader> end;
};

// Runs the source for the shipped model's card over `files`, stage 1 and the
// sink being PULL sockets in this test.
Received run(const std::vector<std::string>& files, int streams, long long limit, Codec codec, SourceStats& stats) {
  zmq::context_t context(1);
  zmq::socket_t stage(context, zmq::socket_type::pull);
  zmq::socket_t sink(context, zmq::socket_type::pull);
  stage.bind("inproc://stage");
  sink.bind("inproc://sink");
  NodeSpec spec;
  spec.name = "gw";
  spec.source = true;
  spec.card = data::read_model_card(test::source_path("models/hare-cnn.yaml"));
  spec.first_stage = {Destination{"inproc://stage", "e1", 1.0, codec}};
  spec.sink_endpoint = "inproc://sink";
  SourceOptions options;
  options.files = files;
  options.speed = 0.0;
  options.streams = streams;
  options.limit = limit;
  std::atomic<bool> stop{false};
  std::thread source([&] { run_source(context, spec, options, stats, stop); });
  Received r;
  zmq::pollitem_t items[] = {{stage.handle(), 0, ZMQ_POLLIN, 0}, {sink.handle(), 0, ZMQ_POLLIN, 0}};
  while (!r.end) {
    REQUIRE(zmq::poll(items, 2, std::chrono::milliseconds(10000)) > 0);
    zmq::message_t m;
    if ((items[0].revents & ZMQ_POLLIN) && stage.recv(m, zmq::recv_flags::dontwait)) {
      FrameView view;
      REQUIRE(decode(m.data(), m.size(), view) == DecodeError::none);
      r.windows.push_back(view.header);
    } else if ((items[1].revents & ZMQ_POLLIN) && sink.recv(m, zmq::recv_flags::dontwait)) {
      FrameView view;
      REQUIRE(decode(m.data(), m.size(), view) == DecodeError::none);
      r.end = view.header;
    }
  }
  source.join();
  // Windows still queued behind the end-of-stream frame (different sockets).
  zmq::message_t m;
  while (stage.recv(m, zmq::recv_flags::dontwait)) {
    FrameView view;
    REQUIRE(decode(m.data(), m.size(), view) == DecodeError::none);
    r.windows.push_back(view.header);
  }
  return r;
}

}  // namespace

TEST_CASE("source: every window once, numbered in order, then the count to the sink", "[runtime]") {
  SourceStats stats;
  const Received r = run({test::source_path("data/mhealth/subject08.tsv.gz")}, 3, 7, Codec::float32, stats);
  REQUIRE(r.windows.size() == 21);  // 3 streams over one file, 7 windows each
  std::set<uint32_t> streams;
  for (size_t i = 0; i < r.windows.size(); ++i) {
    const FrameHeader& h = r.windows[i];
    CHECK(h.sequence == i);
    CHECK(h.destination == 1);
    CHECK(h.kind == FrameKind::data);
    CHECK(h.shape == std::vector<int64_t>{1, 6, 128});
    CHECK(h.label >= 0);
    streams.insert(h.stream);
  }
  CHECK(streams == std::set<uint32_t>{0, 1, 2});
  REQUIRE(r.end);
  CHECK(r.end->kind == FrameKind::end);
  CHECK(r.end->destination == kSinkDestination);
  CHECK(r.end->sequence == 21);
  CHECK(stats.sent == 21);
  CHECK(stats.bytes == 21 * static_cast<long long>(kHeaderBytes + 6 * 128 * 4));
}

TEST_CASE("source: windows leave in the first link's codec", "[runtime]") {
  SourceStats stats;
  const Received r = run({test::source_path("data/mhealth/subject08.tsv.gz")}, 1, 2, Codec::int8, stats);
  REQUIRE(r.windows.size() == 2);
  CHECK(r.windows[0].dtype == DType::int8);
  CHECK(stats.bytes == 2 * static_cast<long long>(kHeaderBytes + 4 + 6 * 128));  // a float32 scale, then int8 values
}

TEST_CASE("source: a recording that is not there is an error naming it", "[runtime]") {
  zmq::context_t context(1);
  NodeSpec spec;
  spec.card = data::read_model_card(test::source_path("models/hare-cnn.yaml"));
  spec.first_stage = {Destination{"inproc://nowhere", "e1", 1.0, Codec::float32}};
  spec.sink_endpoint = "inproc://nowhere-sink";
  SourceOptions options;
  options.files = {"/nonexistent/subject99.tsv.gz"};
  SourceStats stats;
  std::atomic<bool> stop{false};
  CHECK_THROWS_WITH(run_source(context, spec, options, stats, stop), Catch::Contains("subject99"));
  CHECK(stats.sent == 0);
}

TEST_CASE("source: stage 1 as a group of two, each window to one member by share, in its codec", "[runtime]") {
  zmq::context_t context(1);
  zmq::socket_t a(context, zmq::socket_type::pull);
  zmq::socket_t b(context, zmq::socket_type::pull);
  zmq::socket_t sink(context, zmq::socket_type::pull);
  a.bind("inproc://a");
  b.bind("inproc://b");
  sink.bind("inproc://sink");
  NodeSpec spec;
  spec.card = data::read_model_card(test::source_path("models/hare-cnn.yaml"));
  spec.first_stage = {Destination{"inproc://a", "e1", 0.75, Codec::float32},
                      Destination{"inproc://b", "e2", 0.25, Codec::int8}};
  spec.sink_endpoint = "inproc://sink";
  SourceOptions options;
  options.files = {test::source_path("data/mhealth/subject08.tsv.gz")};
  options.speed = 0.0;
  options.limit = 40;
  SourceStats stats;
  std::atomic<bool> stop{false};
  std::thread source([&] { run_source(context, spec, options, stats, stop); });
  zmq::message_t end;
  REQUIRE(sink.recv(end));
  source.join();
  std::map<std::string, std::vector<uint64_t>> got;
  for (const auto& [name, socket] : std::vector<std::pair<std::string, zmq::socket_t*>>{{"a", &a}, {"b", &b}}) {
    zmq::message_t m;
    while (socket->recv(m, zmq::recv_flags::dontwait)) {
      FrameView view;
      REQUIRE(decode(m.data(), m.size(), view) == DecodeError::none);
      CHECK(view.header.dtype == (name == "a" ? DType::float32 : DType::int8));
      CHECK(view.header.member == 0);
      got[name].push_back(view.header.sequence);
    }
  }
  CHECK(got["a"].size() == 30);
  CHECK(got["b"].size() == 10);
  // Spread evenly: b takes every fourth window (a a b a, ...), not ten in a row.
  CHECK(got["b"] == std::vector<uint64_t>{2, 6, 10, 14, 18, 22, 26, 30, 34, 38});
}

namespace {

// The sequences a PULL socket holds now, in arrival order.
// The sequences waiting on `socket`; with `plan_tag`, each frame must carry it.
std::vector<uint64_t> drain(zmq::socket_t& socket, std::optional<uint16_t> plan_tag = std::nullopt) {
  std::vector<uint64_t> out;
  zmq::message_t m;
  while (socket.recv(m, zmq::recv_flags::dontwait)) {
    FrameView view;
    REQUIRE(decode(m.data(), m.size(), view) == DecodeError::none);
    if (plan_tag) CHECK(view.header.plan_tag == *plan_tag);
    out.push_back(view.header.sequence);
  }
  return out;
}

// A source of `limit` windows whose first stage is "inproc://lost", never
// bound: its queue (4 windows) fills and the source blocks on it, as on a
// stage node that died. "inproc://b" is where a switch can send it.
struct LostFirstStage {
  zmq::context_t context{1};
  zmq::socket_t b{context, zmq::socket_type::pull};
  zmq::socket_t sink{context, zmq::socket_type::pull};
  NodeSpec spec;
  SourceOptions options;
  SourceStats stats;
  SourceControl control;
  std::atomic<bool> stop{false};
  std::thread thread;

  LostFirstStage(long long limit, size_t replay_windows) : control(replay_windows) {
    b.bind("inproc://b");
    sink.bind("inproc://sink");
    spec.card = data::read_model_card(test::source_path("models/hare-cnn.yaml"));
    spec.first_stage = {Destination{"inproc://lost", "e1", 1.0, Codec::float32}};
    spec.sink_endpoint = "inproc://sink";
    options.files = {test::source_path("data/mhealth/subject08.tsv.gz")};
    options.speed = 0.0;
    options.limit = limit;
    options.send_hwm = 4;
    thread = std::thread([this] { run_source(context, spec, options, stats, stop, nullptr, &control); });
  }
  ~LostFirstStage() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  // Waits until the source has sent and then stops sending (blocked on the
  // full queue) for 300 ms; the windows it sent.
  long long blocked() {
    long long before = 0;
    int quiet_ms = 0;
    for (int waited_ms = 0; waited_ms < 30'000 && quiet_ms < 300; waited_ms += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const long long sent = stats.sent.load();
      quiet_ms = sent > 0 && sent == before ? quiet_ms + 50 : 0;
      before = sent;
    }
    return stats.sent.load();
  }
  // The end of stream's count; then the sink acknowledges every window, so the source ends.
  uint64_t end() {
    zmq::message_t end;
    REQUIRE(sink.recv(end));
    control.ack(SinkAck{static_cast<uint64_t>(options.limit), {}});
    thread.join();
    FrameView view;
    REQUIRE(decode(end.data(), end.size(), view) == DecodeError::none);
    return view.header.sequence;
  }
  SourceStatus status() const {
    SourceStatus s;
    control.fill(s);
    return s;
  }
};

}  // namespace

TEST_CASE("source: a switch away from a lost first stage replays every unacknowledged window, then goes on",
          "[runtime]") {
  LostFirstStage source(40, 256);
  const long long blocked_at = source.blocked();
  REQUIRE(blocked_at >= 3);
  REQUIRE(blocked_at < 40);
  source.control.ack(SinkAck{2, {}});  // the sink has 0 and 1
  const uint64_t request = source.control.request_switch({Destination{"inproc://b", "e2", 1.0, Codec::int8}}, 0xbeef);
  CHECK(source.end() == 40);
  CHECK(source.control.switched(request));
  std::vector<uint64_t> expected;
  for (uint64_t s = 2; s < 40; ++s) expected.push_back(s);
  // The replay from the ack, in order, then the rest: each once, under the new plan's tag.
  CHECK(drain(source.b, 0xbeef) == expected);
  const SourceStatus status = source.status();
  CHECK(status.replayed == blocked_at - 2);
  CHECK(status.evicted_unacked == 0);
  CHECK(status.acked_through == 40);
  CHECK(status.buffered == 0);
  CHECK(status.replay_buffer_windows == 256);
  CHECK(source.stats.sent == 40);
}

TEST_CASE("source: windows pushed out of a small replay buffer unacknowledged are counted, not replayed",
          "[runtime]") {
  LostFirstStage source(20, 2);
  const long long blocked_at = source.blocked();
  REQUIRE(blocked_at >= 3);
  source.control.request_switch({Destination{"inproc://b", "e2", 1.0, Codec::float32}}, 1);
  CHECK(source.end() == 20);
  const std::vector<uint64_t> got = drain(source.b);
  // The last two sent before the switch come again; the ones before are gone.
  REQUIRE(got.size() == static_cast<size_t>(20 - blocked_at + 2));
  CHECK(got.front() == static_cast<uint64_t>(blocked_at - 2));
  const SourceStatus status = source.status();
  // No ack came before the end: every window but the last two left the
  // buffer unacknowledged (the bound on what a switch could have lost).
  CHECK(status.evicted_unacked == 18);
  CHECK(status.replayed == 2);
}

TEST_CASE("source: paused, it takes a switch at once but sends nothing, its replay included, until it resumes",
          "[runtime]") {
  LostFirstStage source(30, 256);
  const long long blocked_at = source.blocked();
  REQUIRE(blocked_at >= 3);
  source.control.pause(now_ns() + 60'000'000'000);
  CHECK(source.control.paused());
  const uint64_t request = source.control.request_switch({Destination{"inproc://b", "e2", 1.0, Codec::float32}}, 7);
  for (int i = 0; i < 200 && !source.control.switched(request); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(source.control.switched(request));  // the node's switch does not wait for the resume
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(drain(source.b).empty());
  CHECK(source.stats.sent == blocked_at);
  source.control.resume();
  CHECK_FALSE(source.control.paused());
  CHECK(source.end() == 30);
  std::vector<uint64_t> expected;
  for (uint64_t s = 0; s < 30; ++s) expected.push_back(s);
  CHECK(drain(source.b, 7) == expected);  // the replay (nothing acknowledged), then the rest
}

TEST_CASE("source: a pause ends by itself when its time is up", "[runtime]") {
  SourceControl control(4);
  control.pause(now_ns() + 50'000'000);
  CHECK(control.paused());
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  CHECK_FALSE(control.paused());
}
