// The runtime end to end on this machine: hare-partition writes a plan for
// three local nodes, hare-deploy local runs it on real recordings, and the
// sink's predictions are compared with the whole model's on the same windows.

#include "torch_test.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <yaml-cpp/yaml.h>
#include <zmq.hpp>

#include "artifacts/plan_dir.h"
#include "data/dataset.h"
#include "data/model_card.h"
#include "data/normalization.h"
#include "model/torch_boundary.h"
#include "runtime/frame.h"
#include "test_util.h"

using namespace hare;
namespace fs = std::filesystem;

namespace {

// A port range of its own, so tests can run in parallel.
int base_port() {
  static const int port = 20000 + static_cast<int>(::getpid() % 2000) * 10;
  return port;
}

// hare-partition on this cluster config, with the shipped profiles: the plan directory.
std::string make_plan(const test::TempDir& dir, const std::string& cluster) {
  test::write_text(dir.file("c.yaml"), cluster);
  const std::string plan = dir.file("plan");
  const auto result = test::run(test::tool_path("hare-partition") + " --model " + test::source_path("models/hare-cnn.pt") +
                                " --profiles " + test::source_path("profiles") + " --cluster " + dir.file("c.yaml") +
                                " --check-data " + test::source_path("data/mhealth/subject08.tsv.gz") + " --base-port " +
                                std::to_string(base_port()) + " --out " + plan);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  return plan;
}

// A 3-node cluster whose pins force three stages: conv1..conv2, conv3..pool, fc1..out.
std::string three_node_plan(const test::TempDir& dir, const std::string& codec = "float32") {
  return make_plan(dir, R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
  - {name: e1, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
  - {name: e2, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5, codec: )" + codec + R"(}
source: gw
pins:
  - {layers: conv1..conv2, node: gw}
  - {layers: conv3..pool, node: e1}
  - {layers: fc1..out, node: e2}
)");
}

// The whole model on the first `n` windows of a recording, prepared as the
// source prepares them: the predicted class and the label, by name.
struct WholeModelRun {
  std::vector<std::string> predicted;
  std::vector<std::string> labels;
};
WholeModelRun whole_model_on(const std::string& plan, const std::string& recording, size_t n) {
  const data::ModelCard card = data::read_model_card(plan + "/model.yaml");
  data::ReadOptions options;
  options.channels = card.channels;
  data::WindowSet windows = data::make_all_windows(data::read_recordings({recording}, "", options),
                                                   {card.window_samples, card.step_samples, card.purity});
  data::apply_normalization(card.normalization, windows);
  torch::jit::Module model = model::load_module(test::source_path("models/hare-cnn.pt"));
  c10::InferenceMode inference;
  WholeModelRun out;
  for (size_t i = 0; i < n; ++i) {
    const at::Tensor x = torch::from_blob(const_cast<float*>(windows.window_data(i)), {1, card.num_channels(), card.window_samples});
    out.predicted.push_back(card.classes[static_cast<size_t>(model.forward({x}).toTensor().argmax(1).item<int64_t>())]);
    out.labels.push_back(card.classes[static_cast<size_t>(windows.labels[i])]);
  }
  return out;
}

std::vector<YAML::Node> read_lines(const std::string& path) {
  std::vector<YAML::Node> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(YAML::Load(line));
  return out;
}

bool any_process_mentions(const std::string& text) {
  // "[h]are" matches hare-node processes but not this pgrep's own shell.
  return test::run("pgrep -f '[h]are-node .*" + text + "'").exit_code == 0;
}

}  // namespace

TEST_CASE("a 3-node local pipeline delivers every window once, with the whole model's predictions", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  const std::string recording = test::source_path("data/mhealth/subject08.tsv.gz");
  const auto deployed = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " + recording +
                                  " --speed 0 --limit 200 --timeout 120 --run-dir " + run);
  INFO(deployed.err);
  REQUIRE(deployed.exit_code == 0);
  CHECK_THAT(deployed.out, Catch::Contains("windows: sent 200, received 200, lost 0, duplicated 0"));

  const auto lines = read_lines(run + "/gw.predictions.jsonl");
  REQUIRE(lines.size() == 200);
  const WholeModelRun whole = whole_model_on(plan, recording, lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    INFO("line " << i);
    REQUIRE(lines[i]["sequence"].as<size_t>() == i);  // in order, exactly once
    CHECK(lines[i]["predicted"].as<std::string>() == whole.predicted[i]);
    CHECK(lines[i]["label"].as<std::string>() == whole.labels[i]);
  }
  CHECK_FALSE(any_process_mentions(run));  // nothing left running
}

