// Process memory as smaps counts it: the parser on known text, and the
// kernel's own figures for this process and a forked child.

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <catch2/catch.hpp>

#include "common/memory.h"

using namespace hare;

namespace {
constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * 1024;
}  // namespace

TEST_CASE("smaps_rollup text gives RSS, PSS, USS, anonymous and file-backed bytes", "[memory]") {
  const std::string text =
      "55d0c4a00000-7ffd5a1e5000 ---p 00000000 00:00 0                          [rollup]\n"
      "Rss:              173000 kB\n"
      "Pss:              115000 kB\n"
      "Pss_Anon:          63000 kB\n"
      "Pss_File:          52000 kB\n"
      "Shared_Clean:     104000 kB\n"
      "Shared_Dirty:          0 kB\n"
      "Private_Clean:      2000 kB\n"
      "Private_Dirty:     63000 kB\n"
      "Anonymous:         63000 kB\n"
      "Swap:                 12 kB\n"
      "Locked:                0 kB\n";
  const ProcessMemory m = parse_smaps_rollup(text);
  CHECK(m.rss_bytes == 173000 * kKiB);
  CHECK(m.pss_bytes == 115000 * kKiB);
  CHECK(m.uss_bytes == 65000 * kKiB);
  CHECK(m.anon_bytes == 63000 * kKiB);
  CHECK(m.file_bytes == 110000 * kKiB);
  CHECK(m.swap_bytes == 12 * kKiB);
}

TEST_CASE("smaps text is summed by mapped file, largest PSS first", "[memory]") {
  const std::string text =
      "7f0000000000-7f0000100000 r-xp 00000000 08:01 42   /usr/lib/libtorch_cpu.so\n"
      "Rss:                 800 kB\n"
      "Pss:                 400 kB\n"
      "Private_Clean:         0 kB\n"
      "Private_Dirty:         0 kB\n"
      "Anonymous:             0 kB\n"
      "VmFlags: rd ex mr mw me sd\n"
      "7f0000100000-7f0000200000 rw-p 00100000 08:01 42   /usr/lib/libtorch_cpu.so\n"
      "Rss:                 100 kB\n"
      "Pss:                 100 kB\n"
      "Private_Clean:         0 kB\n"
      "Private_Dirty:       100 kB\n"
      "Anonymous:           100 kB\n"
      "55d0c4a00000-55d0c6a00000 rw-p 00000000 00:00 0    [heap]\n"
      "Rss:                2000 kB\n"
      "Pss:                2000 kB\n"
      "Private_Dirty:      2000 kB\n"
      "Anonymous:          2000 kB\n"
      "7f0000300000-7f0000400000 rw-p 00000000 00:00 0 \n"
      "Rss:                  40 kB\n"
      "Pss:                  40 kB\n"
      "Anonymous:            40 kB\n";
  const auto mappings = parse_smaps(text);
  REQUIRE(mappings.size() == 3);
  CHECK(mappings[0].name == "[heap]");
  CHECK(mappings[1].name == "/usr/lib/libtorch_cpu.so");
  CHECK(mappings[1].memory.rss_bytes == 900 * kKiB);
  CHECK(mappings[1].memory.pss_bytes == 500 * kKiB);
  CHECK(mappings[1].memory.anon_bytes == 100 * kKiB);
  CHECK(mappings[1].memory.file_bytes == 800 * kKiB);
  CHECK(mappings[2].name == "[anon]");
}

TEST_CASE("a node's footprint alone counts anonymous pages per process and each file's pages once", "[memory]") {
  const auto file = [](const std::string& name, int64_t kib) {
    return MappingMemory{name, ProcessMemory{kib * kKiB, 0, 0, 0, kib * kKiB, 0}};
  };
  const auto anon = [](const std::string& name, int64_t kib) {
    return MappingMemory{name, ProcessMemory{kib * kKiB, 0, kib * kKiB, kib * kKiB, 0, 0}};
  };
  const std::vector<MappingMemory> worker = {file("/lib/libtorch.so", 100000), anon("[heap]", 60000),
                                             file("/lib/libc.so", 1500)};
  const std::vector<MappingMemory> supervisor = {file("/lib/libc.so", 1600), anon("[heap]", 5000),
                                                 file("/bin/hare-node", 900)};
  CHECK(alone_footprint_bytes({worker, supervisor}) == (100000 + 60000 + 1600 + 5000 + 900) * kKiB);
  CHECK(alone_footprint_bytes({worker, worker}) == (100000 + 2 * 60000 + 1500) * kKiB);
  // This process alone: at least what smaps_rollup calls anonymous.
  const auto self = read_process_memory(getpid());
  REQUIRE(self);
  CHECK(alone_footprint_bytes(std::vector<pid_t>{getpid()}) >= self->anon_bytes);
  CHECK(alone_footprint_bytes(std::vector<pid_t>{-1}) == 0);
}

TEST_CASE("this process's memory: touched anonymous pages are private, and a fork halves their PSS", "[memory]") {
  const auto before = read_process_memory(getpid());
  REQUIRE(before);
  CHECK(before->rss_bytes > 0);
  CHECK(before->pss_bytes <= before->rss_bytes);
  CHECK(before->uss_bytes <= before->rss_bytes);

  const size_t size = 64 * kMiB;
  void* block = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(block != MAP_FAILED);
  std::memset(block, 1, size);
  const auto touched = read_process_memory(getpid());
  REQUIRE(touched);
  CHECK(touched->anon_bytes - before->anon_bytes >= 60 * kMiB);
  CHECK(touched->uss_bytes - before->uss_bytes >= 60 * kMiB);

  // The child shares the block copy-on-write: each of the two processes
  // now holds half of it in PSS, and neither holds it in USS.
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char byte = 1;
    (void)!write(ready[1], &byte, 1);
    pause();
    _exit(0);
  }
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  const auto shared = read_process_memory(getpid());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  munmap(block, size);
  REQUIRE(shared);
  CHECK(touched->pss_bytes - shared->pss_bytes >= 28 * kMiB);
  CHECK(touched->uss_bytes - shared->uss_bytes >= 60 * kMiB);

  CHECK_FALSE(read_process_memory(-1));
  const auto mappings = read_mappings(getpid());
  CHECK_FALSE(mappings.empty());
}
