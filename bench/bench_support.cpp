#include "bench_support.h"

#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <sys/wait.h>

#include "artifacts/planner.h"
#include "common/error.h"
#include "common/fs.h"
#include "deploy/remote.h"

namespace fs = std::filesystem;

namespace hare::bench {

std::string today() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d", std::gmtime(&now));
  return text;
}

int run_command(const std::string& command, const std::string& log) {
  const int status = std::system((command + " > " + log + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

TestBed::TestBed(const std::string& bin_dir, const std::string& dir, int hosts, double mbps, double ms,
                 const std::string& per_host)
    : script_(fs::absolute("tests/testbed/testbed.sh").string()), dir_(dir) {
  const std::string command = fmt::format("HARE_NETDELAY={}/hare-netdelay HARE_TESTBED_HOSTS='{}' {} up {} {} {} {}",
                                          bin_dir, per_host, script_, dir_, hosts, mbps, ms);
  if (run_command(command, dir_ + ".log") != 0) throw failure("the test bed did not come up: {}", read_file(dir_ + ".log"));
}

TestBed::~TestBed() { run_command(fmt::format("{} down {}", script_, dir_), dir_ + ".down.log"); }

std::string TestBed::address(int i) { return fmt::format("10.77.0.{}", 11 + i); }

deploy::LocalDeployResult deploy_on_testbed(const std::string& bin_dir, const std::string& testbed_dir,
                                            const deploy::LocalDeployOptions& local, const std::string& cluster_path) {
  deploy::RemoteOptions remote;
  remote.plan_dir = local.plan_dir;
  remote.cluster_path = cluster_path;
  remote.remote_dir = "hare-bench";
  remote.remote_bin = bin_dir;
  remote.known_hosts = testbed_dir + "/known_hosts";
  remote.ssh_config = testbed_dir + "/ssh_config";
  remote.data = local.data;
  remote.speed = local.speed;
  remote.streams = local.streams;
  remote.limit = local.limit;
  remote.pin_cores = false;  // the test bed's hosts share this machine's cores
  return deploy::run_remote(remote, 900.0);
}

void write_plan(const partition::PlanningInputs& inputs, const partition::SolveResult& result, const std::string& model,
                const std::string& cluster_path, partition::Objective objective, const std::string& out) {
  artifacts::WritePlanRequest request;
  request.model_path = model;
  request.cluster_path = cluster_path;
  request.cluster = &inputs.cluster;
  request.problem = &inputs.problem;
  request.result = &result;
  request.objective = objective;
  request.expand = inputs.profiles.begin()->second.expand;
  request.out = out;
  request.force = true;
  artifacts::write_plan_dir(request);
}

void profile_here(const std::string& bin_dir, const std::string& dir, const std::string& model) {
  const std::string log = (fs::path(dir) / "profile.log").string();
  if (run_command(fmt::format("cd {} && {}/hare-profile --model {} -q", dir, bin_dir, fs::absolute(model).string()), log) !=
      0) {
    throw failure("hare-profile failed: {}", read_file(log));
  }
}

}  // namespace hare::bench