TEST_CASE("int8 links carry a quarter of the bytes and keep the predictions", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir, "int8");
  const YAML::Node doc = YAML::LoadFile(plan + "/plan.yaml");
  CHECK(doc["stages"][1]["codec_in"].as<std::string>() == "int8");
  CHECK(doc["equivalence_check"]["with_codecs"]["argmax_agreement"].as<double>() >= 0.97);
  const std::string run = dir.file("run");
  const auto deployed = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                                  test::source_path("data/mhealth/subject08.tsv.gz") +
                                  " --speed 0 --limit 200 --timeout 120 --run-dir " + run);
  INFO(deployed.err);
  REQUIRE(deployed.exit_code == 0);
  CHECK_THAT(deployed.out, Catch::Contains("windows: sent 200, received 200, lost 0"));
  const YAML::Node summary = YAML::LoadFile(run + "/gw.summary.json");
  CHECK(summary["stages"][0]["bytes_in"].as<double>() == 3072);      // the source is on gw: no link
  CHECK(summary["stages"][1]["bytes_in"].as<double>() == 8192 / 4 + 4);  // conv2's output, int8 with its scale
  CHECK(summary["bytes_to_sink"].as<double>() == 48 / 4 + 4);
  // The predictions: the whole model's on at least 97% of the windows (the
  // equivalence check's bar for int8).
  const auto lines = read_lines(run + "/gw.predictions.jsonl");
  REQUIRE(lines.size() == 200);
  const WholeModelRun whole = whole_model_on(plan, test::source_path("data/mhealth/subject08.tsv.gz"), lines.size());
  int agree = 0;
  for (size_t i = 0; i < lines.size(); ++i) agree += lines[i]["predicted"].as<std::string>() == whole.predicted[i] ? 1 : 0;
  CHECK(agree >= 194);
}

