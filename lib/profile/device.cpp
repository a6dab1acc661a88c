// This machine's description for profiles (torch-free).
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>

#include "common/strings.h"
#include "profile/profiler.h"

namespace hare::profile {
namespace {

std::string cpuinfo_field(const std::vector<std::string>& keys) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key(trim(line.substr(0, colon)));
    for (const auto& wanted : keys) {
      if (key == wanted) return std::string(trim(line.substr(colon + 1)));
    }
  }
  return {};
}

// Busy and total jiffies of all CPUs, from /proc/stat.
std::pair<double, double> cpu_jiffies() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double busy = user + nice + system + irq + softirq + steal;
  return {busy, busy + idle + iowait};
}

}  // namespace

double other_busy_cores() {
  const auto before = cpu_jiffies();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto after = cpu_jiffies();
  const double total = after.second - before.second;
  if (total <= 0) return 0.0;
  const double cores = static_cast<double>(std::max(1u, std::thread::hardware_concurrency()));
  return (after.first - before.first) / total * cores;
}

std::vector<int> default_threads(int cores) {
  std::vector<int> threads;
  for (int t = 1; t <= cores; t *= 2) threads.push_back(t);
  if (threads.empty() || threads.back() != cores) threads.push_back(std::max(1, cores));
  return threads;
}

DeviceInfo this_device() {
  DeviceInfo device;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  device.hostname = host;
  // Raspberry Pi kernels have no "model name" but a "Model" line.
  device.cpu_model = cpuinfo_field({"model name", "Model", "Hardware", "cpu model"});
  if (device.cpu_model.empty()) device.cpu_model = "unknown";
  cpu_set_t set;
  CPU_ZERO(&set);
  device.cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set)
                                                              : static_cast<int>(std::thread::hardware_concurrency());
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long long kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:") {
      device.mem_bytes = kib * 1024;
      break;
    }
    meminfo.ignore(256, '\n');
  }
  utsname name{};
  if (uname(&name) == 0) device.kernel = std::string(name.sysname) + " " + name.release + " " + name.machine;
  device.date = utc_now_iso8601();
  return device;
}

std::string default_device_id(const DeviceInfo& device) {
  // "AMD EPYC 7B13 64-Core Processor", 2 cores -> "amd-epyc-7b13-2c".
  std::string slug;
  int words = 0;
  bool in_word = false;
  for (char c : device.cpu_model) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      if (!in_word) {
        if (words == 3) break;
        if (!slug.empty()) slug += '-';
        ++words;
        in_word = true;
      }
      slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      in_word = false;
    }
  }
  if (slug.empty()) slug = "cpu";
  return slug + "-" + std::to_string(device.cores) + "c";
}

}  // namespace hare::profile
