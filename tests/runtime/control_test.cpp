// The control socket and the records it answers with.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "common/json.h"
#include "runtime/control.h"
#include "runtime/records.h"
#include "test_util.h"

using namespace hare;
using namespace hare::runtime;

TEST_CASE("records: a node status survives JSON with hostile text", "[runtime]") {
  NodeStatus s;
  s.node = "gw";
  s.ready = true;
  s.confinement = "unconfined (\"/sys/fs/cgroup\" is not writable: \\ \n try root)";
  s.bad_frames["not \"addressed\" to this node"] = 3;
  s.source = SourceStatus{"failed: gw.tsv:3: \"x\"\nbad", 1, 2, 3};
  s.stage = StageStatus{2, 10, 9, 1, {WorkerStatus{0, 123, true, 1, 9, 0.5, 0.7, 0}}, {"e1", "e2"}, 1, 0.4};
  SinkSummary sink;
  sink.expected = 5;
  sink.stages.push_back(StageMeasurement{1, 0.2, 0.3, 0.01, 0.5, 3072});
  s.sink = sink;
  const std::string line = record_line(s);
  CHECK(line.find('\n') == std::string::npos);
  const NodeStatus back = parse_record<NodeStatus>(line, "test");
  CHECK(back.confinement == s.confinement);
  CHECK(back.bad_frames == s.bad_frames);
  REQUIRE(back.source);
  CHECK(back.source->state == s.source->state);
  REQUIRE(back.stage);
  CHECK(back.stage->workers.at(0).pid == 123);
  CHECK(back.stage->group == std::vector<std::string>{"e1", "e2"});
  CHECK(back.stage->member == 1);
  CHECK(back.stage->share == 0.4);
  REQUIRE(back.sink);
  CHECK(back.sink->stages.at(0).bytes_in == 3072);
  NodeStatus bare;
  CHECK_FALSE(parse_record<NodeStatus>(record_line(bare), "test").sink.has_value());
}

TEST_CASE("records: a node's memory survives JSON, per process and summed, and reads strictly", "[runtime]") {
  NodeStatus s;
  s.memory.supervisor = ProcessMemory{12 << 20, 6 << 20, 5 << 20, 5 << 20, 7 << 20, 0};
  s.memory.workers.push_back(WorkerProcessMemory{4321, {0, 1, 2}, ProcessMemory{180 << 20, 90 << 20, 70 << 20, 72 << 20, 108 << 20, 1 << 20}, 190 << 20});
  s.memory.total = s.memory.supervisor;
  s.memory.total += s.memory.workers[0].memory;
  s.peak_rss_bytes = 202 << 20;
  const NodeStatus back = parse_record<NodeStatus>(record_line(s), "test");
  CHECK(back.memory.supervisor.uss_bytes == 5 << 20);
  REQUIRE(back.memory.workers.size() == 1);
  CHECK(back.memory.workers[0].pid == 4321);
  CHECK(back.memory.workers[0].replicas == std::vector<int>{0, 1, 2});
  CHECK(back.memory.workers[0].memory.swap_bytes == 1 << 20);
  CHECK(back.memory.workers[0].peak_rss_bytes == 190 << 20);
  CHECK(back.memory.total.pss_bytes == 96 << 20);
  CHECK(back.peak_rss_bytes == 202 << 20);
  // Strict: a status without a process's PSS is not a status.
  Json j = Json::parse(record_line(s));
  j["memory"]["workers"][0]["memory"].erase("pss_bytes");
  CHECK_THROWS_WITH(parse_record<NodeStatus>(j.dump(), "node gw"), Catch::StartsWith("node gw: not a valid hare record"));
  // The table hare-node status --memory prints.
  const std::string table = format_node_memory(back.memory);
  CHECK_THAT(table, Catch::Contains("worker           4321 0,1,2        180.0     90.0     70.0     72.0    108.0"));
  CHECK_THAT(table, Catch::Contains("node PSS 96.0 MB: what its 2 processes take together"));
}