TEST_CASE("a killed worker is restarted, the sink counts the loss, and nothing hangs", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  const std::string command = test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                              test::source_path("data/mhealth/subject08.tsv.gz") +
                              " --speed 100 --limit 400 --timeout 120 --run-dir " + run + " >" + dir.file("out") +
                              " 2>" + dir.file("err");
  std::thread deploy([&] { std::system(command.c_str()); });
  // Wait until e1 streams, then kill its worker.
  int worker_pid = 0;
  for (int i = 0; i < 1200 && worker_pid == 0; ++i) {  // up to a minute: nodes start slowly on a loaded machine
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto status = test::run(test::tool_path("hare-node") + " status --run-dir " + run + " --node e1");
    if (status.exit_code != 0) continue;
    const YAML::Node s = YAML::Load(status.out);
    if (s["stage"]["processed"].as<long long>() > 20) worker_pid = s["stage"]["workers"][0]["pid"].as<int>();
  }
  REQUIRE(worker_pid > 0);
  REQUIRE(::kill(worker_pid, SIGKILL) == 0);
  deploy.join();
  std::ifstream out_file(dir.file("out"));
  const std::string out((std::istreambuf_iterator<char>(out_file)), {});
  INFO(out);
  CHECK_THAT(out, Catch::Contains("windows: sent 400, received"));
  std::ifstream log_file(run + "/e1.log");
  const std::string log((std::istreambuf_iterator<char>(log_file)), {});
  CHECK_THAT(log, Catch::Contains("was killed by signal 9; restarting it (1/5)"));
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("garbage, truncated and oversized frames do not stop a node", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  // Only e1 (stage 2) runs; its output queues for e2, which is not there.
  const std::string command = test::tool_path("hare-node") + " run --plan " + plan + " --node e1 --run-dir " + run +
                              " 2>" + dir.file("err") + " & echo $!";
  const auto started = test::run(command);
  const int pid = std::stoi(started.out);
  auto status = [&] {
    for (int i = 0; i < 100; ++i) {
      const auto s = test::run(test::tool_path("hare-node") + " status --run-dir " + run + " --node e1");
      if (s.exit_code == 0) return YAML::Load(s.out);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("node does not answer");
    return YAML::Node();
  };
  // Ready: its worker has loaded the slice (slow on a loaded machine).
  for (int i = 0; i < 600 && !status()["ready"].as<bool>(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  zmq::context_t context(1);
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 1000);
  push.connect("tcp://127.0.0.1:" + std::to_string(base_port() + 1));
  push.send(zmq::str_buffer("garbage"), zmq::send_flags::none);
  std::vector<uint8_t> big(1 << 20, 0x55);
  push.send(zmq::buffer(big), zmq::send_flags::none);
  runtime::FrameHeader h;
  h.destination = 2;
  h.shape = {1, 64, 32};
  std::vector<float> payload(64 * 32, 0.5f);
  const auto good = runtime::encode(h, payload.data(), payload.size() * 4);
  push.send(zmq::buffer(good.data(), good.size() / 2), zmq::send_flags::none);  // truncated
  h.shape = {1, 64, 1 << 20};
  auto oversized = runtime::encode(h, payload.data(), payload.size() * 4);  // claims far more than it carries
  push.send(zmq::buffer(oversized), zmq::send_flags::none);
  h.shape = {1, 64, 32};
  push.send(zmq::buffer(good), zmq::send_flags::none);  // and one good frame
  YAML::Node s;
  for (int i = 0; i < 100; ++i) {
    s = status();
    if (s["stage"]["processed"].as<long long>() >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(s["bad_frames_total"].as<long long>() == 4);
  CHECK(s["stage"]["processed"].as<long long>() == 1);  // it kept serving
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("a node that fails to start stops the whole deployment, leaving nothing behind", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  // Someone else holds e2's port.
  zmq::context_t context(1);
  zmq::socket_t squatter(context, zmq::socket_type::pull);
  squatter.bind("tcp://127.0.0.1:" + std::to_string(base_port() + 2));
  const auto result = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                                test::source_path("data/mhealth/subject08.tsv.gz") + " --timeout 60 --run-dir " + run);
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("hare-deploy: error: node e2 failed to start"));
  CHECK_THAT(result.err, Catch::Contains("cannot listen on tcp://127.0.0.1:" + std::to_string(base_port() + 2)));
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("an emulated device's worker takes its time factor times as long", "[runtime]") {
  test::TempDir dir;
  const std::string plan = make_plan(dir, R"(format: hare-cluster/1
devices:
  slow-board: {profile: amd-epyc-2c, time_factor: 6}
nodes:
  - {name: gw, device: slow-board, cores: 1, mem_bytes: 2GiB}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5}
source: gw
)");
  const YAML::Node doc = YAML::LoadFile(plan + "/plan.yaml");
  CHECK(doc["nodes"][0]["time_factor"].as<double>() == 6.0);
  const double profiled = doc["stages"][0]["compute_ms"].as<double>() / 6.0;  // this machine's own time
  const std::string run = dir.file("run");
  const auto deployed = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                                  test::source_path("data/mhealth/subject08.tsv.gz") +
                                  " --speed 0 --limit 100 --timeout 120 --run-dir " + run);
  INFO(deployed.err);
  REQUIRE(deployed.exit_code == 0);
  const YAML::Node summary = YAML::LoadFile(run + "/gw.summary.json");
  const double measured = summary["stages"][0]["compute_ms_p50"].as<double>();
  // At least 6x what the work itself takes here; a worker that ignored the
  // factor would measure about 1x.
  CHECK(measured > 4.0 * profiled);
  CHECK(measured < 20.0 * profiled);
  CHECK(summary["received"].as<int>() == 100);
}

TEST_CASE("a stage whose worker fails at every start fails the run at once, naming node and stage", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  // e1's slice is no model (its manifest made anew, as a hand edit would):
  // the worker exits at every start.
  test::write_text(plan + "/slices/stage-2.pt", "not a TorchScript model");
  artifacts::seal_plan_dir(plan);
  const std::string run = dir.file("run");
  const auto started = std::chrono::steady_clock::now();
  const auto result = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                                test::source_path("data/mhealth/subject08.tsv.gz") + " --timeout 120 --run-dir " + run);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.err, Catch::Contains("hare-deploy: error: node e1 failed to start"));
  CHECK_THAT(result.err, Catch::Contains("node e1: stage 2 has no live worker: worker 0"));
  CHECK_THAT(result.err, Catch::Contains("restarted 5 times already"));
  CHECK(seconds < 60.0);  // not the 60 s start timeout
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("a run directory too deep for a socket path is refused before anything starts", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file(std::string(120, 'r'));
  const auto result = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                                test::source_path("data/mhealth/subject08.tsv.gz") + " --run-dir " + run);
  CHECK(result.exit_code == 2);
  CHECK_THAT(result.err, Catch::Contains("is too deep: the socket"));
  CHECK_THAT(result.err, Catch::Contains("give a shorter --run-dir"));
  CHECK_FALSE(fs::exists(run));  // not even the directory
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("a source that fails on another node than the sink ends the run at once", "[runtime]") {
  test::TempDir dir;
  // The source on gw, the sink on e2.
  const std::string plan = make_plan(dir, R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
  - {name: e2, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5}
source: gw
sink: e2
pins:
  - {layers: conv1..out, node: e2}
)");
  // A recording shorter than one window.
  const auto head = test::run("zcat " + test::source_path("data/mhealth/subject08.tsv.gz") + " | head -n 20");
  test::write_text(dir.file("short.tsv"), head.out);
  const std::string run = dir.file("run");
  const auto started = std::chrono::steady_clock::now();
  const auto result = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --spec mhealth-tsv --data " +
                                dir.file("short.tsv") + " --timeout 120 --run-dir " + run);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CHECK(result.exit_code != 0);
  CHECK_THAT(result.err, Catch::Contains("the source on node gw failed"));
  CHECK(seconds < 60.0);  // not the whole --timeout
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("hare-deploy local killed with SIGKILL takes its nodes and workers with it", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  const auto started = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " +
                                 test::source_path("data/mhealth/subject08.tsv.gz") + " --speed 1 --run-dir " + run +
                                 " >/dev/null 2>&1 & echo $!");
  const int pid = std::stoi(started.out);
  // Until every node is up (its control socket answers).
  for (int i = 0; i < 600; ++i) {
    if (test::run(test::tool_path("hare-node") + " status --run-dir " + run + " --node gw").exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(any_process_mentions(run));
  REQUIRE(::kill(pid, SIGKILL) == 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = !any_process_mentions(run);
  }
  CHECK(gone);
}

TEST_CASE("SIGTERM stops a node in order: exit 130, workers reaped, no internal error", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  const std::string node = test::tool_path("hare-node");
  const auto result = test::run(node + " run --plan " + plan + " --node e1 --run-dir " + run + " 2>" + dir.file("err") +
                                " & p=$!; for i in $(seq 1 600); do " + node + " status --run-dir " + run +
                                " --node e1 2>/dev/null | grep -q '\"ready\":true' && break; sleep 0.1; done; "
                                "kill -TERM $p; wait $p; echo $?");
  std::ifstream err_file(dir.file("err"));
  const std::string err((std::istreambuf_iterator<char>(err_file)), {});
  INFO(err);
  CHECK(result.out == "130\n");
  CHECK_THAT(err, Catch::Contains("node e1: stopping"));
  CHECK_THAT(err, !Catch::Contains("terminate called") && !Catch::Contains("internal error"));
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("a slice swapped while its node runs is refused at the worker's restart, naming the file", "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  const std::string node = test::tool_path("hare-node");
  // Only e1 (stage 2) runs.
  const auto started = test::run(node + " run --plan " + plan + " --node e1 --run-dir " + run + " 2>" + dir.file("err") +
                                 " & echo $!");
  const int pid = std::stoi(started.out);
  int worker_pid = 0;
  for (int i = 0; i < 600 && worker_pid == 0; ++i) {  // its worker has loaded the slice (slow on a loaded machine)
    const auto status = test::run(node + " status --run-dir " + run + " --node e1");
    if (status.exit_code == 0) {
      const YAML::Node s = YAML::Load(status.out);
      if (s["ready"].as<bool>()) worker_pid = s["stage"]["workers"][0]["pid"].as<int>();
    }
    if (worker_pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(worker_pid > 0);
  // The issue's case: another loadable model in its place (stage 3's slice),
  // which a restarted worker used to load without a check.
  fs::copy_file(plan + "/slices/stage-3.pt", plan + "/slices/stage-2.pt", fs::copy_options::overwrite_existing);
  REQUIRE(::kill(worker_pid, SIGKILL) == 0);
  // Every restart refuses the file; the node gives up on the stage and exits.
  for (int i = 0; i < 1200 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::ifstream err_file(dir.file("err"));
  const std::string err((std::istreambuf_iterator<char>(err_file)), {});
  INFO(err);
  CHECK(::kill(pid, 0) != 0);
  CHECK_THAT(err, Catch::Contains("slices/stage-2.pt: SHA-256 ") && Catch::Contains("is not the plan manifest's"));
  CHECK_THAT(err, Catch::Contains("refusing to load it"));
  CHECK_THAT(err, Catch::Contains("node e1: stage 2 has no live worker"));
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("a run directory another user made first, or a symlink, is refused, and so is a planted predictions link",
          "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string recording = test::source_path("data/mhealth/subject08.tsv.gz");

  // Another user took the run directory's name first (as /tmp/hare-<node>
  // can be): hare-node refuses it and changes nothing in it.
  const std::string taken = dir.file("hare-e1");
  test::make_dir(taken, 0755);
  test::write_text(taken + "/e1.ctl", "planted");
  REQUIRE(::chown(taken.c_str(), test::kOtherUid, test::kOtherUid) == 0);
  // (timeout: a node that wrongly accepts the directory runs until stopped)
  const auto node =
      test::run("timeout 60 " + test::tool_path("hare-node") + " run --plan " + plan + " --node e1 --run-dir " + taken);
  CHECK(node.exit_code == 2);
  CHECK(node.err == "hare-node: error: " + taken + ": not used as a run directory: it is owned by uid 65534, not by you (uid " +
                        std::to_string(::geteuid()) +
                        "): another user may have made it first; remove it or choose another directory\n");
  CHECK(test::mode_of(taken) == 0755);
  CHECK(read_lines(taken + "/e1.ctl").size() == 1);
  CHECK(std::distance(fs::directory_iterator(taken), fs::directory_iterator()) == 1);

  // A run directory that is a symlink to another directory.
  const std::string elsewhere = dir.file("elsewhere");
  test::make_dir(elsewhere, 0755);
  const std::string linked = dir.file("linked-run");
  REQUIRE(::symlink(elsewhere.c_str(), linked.c_str()) == 0);
  const auto deployed = test::run(test::tool_path("hare-deploy") + " local --plan " + plan + " --data " + recording +
                                  " --limit 10 --timeout 60 --run-dir " + linked);
  CHECK(deployed.exit_code == 2);
  CHECK_THAT(deployed.err, Catch::Contains("it is a symbolic link (to " + elsewhere + ")"));
  CHECK(fs::is_empty(elsewhere));
  CHECK_FALSE(any_process_mentions(linked));

  // A symlink planted at the sink's predictions path: the sink's node
  // refuses to start, the link's target keeps its content. The logs hare
  // writes meanwhile are 0600 whatever the umask.
  const std::string run = dir.file("run");
  test::make_dir(run, 0700);
  test::write_text(dir.file("precious"), "precious\n");
  REQUIRE(::symlink(dir.file("precious").c_str(), (run + "/gw.predictions.jsonl").c_str()) == 0);
  const auto planted = test::run("umask 0000; " + test::tool_path("hare-deploy") + " local --plan " + plan +
                                 " --data " + recording + " --limit 10 --timeout 60 --run-dir " + run);
  CHECK(planted.exit_code == 1);
  CHECK_THAT(planted.err, Catch::Contains("node gw failed to start: it exited with code 2: hare-node: error: " + run +
                                          "/gw.predictions.jsonl: is a symbolic link"));
  CHECK(read_lines(dir.file("precious")).size() == 1);
  CHECK(test::mode_of(run + "/gw.log") == 0600);
  CHECK(test::mode_of(run + "/e1.log") == 0600);
  CHECK_FALSE(any_process_mentions(run));
}

TEST_CASE("under umask 0000 a node's run directory is 0700 and its sockets and files 0600: no other user reaches it",
          "[runtime]") {
  test::TempDir dir;
  const std::string plan = three_node_plan(dir);
  const std::string run = dir.file("run");
  const std::string node = test::tool_path("hare-node");
  // gw: source (waiting for "start"), stage 1 and sink.
  const auto started = test::run("umask 0000; " + node + " run --plan " + plan + " --node gw --run-dir " + run +
                                 " --wait-start --data " + test::source_path("data/mhealth/subject08.tsv.gz") + " 2>" +
                                 dir.file("err") + " & echo $!");
  const int pid = std::stoi(started.out);
  bool answers = false;
  for (int i = 0; i < 600 && !answers; ++i) {
    answers = test::run(node + " status --run-dir " + run + " --node gw").exit_code == 0;
    if (!answers) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(answers);
  CHECK(test::mode_of(run) == 0700);
  for (const char* suffix : {".ctl", ".work", ".stats", ".predictions.jsonl"}) {
    INFO(suffix);
    CHECK(test::mode_of(run + "/gw" + suffix) == 0600);
  }
  // Another user, even with the directories above open to it, cannot
  // connect to the control socket (and so cannot stop the node).
  REQUIRE(::chmod(dir.path().c_str(), 0755) == 0);
  const std::string control = run + "/gw.ctl";
  CHECK(test::run_as_other_user([&] { return test::unix_connect_error(control); }) == EACCES);
  CHECK(test::run(node + " signal --run-dir " + run + " --node gw stop").exit_code == 0);
  for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(::kill(pid, 0) != 0);
  CHECK(test::mode_of(run + "/gw.summary.json") == 0600);
  CHECK_FALSE(any_process_mentions(run));
}
