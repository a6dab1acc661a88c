// The worker pool's policy with a fake launcher: no processes, no torch.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "runtime/worker_pool.h"

using namespace hare::runtime;

namespace {

// Hands out pids; a worker "exits" when the test says so, or when signalled.
class FakeLauncher : public WorkerLauncher {
 public:
  pid_t launch(int process, const std::vector<int>& replicas) override {
    if (failing_starts > 0) {
      --failing_starts;
      throw hare::failure("cannot run /x/hare-worker: No such file or directory");
    }
    const pid_t pid = next_pid_++;
    launched.emplace_back(process, pid);
    launched_replicas.push_back(replicas);
    return pid;
  }
  void signal(pid_t pid, int sig) override {
    signals.emplace_back(pid, sig);
    // This fake's workers obey SIGTERM only when told to.
    if (sig == SIGKILL || (sig == SIGTERM && obey_term)) exit(pid, sig == SIGKILL ? 9 : 0);
  }
  std::vector<std::pair<pid_t, int>> reap() override { return std::exchange(exited_, {}); }

  // The worker with this pid exits with `code` (or is killed when code > 128).
  void exit(pid_t pid, int code) { exited_.emplace_back(pid, code == 9 ? SIGKILL : (code << 8)); }

  std::vector<std::pair<int, pid_t>> launched;  // (process, pid)
  std::vector<std::vector<int>> launched_replicas;  // what each launch runs
  std::vector<std::pair<pid_t, int>> signals;
  bool obey_term = true;
  int failing_starts = 0;  // the next starts that fail

 private:
  pid_t next_pid_ = 1000;
  std::vector<std::pair<pid_t, int>> exited_;
};

WorkerReport report(int worker, pid_t pid, long long windows) {
  WorkerReport r;
  r.worker = worker;
  r.pid = pid;
  r.ready = true;
  r.windows = windows;
  r.peak_rss_bytes = 100;
  return r;
}

// One process per replica: the pool as it was before replicas became threads.
ReplicaGroups separate(int replicas) { return replica_groups(replicas, true); }

}  // namespace

TEST_CASE("worker pool: ready once every replica reported", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", separate(2), launcher);
  pool.start();
  REQUIRE(launcher.launched.size() == 2);
  CHECK_FALSE(pool.ready());
  pool.on_report(report(0, launcher.launched[0].second, 0));
  CHECK_FALSE(pool.ready());
  pool.on_report(report(1, launcher.launched[1].second, 0));
  CHECK(pool.ready());
  CHECK(pool.alive() == 2);
  CHECK(pool.peak_rss_bytes() == 200);
}

TEST_CASE("worker pool: a crashed worker is restarted up to the policy, then given up", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", separate(1), launcher, RestartPolicy{2});
  pool.start();
  pool.on_report(report(0, launcher.launched.back().second, 10));
  for (int crash = 1; crash <= 2; ++crash) {
    launcher.exit(launcher.launched.back().second, 1);
    pool.reap();
    REQUIRE(launcher.launched.size() == static_cast<size_t>(1 + crash));  // restarted
    CHECK(pool.alive() == 1);
    CHECK_FALSE(pool.ready());  // the new incarnation has not reported yet
    pool.on_report(report(0, launcher.launched.back().second, 5));
  }
  // Windows of every incarnation count: 10, then 5 and 5.
  CHECK(pool.processed() == 20);
  CHECK(pool.status()[0].restarts == 2);
  launcher.exit(launcher.launched.back().second, 9);
  pool.reap();
  CHECK(launcher.launched.size() == 3);  // not again
  CHECK(pool.alive() == 0);
  CHECK(pool.given_up() == 1);
  CHECK_FALSE(pool.status()[0].alive);
}

TEST_CASE("worker pool: a report from an incarnation that already died is ignored", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", separate(1), launcher);
  pool.start();
  const pid_t first = launcher.launched.back().second;
  launcher.exit(first, 1);
  pool.reap();
  pool.on_report(report(0, first, 99));  // late, from the dead one
  CHECK_FALSE(pool.ready());
  CHECK(pool.processed() == 0);
  pool.on_report(report(7, launcher.launched.back().second, 1));  // no such worker
  CHECK(pool.processed() == 0);
}