TEST_CASE("records: a malformed or foreign record is an error naming its origin", "[runtime]") {
  CHECK_THROWS_WITH(parse_record<NodeStatus>("{\"node\": 1}", "node gw"), Catch::StartsWith("node gw: not a valid hare record"));
  CHECK_THROWS_WITH(parse_record<WorkerReport>("worker=0 ready=1", "a worker report"),
                    Catch::StartsWith("a worker report: not a valid hare record"));
}

TEST_CASE("control socket: status, start, stop and an unknown request", "[runtime]") {
  test::TempDir dir;
  zmq::context_t context(1);
  bool started = false, stopped = false;
  ControlServer server(context, control_endpoint(dir.path(), "gw"),
                       {[](bool footprint) {
                          NodeStatus s;
                          s.node = "gw";
                          s.ready = true;
                          if (footprint) s.memory.alone_bytes = 42;
                          return s;
                        },
                        [&] { started = true; }, [&] { stopped = true; }, {}, {}, {}});
  CHECK_FALSE(parse_record<NodeStatus>(server.answer("status"), "t").memory.alone_bytes.has_value());
  CHECK(parse_record<NodeStatus>(server.answer("footprint"), "t").memory.alone_bytes == 42);
  CHECK(parse_record<ControlReply>(server.answer("start"), "t").ok);
  CHECK(started);
  const ControlReply unknown = parse_record<ControlReply>(server.answer("reboot"), "t");
  CHECK_FALSE(unknown.ok);
  CHECK_THAT(unknown.error, Catch::Contains("unknown request"));
  CHECK_FALSE(stopped);

  // Over the socket: the server answers from another thread, as the loop would.
  std::thread serving([&] {
    zmq::pollitem_t item{server.socket().handle(), 0, ZMQ_POLLIN, 0};
    for (int answered = 0; answered < 2;) {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(2000)) <= 0) break;
      server.serve_pending();
      ++answered;
    }
  });
  const auto status = request_status(control_endpoint(dir.path(), "gw"), 2000);
  const auto stop = request_control(control_endpoint(dir.path(), "gw"), "stop", 2000);
  serving.join();
  REQUIRE(status);
  CHECK(status->node == "gw");
  CHECK(status->ready);
  REQUIRE(stop);
  CHECK(stop->ok);
  CHECK(stopped);
  // Nobody there: nothing, not an error.
  CHECK_FALSE(request_status(control_endpoint(dir.path(), "nobody"), 100).has_value());
}

TEST_CASE("control socket: 0600 whatever the umask, so no other user can connect to it", "[runtime]") {
  test::TempDir dir;
  const std::string run = dir.file("run");
  zmq::context_t context(1);
  std::optional<ControlServer> server;
  {
    // The umask only while binding: the context's I/O thread creates no files.
    test::ScopedUmask open_umask(0000);
    make_private_dir(run);
    server.emplace(context, control_endpoint(run, "gw"), ControlServer::Handlers{[](bool) { return NodeStatus{}; }, [] {}, [] {}, {}, {}, {}});
  }
  const std::string socket = run + "/gw.ctl";
  CHECK(test::mode_of(run) == 0700);
  CHECK(test::mode_of(socket) == 0600);
  CHECK(test::unix_connect_error(socket) == 0);  // its owner can
  // Another user cannot, through the 0700 directory...
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  CHECK(test::run_as_other_user([&] { return test::unix_connect_error(socket); }) == EACCES);
  // ...nor with the directory open to it (an existing 0755 run directory is
  // accepted): the socket's own mode stops it.
  REQUIRE(::chmod(run.c_str(), 0755) == 0);
  CHECK(test::run_as_other_user([&] { return ::access(run.c_str(), X_OK) == 0 ? 0 : -2; }) == 0);
  CHECK(test::run_as_other_user([&] { return test::unix_connect_error(socket); }) == EACCES);
  // hare-node status|signal as that user: told why, not "does not answer".
  CHECK(test::run_as_other_user([&] {
          const auto messages = test::error_messages([&] { request_control(control_endpoint(run, "gw"), "stop", 200); });
          return messages == std::vector<std::string>{"control socket " + socket +
                                                      ": permission denied: the node runs as another user; ask as "
                                                      "that user"}
                     ? 0
                     : 4;
        }) == 0);
}

