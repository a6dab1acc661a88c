#include "common/memory.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/error.h"

namespace hare {

void tune_allocator_for_inference() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

namespace {
int64_t status_kib(const std::string& wanted) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == wanted) {
      long long kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(LLONG_MAX, '\n');
  }
  return 0;
}
}  // namespace

int64_t resident_bytes() { return status_kib("VmRSS:"); }
int64_t peak_resident_bytes() { return status_kib("VmHWM:"); }

ProcessMemory& operator+=(ProcessMemory& total, const ProcessMemory& one) {
  total.rss_bytes += one.rss_bytes;
  total.pss_bytes += one.pss_bytes;
  total.uss_bytes += one.uss_bytes;
  total.anon_bytes += one.anon_bytes;
  total.file_bytes += one.file_bytes;
  total.swap_bytes += one.swap_bytes;
  return total;
}

namespace {

// Adds one "Key:   N kB" line to `m`; false if the line is not such a field.
bool add_field(const std::string& line, ProcessMemory& m) {
  const auto colon = line.find(':');
  if (colon == std::string::npos || line.compare(line.size() - 3, 3, " kB") != 0) return false;
  const std::string key = line.substr(0, colon);
  const int64_t bytes = std::stoll(line.substr(colon + 1)) * 1024;
  if (key == "Rss") {
    m.rss_bytes += bytes;
  } else if (key == "Pss") {
    m.pss_bytes += bytes;
  } else if (key == "Private_Clean" || key == "Private_Dirty") {
    m.uss_bytes += bytes;
  } else if (key == "Anonymous") {
    m.anon_bytes += bytes;
  } else if (key == "Swap") {
    m.swap_bytes += bytes;
  }
  return true;
}

void finish(ProcessMemory& m) { m.file_bytes = std::max<int64_t>(0, m.rss_bytes - m.anon_bytes); }

std::optional<std::string> read_proc_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

// A mapping's header: "start-end perms offset dev inode [name]".
bool is_mapping_header(const std::string& line, std::string& name) {
  std::istringstream fields(line);
  std::string range, perms, offset, dev, inode;
  if (!(fields >> range >> perms >> offset >> dev >> inode) || range.find('-') == std::string::npos) return false;
  std::getline(fields >> std::ws, name);
  if (name.empty()) name = "[anon]";
  return true;
}

}  // namespace

ProcessMemory parse_smaps_rollup(const std::string& text) {
  ProcessMemory m;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 3) add_field(line, m);
  }
  finish(m);
  return m;
}

std::optional<ProcessMemory> read_process_memory(pid_t pid) {
  const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
  if (!text || text->empty()) return std::nullopt;
  return parse_smaps_rollup(*text);
}

ProcessMemory own_process_memory() {
  const auto memory = read_process_memory(getpid());
  if (!memory) throw failure("/proc/{}/smaps_rollup: cannot read this process's memory (Linux 4.14 or later needed)", getpid());
  return *memory;
}

std::vector<MappingMemory> parse_smaps(const std::string& text) {
  std::map<std::string, ProcessMemory> by_name;
  ProcessMemory* current = nullptr;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::string name;
    if (line.size() > 3 && line.compare(line.size() - 3, 3, " kB") == 0) {
      if (current) add_field(line, *current);
    } else if (is_mapping_header(line, name)) {
      current = &by_name[name];
    }
  }
  std::vector<MappingMemory> mappings;
  for (auto& [name, memory] : by_name) {
    finish(memory);
    mappings.push_back({name, memory});
  }
  std::stable_sort(mappings.begin(), mappings.end(), [](const MappingMemory& a, const MappingMemory& b) {
    return a.memory.pss_bytes > b.memory.pss_bytes;
  });
  return mappings;
}

int64_t alone_footprint_bytes(const std::vector<std::vector<MappingMemory>>& processes) {
  int64_t anon = 0;
  std::map<std::string, int64_t> file_bytes;  // file -> the most any process has resident
  for (const auto& mappings : processes) {
    for (const MappingMemory& mapping : mappings) {
      anon += mapping.memory.anon_bytes;
      if (mapping.memory.file_bytes > 0) {
        int64_t& most = file_bytes[mapping.name];
        most = std::max(most, mapping.memory.file_bytes);
      }
    }
  }
  for (const auto& [name, bytes] : file_bytes) anon += bytes;
  return anon;
}

int64_t alone_footprint_bytes(const std::vector<pid_t>& pids) {
  std::vector<std::vector<MappingMemory>> processes;
  for (pid_t pid : pids) {
    const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/smaps");
    if (text) processes.push_back(parse_smaps(*text));
  }
  return alone_footprint_bytes(processes);
}

std::vector<MappingMemory> read_mappings(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/smaps";
  const auto text = read_proc_file(path);
  if (!text) throw failure("{}: cannot read (is process {} gone, or another user's?)", path, pid);
  return parse_smaps(*text);
}

}  // namespace hare

namespace hare {

void release_free_heap() {
  const char* trim = std::getenv("HARE_MALLOC_TRIM");
  if (trim == nullptr || std::string(trim) != "0") malloc_trim(0);
}

}  // namespace hare