TEST_CASE("worker pool: stop asks first, then kills, and restarts nothing", "[runtime]") {
  FakeLauncher launcher;
  launcher.obey_term = false;
  WorkerPool pool("n", separate(2), launcher);
  pool.start();
  pool.stop(std::chrono::milliseconds(30));
  CHECK(pool.alive() == 0);
  CHECK(launcher.launched.size() == 2);  // nothing restarted while stopping
  std::map<int, int> by_signal;
  for (const auto& [pid, sig] : launcher.signals) ++by_signal[sig];
  CHECK(by_signal[SIGTERM] == 2);
  CHECK(by_signal[SIGKILL] == 2);
}

TEST_CASE("worker pool: a restart that cannot start uses a restart, and others exiting together are all recorded", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", separate(2), launcher, RestartPolicy{3});
  pool.start();
  for (int w = 0; w < 2; ++w) pool.on_report(report(w, launcher.launched[static_cast<size_t>(w)].second, 1));
  REQUIRE(pool.ready());
  // Both die at once; the next two starts fail.
  launcher.exit(launcher.launched[0].second, 1);
  launcher.exit(launcher.launched[1].second, 1);
  launcher.failing_starts = 2;
  pool.reap();
  CHECK(pool.alive() == 2);  // each restarted after failed attempts
  CHECK_FALSE(pool.ready());
  const auto status = pool.status();
  CHECK(status[0].restarts + status[1].restarts == 4);  // 2 crashes + 2 failed starts
  CHECK(launcher.launched.size() == 4);
  // Starts that never succeed: the worker is given up, not retried forever.
  launcher.exit(launcher.launched.back().second, 1);
  launcher.failing_starts = 100;
  pool.reap();
  CHECK(pool.given_up() == 1);
  CHECK_THAT(pool.last_exit(), Catch::Contains("could not be started") && Catch::Contains("restarted 3 times already"));
}

TEST_CASE("worker pool: a worker given up is not ready, and its last reports are ignored", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", separate(1), launcher, RestartPolicy{0});
  pool.start();
  const pid_t pid = launcher.launched.back().second;
  pool.on_report(report(0, pid, 3));
  REQUIRE(pool.ready());
  launcher.exit(pid, 1);
  pool.reap();
  CHECK(pool.given_up() == 1);
  CHECK_FALSE(pool.ready());
  pool.on_report(report(0, pid, 50));  // queued before it died
  CHECK_FALSE(pool.ready());
  CHECK(pool.processed() == 3);
}

TEST_CASE("replica groups: all replicas in one process, or one process each", "[runtime]") {
  CHECK(replica_groups(3, false) == ReplicaGroups{{0, 1, 2}});
  CHECK(replica_groups(3, true) == ReplicaGroups{{0}, {1}, {2}});
  CHECK(replica_groups(1, false) == ReplicaGroups{{0}});
  CHECK(replica_groups(0, false) == ReplicaGroups{{0}});  // a stage the plan gives no replicas runs one
  CHECK(worker_process_name({2}) == "worker 2");
  CHECK(worker_process_name({0, 1, 2}) == "worker process of replicas 0,1,2");
}

TEST_CASE("worker pool: replicas as threads of one process start, report and are ready together", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", replica_groups(3, false), launcher);
  pool.start();
  REQUIRE(launcher.launched.size() == 1);  // one process
  CHECK(launcher.launched_replicas[0] == std::vector<int>{0, 1, 2});
  const pid_t pid = launcher.launched[0].second;
  CHECK(pool.alive() == 1);
  for (int r = 0; r < 3; ++r) {
    CHECK_FALSE(pool.ready());
    pool.on_report(report(r, pid, 10 * (r + 1)));
  }
  CHECK(pool.ready());
  CHECK(pool.processed() == 60);
  const auto status = pool.status();
  REQUIRE(status.size() == 3);
  for (const WorkerStatus& s : status) {
    CHECK(s.pid == pid);
    CHECK(s.alive);
  }
  CHECK(status[2].windows == 30);
  // The process's peak counts once, not once per replica that reports it.
  CHECK(pool.peak_rss_bytes() == 100);
  const auto processes = pool.processes();
  REQUIRE(processes.size() == 1);
  CHECK(processes[0].pid == pid);
  CHECK(processes[0].replicas == std::vector<int>{0, 1, 2});
}

