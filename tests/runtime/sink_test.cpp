// The sink without a pipeline: frames made here, times given by the test.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/json.h"
#include "runtime/frame.h"
#include "runtime/sink.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // ns since the epoch

data::ModelCard two_classes() {
  data::ModelCard card;
  card.classes = {"sitting", "walking"};
  return card;
}

// A result frame for the sink: logits favouring `predicted`, window
// complete at `origin_ns`.
std::vector<uint8_t> result_frame(uint64_t sequence, int predicted, int label, int64_t origin_ns) {
  FrameHeader h;
  h.sequence = sequence;
  h.stream = 0;
  h.label = label;
  h.destination = kSinkDestination;
  h.shape = {1, 2};
  h.origin_ns = origin_ns;
  h.send_ns = origin_ns;
  HopTrace hop;
  hop.stage = 1;
  hop.payload_bytes = 3072;
  hop.received_ns = origin_ns + 1 * kMs;
  hop.started_ns = origin_ns + 1 * kMs;
  hop.ended_ns = origin_ns + 3 * kMs;
  h.trace.push_back(hop);
  const float logits[2] = {predicted == 0 ? 1.0f : 0.0f, predicted == 1 ? 1.0f : 0.0f};
  return encode(h, logits, sizeof logits);
}

std::vector<uint8_t> end_frame(uint64_t windows_sent) {
  FrameHeader h;
  h.kind = FrameKind::end;
  h.sequence = windows_sent;
  h.destination = kSinkDestination;
  return encode(h, nullptr, 0);
}

void deliver(Sink& sink, const std::vector<uint8_t>& bytes, int64_t received_ns) {
  FrameView view;
  REQUIRE(decode(bytes.data(), bytes.size(), view) == DecodeError::none);
  sink.on_frame(view, received_ns);
}

std::vector<Prediction> predictions(const std::string& path) {
  std::vector<Prediction> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(parse_record<Prediction>(line, path));
  return out;
}

std::vector<uint64_t> sequences(const std::vector<Prediction>& lines) {
  std::vector<uint64_t> out;
  for (const auto& p : lines) out.push_back(p.sequence);
  return out;
}

}  // namespace

TEST_CASE("sink: windows that arrive out of order are written in order", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  deliver(sink, result_frame(1, 1, 1, kT0), kT0 + 5 * kMs);
  deliver(sink, result_frame(2, 0, 1, kT0), kT0 + 6 * kMs);
  sink.tick(kT0 + 7 * kMs);
  CHECK(predictions(dir.file("p.jsonl")).empty());  // 0 is still missing
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + 8 * kMs);
  deliver(sink, end_frame(3), kT0 + 9 * kMs);
  sink.tick(kT0 + 10 * kMs);
  REQUIRE(sink.done());
  const auto lines = predictions(dir.file("p.jsonl"));
  CHECK(sequences(lines) == std::vector<uint64_t>{0, 1, 2});
  CHECK(lines[0].predicted == "sitting");
  CHECK(lines[0].label == std::optional<std::string>("sitting"));
  CHECK(lines[2].label == std::optional<std::string>("walking"));
  CHECK(lines[1].latency_ms == Approx(5.0));
  const SinkSummary& s = sink.summary();
  CHECK(s.expected == 3);
  CHECK(s.received == 3);
  CHECK(s.lost == 0);
  CHECK(s.duplicated == 0);
  CHECK(s.late == 0);
  CHECK(s.correct == 2);  // window 2 was labelled walking, predicted sitting
  CHECK(s.accuracy == Approx(2.0 / 3.0));
  REQUIRE(s.stages.size() == 1);
  CHECK(s.stages[0].compute_ms_p50 == Approx(2.0));
  CHECK(s.stages[0].bytes_in == Approx(3072));
}

TEST_CASE("sink: a duplicate is counted and not written twice", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + 2 * kMs);
  deliver(sink, result_frame(1, 1, 1, kT0), kT0 + 3 * kMs);
  deliver(sink, end_frame(2), kT0 + 4 * kMs);
  sink.tick(kT0 + 5 * kMs);
  REQUIRE(sink.done());
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 1});
  CHECK(sink.summary().received == 2);
  CHECK(sink.summary().duplicated == 1);
  CHECK(sink.summary().lost == 0);
}