TEST_CASE("control socket: switch names its plan directory, ack takes a sequence number, and refusals are replies",
          "[runtime]") {
  test::TempDir dir;
  zmq::context_t context(1);
  std::vector<std::string> switched;
  std::vector<SinkAck> acked;
  std::vector<bool> paused;
  ControlServer server(context, control_endpoint(dir.path(), "gw"),
                       {[](bool) { return NodeStatus{}; }, [] {}, [] {},
                        [&](const std::string& plan_dir) -> std::string {
                          switched.push_back(plan_dir);
                          return plan_dir == "/plans/bad" ? "switch to /plans/bad: no plan.yaml; node gw keeps plan /plans/a"
                                                          : "";
                        },
                        [&](const SinkAck& ack) -> std::string {
                          acked.push_back(ack);
                          return "";
                        },
                        [&](bool pause) -> std::string {
                          paused.push_back(pause);
                          return "";
                        }});
  const ControlReply ok = parse_record<ControlReply>(server.answer("switch /plans/with space"), "t");
  CHECK(ok.ok);
  CHECK(ok.error.empty());
  const ControlReply bad = parse_record<ControlReply>(server.answer("switch /plans/bad"), "t");
  CHECK_FALSE(bad.ok);
  CHECK(bad.error == "switch to /plans/bad: no plan.yaml; node gw keeps plan /plans/a");
  CHECK(switched == std::vector<std::string>{"/plans/with space", "/plans/bad"});
  CHECK_THAT(parse_record<ControlReply>(server.answer("switch "), "t").error, Catch::Contains("give the plan directory"));

  CHECK(parse_record<ControlReply>(server.answer("ack 120"), "t").ok);
  // The missing windows below it, ascending: as ack_request writes them.
  CHECK(parse_record<ControlReply>(server.answer(ack_request(SinkAck{130, {7, 121, 129}})), "t").ok);
  for (const char* garbage : {"ack ", "ack -1", "ack 12x", "ack 99999999999999999999999", "ack 10 10", "ack 10 5 3",
                              "ack 10 4 4", "ack 10  4", "ack 10 4 ", "ack 10 x"}) {
    INFO(garbage);
    const ControlReply refused = parse_record<ControlReply>(server.answer(garbage), "t");
    CHECK_FALSE(refused.ok);
    CHECK_THAT(refused.error, Catch::Contains("is not a sequence number"));
  }
  CHECK(parse_record<ControlReply>(server.answer("pause"), "t").ok);
  CHECK(parse_record<ControlReply>(server.answer("resume"), "t").ok);
  CHECK(paused == std::vector<bool>{true, false});
  REQUIRE(acked.size() == 2);
  CHECK(acked[0].next_sequence == 120);
  CHECK(acked[0].missing.empty());
  CHECK(acked[1].next_sequence == 130);
  CHECK(acked[1].missing == std::vector<uint64_t>{7, 121, 129});

  // A node built without the handlers says so instead of pretending.
  ControlServer plain(context, control_endpoint(dir.path(), "e1"),
                      {[](bool) { return NodeStatus{}; }, [] {}, [] {}, {}, {}, {}});
  CHECK(parse_record<ControlReply>(plain.answer("switch /plans/a"), "t").error == "this node does not switch plans");
  CHECK(parse_record<ControlReply>(plain.answer("ack 3"), "t").error == "this node takes no acks");
  CHECK(parse_record<ControlReply>(plain.answer("pause"), "t").error == "this node has no source to pause");
}
