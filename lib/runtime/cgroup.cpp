#include "runtime/cgroup.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "common/diag.h"

namespace hare::runtime {
namespace fs = std::filesystem;

namespace {

bool write_value(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (!out) return false;
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

bool writable_dir(const std::string& path) { return fs::is_directory(path) && ::access(path.c_str(), W_OK) == 0; }

}  // namespace

Cgroups::Cgroups(std::string group) : group_(std::move(group)) {
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers") && writable_dir("/sys/fs/cgroup")) {
    version_ = 2;
    mode_ = "cgroup v2";
    // Child groups only get cpu/memory if the parent delegates them.
    write_value("/sys/fs/cgroup/cgroup.subtree_control", "+cpu +memory");
  } else if (writable_dir("/sys/fs/cgroup/cpu") && writable_dir("/sys/fs/cgroup/memory")) {
    version_ = 1;
    mode_ = "cgroup v1";
  } else {
    mode_ = "unconfined (no writable cgroup v2 or v1 cpu+memory hierarchy; run as root for quotas)";
  }
}

Cgroups::~Cgroups() {
  // Deepest first; a directory with live processes stays (rmdir fails).
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) ::rmdir(it->c_str());
}

int64_t worker_memory_limit_bytes(int64_t stage_memory_bytes) {
  return stage_memory_bytes + stage_memory_bytes / 4 + (64LL << 20);
}

bool Cgroups::confine(pid_t pid, const std::string& name, double cores, int64_t memory_bytes) {
  if (version_ == 0) return false;
  const long period_us = 100000;
  const long quota_us = std::lround(cores * period_us);
  auto make = [&](const std::string& root) {
    for (const std::string& dir : {root + "/hare", root + "/hare/" + group_, root + "/hare/" + group_ + "/" + name}) {
      if (!fs::exists(dir)) {
        std::error_code ec;
        if (fs::create_directory(dir, ec)) created_.push_back(dir);
      }
    }
    return root + "/hare/" + group_ + "/" + name;
  };
  bool ok = true;
  if (version_ == 2) {
    make("/sys/fs/cgroup");
    write_value("/sys/fs/cgroup/hare/cgroup.subtree_control", "+cpu +memory");
    write_value("/sys/fs/cgroup/hare/" + group_ + "/cgroup.subtree_control", "+cpu +memory");
    const std::string dir = "/sys/fs/cgroup/hare/" + group_ + "/" + name;
    ok = write_value(dir + "/cpu.max", fmt::format("{} {}", quota_us, period_us)) &&
         write_value(dir + "/memory.max", std::to_string(memory_bytes)) &&
         write_value(dir + "/cgroup.procs", std::to_string(pid));
  } else {
    const std::string cpu = make("/sys/fs/cgroup/cpu");
    const std::string memory = make("/sys/fs/cgroup/memory");
    ok = write_value(cpu + "/cpu.cfs_period_us", std::to_string(period_us)) &&
         write_value(cpu + "/cpu.cfs_quota_us", std::to_string(quota_us)) &&
         write_value(memory + "/memory.limit_in_bytes", std::to_string(memory_bytes)) &&
         write_value(cpu + "/tasks", std::to_string(pid)) && write_value(memory + "/tasks", std::to_string(pid));
  }
  if (!ok) {
    diag::warning("cannot confine worker {} in {} ({}); running it unconfined", name, mode_, std::strerror(errno));
    mode_ = "unconfined (cgroup writes failed)";
    version_ = 0;
  }
  return ok;
}

}  // namespace hare::runtime