TEST_CASE("sink: a window that never comes is lost after the drain timeout, the rest written", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(2, 0, 0, kT0), kT0 + kMs);
  deliver(sink, end_frame(3), kT0 + 2 * kMs);
  sink.tick(kT0 + 100 * kMs);
  CHECK_FALSE(sink.done());  // window 1 may still be on its way
  sink.tick(kT0 + 4'000 * kMs);  // 3 s of silence after the end of stream
  REQUIRE(sink.done());
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 2});
  CHECK(sink.summary().received == 2);
  CHECK(sink.summary().lost == 1);
}

TEST_CASE("sink: a window that comes after its gap was given up is late, written out of order, and missing till then", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(2, 0, 0, kT0), kT0 + kMs);
  sink.tick(kT0 + 10 * kMs);       // the gap at 1 starts
  sink.tick(kT0 + 2'100 * kMs);    // given up after 2 s: 2 is written
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 2});
  // Its ack keeps 1 in the source's replay buffer: a switch may bring it.
  CHECK(sink.summary().next_sequence == 3);
  CHECK(sink.summary().missing == std::vector<long long>{1});
  deliver(sink, result_frame(1, 1, 1, kT0), kT0 + 2'200 * kMs);
  deliver(sink, end_frame(3), kT0 + 2'300 * kMs);
  sink.tick(kT0 + 2'400 * kMs);
  CHECK(sink.summary().missing.empty());
  REQUIRE(sink.done());
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 2, 1});
  CHECK(sink.summary().late == 1);
  CHECK(sink.summary().received == 3);
  CHECK(sink.summary().lost == 0);
}

TEST_CASE("sink: a sequence number far beyond the stream is dropped, not buffered", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  deliver(sink, result_frame(50'000'000, 0, 0, kT0), kT0 + kMs);
  CHECK(sink.summary().received == 0);
  CHECK(sink.summary().duplicated == 1);
}

TEST_CASE("sink: stopped before the end of stream, it writes what arrived and does not claim a count", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(2, 1, 1, kT0), kT0 + kMs);
  sink.tick(kT0 + 2 * kMs);  // 2 waits behind the gap at 1
  const SinkSummary s = sink.finish();
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 2});
  CHECK(s.expected == -1);  // no end of stream came: the count is unknown
  CHECK(s.received == 2);
}

TEST_CASE("sink: predictions are written 0600, never through a symlink planted at their path", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  {
    test::ScopedUmask open_umask(0000);
    Sink sink(card, dir.file("gw.predictions.jsonl"));
  }
  CHECK(test::mode_of(dir.file("gw.predictions.jsonl")) == 0600);

  test::write_text(dir.file("precious"), "precious\n");
  REQUIRE(::symlink(dir.file("precious").c_str(), dir.file("e2.predictions.jsonl").c_str()) == 0);
  CHECK_THROWS_WITH(Sink(card, dir.file("e2.predictions.jsonl")),
                    dir.file("e2.predictions.jsonl") +
                        ": is a symbolic link: run state is never written through a link; remove it");
  CHECK(read_file(dir.file("precious")) == "precious\n");
}

TEST_CASE("sink: windows from the members of a group, interleaved out of order, are written once each, in order",
          "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  // Three members of the last stage take windows by smooth round robin with
  // shares 0.5/0.3/0.2; the slow one (member 2) delivers its windows 40 ms
  // late, member 1 10 ms late, and a member's frame may come twice (a
  // resend): every sequence goes out once, in order, none lost or late.
  const std::vector<size_t> member_of = {0, 1, 0, 2, 0, 1, 0, 0, 1, 2, 0, 1, 0, 2, 0, 1, 0, 0, 1, 2};
  const int64_t delay_ms[] = {0, 10, 40};
  std::vector<std::pair<int64_t, uint64_t>> arrivals;  // when, which
  for (uint64_t i = 0; i < member_of.size(); ++i) {
    arrivals.emplace_back(kT0 + static_cast<int64_t>(i) * kMs + delay_ms[member_of[i]] * kMs, i);
  }
  arrivals.emplace_back(kT0 + 45 * kMs, 3);  // a duplicate from member 2
  std::sort(arrivals.begin(), arrivals.end());
  REQUIRE(arrivals[1].second != 1);  // really out of order
  for (const auto& [when, sequence] : arrivals) {
    deliver(sink, result_frame(sequence, static_cast<int>(sequence % 2), static_cast<int>(sequence % 2), kT0), when);
    sink.tick(when);
  }
  deliver(sink, end_frame(member_of.size()), kT0 + 100 * kMs);
  sink.tick(kT0 + 100 * kMs);
  REQUIRE(sink.done());
  const SinkSummary s = sink.summary();
  CHECK(s.received == static_cast<long long>(member_of.size()));
  CHECK(s.duplicated == 1);
  CHECK(s.lost == 0);
  CHECK(s.late == 0);
  std::vector<uint64_t> expected(member_of.size());
  for (uint64_t i = 0; i < expected.size(); ++i) expected[i] = i;
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == expected);
}

