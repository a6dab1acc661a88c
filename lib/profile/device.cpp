// This machine's description for profiles (torch-free).
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
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

}  // namespace

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
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  device.date = date;
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
