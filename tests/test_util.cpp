#include "test_util.h"

#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/process.h"

namespace hare::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "hare-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
  gzclose(file);
}

std::string source_path(const std::string& relative) { return std::string(HARE_SOURCE_DIR) + "/" + relative; }
std::string tool_path(const std::string& tool) { return std::string(HARE_BIN_DIR) + "/" + tool; }

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}
}  // namespace

RunResult run(const std::string& command) {
  TempDir dir;
  const std::string out = dir.file("out");
  const std::string err = dir.file("err");
  const std::string line = command + " >" + out + " 2>" + err;
  const int status = std::system(line.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' is not in the text");
  return text.replace(at, from.size(), to);
}

std::vector<std::string> error_messages(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    std::vector<std::string> all = {error.what()};
    for (const auto& more : error.more()) all.push_back(more.what());
    return all;
  }
  return {};
}

ScopedUmask::ScopedUmask(unsigned mask) : previous_(::umask(static_cast<mode_t>(mask))) {}
ScopedUmask::~ScopedUmask() { ::umask(static_cast<mode_t>(previous_)); }

int run_as_other_user(const std::function<int()>& body) {
  const pid_t pid = fork_call([&] {
    if (::setgroups(0, nullptr) != 0 || ::setgid(kOtherUid) != 0 || ::setuid(kOtherUid) != 0) return 99;
    return body();
  });
  for (int i = 0; i < 1000; ++i) {
    if (const auto status = try_reap(pid)) return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

void make_dir(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 || ::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    throw std::runtime_error("cannot make directory " + path + ": " + std::strerror(errno));
  }
}

int unix_connect_error(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  const int result = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 ? 0 : errno;
  ::close(fd);
  return result;
}

namespace {

bool can_listen_on(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as ZeroMQ binds
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return free;
}

}  // namespace

std::string partition_plan(const TempDir& dir, const std::string& cluster, const std::string& name, int port) {
  const std::string cluster_path = dir.file(name + ".cluster.yaml");
  write_text(cluster_path, cluster);
  const std::string plan = dir.file(name);
  const RunResult result = run(tool_path("hare-partition") + " --model " + source_path("models/hare-cnn.pt") +
                               " --profiles " + source_path("profiles") + " --cluster " + cluster_path +
                               " --check-data " + source_path("data/mhealth/subject08.tsv.gz") + " --base-port " +
                               std::to_string(port != 0 ? port : free_port_block()) + " --out " + plan);
  if (result.exit_code != 0) {
    throw std::runtime_error("hare-partition failed on " + cluster_path + " (exit " +
                             std::to_string(result.exit_code) + "): " + result.err);
  }
  return plan;
}

std::string three_stage_cluster(const std::string& codec, int e1_cores) {
  return R"(format: hare-cluster/1
nodes:
  - {name: gw, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
  - {name: e1, device: amd-epyc-2c, cores: )" +
         std::to_string(e1_cores) + R"(, mem_bytes: 2GiB}
  - {name: e2, device: amd-epyc-2c, cores: 1, mem_bytes: 2GiB}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5, codec: )" +
         codec + R"(}
source: gw
pins:
  - {layers: conv1..conv2, node: gw}
  - {layers: conv3..pool, node: e1}
  - {layers: fc1..out, node: e2}
)";
}

int free_port_block(int count) {
  static const int base = [count] {
    int ephemeral_first = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_first;
    const int first = 10000;
    const int blocks = std::max(1, (ephemeral_first - first) / count - 1);
    for (int attempt = 0; attempt < blocks; ++attempt) {
      const int candidate = first + static_cast<int>((::getpid() + attempt) % blocks) * count;
      bool free = true;
      for (int port = candidate; port < candidate + count && free; ++port) free = can_listen_on(port);
      if (free) return candidate;
    }
    throw std::runtime_error("no block of free loopback ports below the ephemeral range");
  }();
  return base;
}

int mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

void write_lying_card(const std::string& path, int channels) {
  YAML::Node card = YAML::LoadFile(source_path("models/hare-cnn.yaml"));
  card["input_shape"][1] = channels;
  auto first = [&](const YAML::Node& list) {
    YAML::Node out;
    for (int i = 0; i < channels; ++i) out.push_back(list[i]);
    return out;
  };
  for (const char* key : {"mean", "std"}) card["normalization"][key] = first(card["normalization"][key]);
  card["channels"] = first(card["channels"]);
  YAML::Emitter out;
  out << card;
  write_text(path, out.c_str());
}

namespace {

// Runs a fixture script of tests/fixtures with Debian's python3-torch into a
// directory of its own, once per process: that directory.
const std::string& exported_by_python(const std::string& script) {
  static std::map<std::string, TempDir> dirs;
  const auto [it, fresh] = dirs.try_emplace(script);
  if (fresh) {
    const auto result = run("/usr/bin/python3 " + source_path("tests/fixtures/" + script) + " " + it->second.path());
    if (result.exit_code != 0) {
      dirs.erase(it);
      throw std::runtime_error(script + " failed: " + result.err);
    }
  }
  return it->second.path();
}

}  // namespace

const std::string& python_fixtures() { return exported_by_python("make_fixtures.py"); }

const std::string& python_zoo() { return exported_by_python("make_zoo.py"); }

std::vector<std::string> python_zoo_names() {
  std::ifstream in(python_zoo() + "/names.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

SmallDisk::SmallDisk(int kib) {
  const auto mounted = run("mount -t tmpfs -o size=" + std::to_string(kib) + "k tmpfs " + dir_.path());
  if (mounted.exit_code != 0) throw std::runtime_error("SmallDisk: mount failed (root needed): " + mounted.err);
}

SmallDisk::~SmallDisk() { run("umount " + dir_.path()); }

void SmallDisk::fill(int kib_left) const {
  // Whole KiB blocks until the disk is full, then make room for kib_left.
  run("dd if=/dev/zero of=" + file(".filler") + " bs=1k 2>/dev/null; truncate -s -" + std::to_string(kib_left) + "K " +
      file(".filler"));
}

void SmallDisk::make_read_only() const { run("mount -o remount,ro " + dir_.path()); }

std::string shell_payload_traces() {
  return run("find /home/haretest /tmp -xdev -name 'hareprobe-PWNED*' 2>/dev/null").out;
}

}  // namespace hare::test