TEST_CASE("sink: under load a gap waits twice the largest latency seen, so a slow member's window is still in order",
          "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"));
  // Saturated: windows take 3 s end to end; window 1 went to a member
  // whose queue holds it 2.5 s longer than window 2's.
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + 3'000 * kMs);
  deliver(sink, result_frame(2, 0, 0, kT0 + 2 * kMs), kT0 + 3'002 * kMs);
  sink.tick(kT0 + 3'010 * kMs);    // the gap at 1 starts
  sink.tick(kT0 + 5'500 * kMs);    // 2.5 s: beyond 2 s, within 2 x 3 s
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0});
  deliver(sink, result_frame(1, 1, 1, kT0 + 1 * kMs), kT0 + 5'501 * kMs);
  deliver(sink, end_frame(3), kT0 + 5'502 * kMs);
  sink.tick(kT0 + 5'510 * kMs);
  REQUIRE(sink.done());
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 1, 2});
  CHECK(sink.summary().late == 0);
  CHECK(sink.summary().lost == 0);
}

TEST_CASE("sink: after a plan switch a gap waits for the replay, which is written in order, its duplicates dropped",
          "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"), GapWait{0, 10'000 * kMs});
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(1, 0, 0, kT0), kT0 + kMs);
  sink.tick(kT0 + 2 * kMs);
  CHECK(sink.summary().next_sequence == 2);  // the ack: every window below 2 is written
  // Windows 2 and 3 were on the stage node that was lost; 4 came through.
  deliver(sink, result_frame(4, 1, 1, kT0), kT0 + 3 * kMs);
  sink.tick(kT0 + 10 * kMs);  // the gap at 2 starts
  sink.on_plan_switch(kT0 + 1'000 * kMs);
  sink.tick(kT0 + 5'000 * kMs);  // past today's 2 s, within the switch's 10 s: still waiting
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 1});
  CHECK(sink.summary().next_sequence == 2);
  // The replay: everything from the ack on, 4 again among them.
  for (uint64_t sequence : {2, 3, 4}) deliver(sink, result_frame(sequence, 1, 1, kT0), kT0 + 5'100 * kMs);
  deliver(sink, end_frame(5), kT0 + 5'200 * kMs);
  sink.tick(kT0 + 5'300 * kMs);
  REQUIRE(sink.done());
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 1, 2, 3, 4});
  const SinkSummary& s = sink.summary();
  CHECK(s.received == 5);
  CHECK(s.duplicated == 1);
  CHECK(s.late == 0);
  CHECK(s.lost == 0);
}

TEST_CASE("sink: the switch's wait ends: a window the replay does not bring is given up after it", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"), GapWait{0, 10'000 * kMs});
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(2, 0, 0, kT0), kT0 + kMs);
  sink.tick(kT0 + 2 * kMs);
  sink.on_plan_switch(kT0 + 3 * kMs);
  deliver(sink, end_frame(3), kT0 + 4 * kMs);
  sink.tick(kT0 + 9'000 * kMs);  // the drain timeout has passed, the switch's wait has not
  CHECK_FALSE(sink.done());
  CHECK(sink.summary().next_sequence == 1);
  sink.tick(kT0 + 10'100 * kMs);
  REQUIRE(sink.done());
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 2});
  CHECK(sink.summary().lost == 1);
}

TEST_CASE("sink: --gap-wait-s holds every gap at least that long, switch or not", "[runtime]") {
  test::TempDir dir;
  const data::ModelCard card = two_classes();
  Sink sink(card, dir.file("p.jsonl"), GapWait{6'000 * kMs, 6'000 * kMs});
  deliver(sink, result_frame(0, 0, 0, kT0), kT0 + kMs);
  deliver(sink, result_frame(2, 0, 0, kT0), kT0 + kMs);
  sink.tick(kT0 + 10 * kMs);     // the gap at 1 starts
  sink.tick(kT0 + 3'000 * kMs);  // today's rule would have given it up after 2 s
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0});
  sink.tick(kT0 + 6'100 * kMs);
  CHECK(sequences(predictions(dir.file("p.jsonl"))) == std::vector<uint64_t>{0, 2});
  CHECK(sink.summary().next_sequence == 3);
}