TEST_CASE("worker pool: a multi-replica process that dies is restarted with all its replicas, then given up", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", replica_groups(2, false), launcher, RestartPolicy{1});
  pool.start();
  const pid_t first = launcher.launched.back().second;
  pool.on_report(report(0, first, 7));
  pool.on_report(report(1, first, 5));
  REQUIRE(pool.ready());
  launcher.exit(first, 9);
  pool.reap();
  REQUIRE(launcher.launched.size() == 2);  // one restart, of the whole process
  CHECK(launcher.launched_replicas[1] == std::vector<int>{0, 1});
  const pid_t second = launcher.launched.back().second;
  CHECK_FALSE(pool.ready());  // neither replica has reported since
  pool.on_report(report(0, second, 1));
  CHECK_FALSE(pool.ready());
  pool.on_report(report(1, first, 50));  // queued by the dead incarnation: ignored
  CHECK_FALSE(pool.ready());
  pool.on_report(report(1, second, 2));
  CHECK(pool.ready());
  CHECK(pool.processed() == 7 + 5 + 1 + 2);  // every incarnation's windows
  for (const WorkerStatus& s : pool.status()) {
    CHECK(s.pid == second);
    CHECK(s.restarts == 1);
  }
  launcher.exit(second, 1);
  pool.reap();
  CHECK(launcher.launched.size() == 2);  // restarts used up
  CHECK(pool.alive() == 0);
  CHECK(pool.given_up() == 1);
  CHECK_THAT(pool.last_exit(), Catch::StartsWith("worker process of replicas 0,1 (pid " + std::to_string(second) +
                                                 ") exited with code 1") &&
                                   Catch::EndsWith("restarted 1 times already"));
  for (const WorkerStatus& s : pool.status()) CHECK_FALSE(s.alive);
}

TEST_CASE("worker pool: stopping a multi-replica process signals it once", "[runtime]") {
  FakeLauncher launcher;
  WorkerPool pool("n", replica_groups(3, false), launcher);
  pool.start();
  pool.stop(std::chrono::milliseconds(30));
  CHECK(pool.alive() == 0);
  REQUIRE(launcher.signals.size() == 1);
  CHECK(launcher.signals[0] == std::make_pair(launcher.launched[0].second, SIGTERM));
}

TEST_CASE("a worker's command line names every member of the next group with its share and codec, and no secret",
          "[runtime]") {
  Cgroups cgroups("worker-pool-test");
  StageSpec stage;
  stage.index = 1;
  stage.slice_path = "/plan/slices/stage-1.pt";
  stage.slice_sha256 = std::string(64, 'a');
  stage.next_destination = 2;
  stage.member = 1;
  stage.sends_to = {Destination{"tcp://10.0.0.2:5551", "e1", 0.6, hare::Codec::float16},
                    Destination{"tcp://10.0.0.3:5552", "e2", 0.4, hare::Codec::int8}};
  const ProcessLauncher::Endpoints endpoints{"ipc:///run/gw.work", "ipc:///run/gw.stats"};
  const ProcessLauncher group(std::string("gw"), stage, {"hare-worker"}, 0, endpoints, cgroups, "/run/gw.keys");
  const std::vector<std::string> args = group.command({0});
  const auto after = [&](const std::string& flag) {
    const auto it = std::find(args.begin(), args.end(), flag);
    return it == args.end() || it + 1 == args.end() ? std::string("(absent)") : *(it + 1);
  };
  CHECK(after("--downstream") == "tcp://10.0.0.2:5551,tcp://10.0.0.3:5552");
  CHECK(after("--shares") == "0.6,0.4");
  CHECK(after("--codec") == "float16,int8");
  CHECK(after("--downstream-node") == "e1,e2");
  CHECK(after("--member") == "1");
  CHECK(after("--keys") == "/run/gw.keys");  // a path: the worker reads its keys itself

  // One float32 destination: the command line of a stage before groups.
  stage.member = 0;
  stage.sends_to = {Destination{"tcp://10.0.0.2:5550", "gw", 1.0, hare::Codec::float32}};
  const ProcessLauncher single(std::string("e1"), stage, {"hare-worker"}, 0, endpoints, cgroups, "");
  const std::vector<std::string> plain = single.command({0});
  for (const char* flag : {"--shares", "--codec", "--member", "--keys", "--downstream-node"}) {
    INFO(flag);
    CHECK(std::find(plain.begin(), plain.end(), flag) == plain.end());
  }
  CHECK(std::find(plain.begin(), plain.end(), "tcp://10.0.0.2:5550") != plain.end());
}
