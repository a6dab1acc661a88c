#pragma once

// Allocator settings for processes that run inference in a loop, and memory
// as the machine counts it: a process's resident, proportional and unique
// set sizes from /proc/<pid>/smaps_rollup (Linux >= 4.14), and where its
// pages go, mapping by mapping, from /proc/<pid>/smaps.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace hare {

// glibc serves allocations above a (dynamically adjusted) threshold with
// mmap and returns them with munmap on free. A layer's activation for a few
// windows easily crosses it, so every forward paid fresh page faults, and the
// threshold's drift made timings bimodal (measured: conv1 at batch 16 took
// 0.18 ms or 0.58 ms depending on allocator history). This pins the mmap
// threshold at 64 MiB and the trim threshold at 256 MiB so that activation
// buffers are reused from the heap. Call once, early; idempotent.
void tune_allocator_for_inference();

// Resident set size of this process (VmRSS), in bytes; 0 if unknown.
int64_t resident_bytes();
// Peak resident set size (VmHWM), in bytes; 0 if unknown.
int64_t peak_resident_bytes();

// One process's memory, in bytes, as /proc/<pid>/smaps_rollup counts it.
//   rss  = every resident page it maps;
//   pss  = each page divided by the number of processes mapping it, so that
//          the PSS of a node's processes sums to the memory they take
//          together (shared library pages counted once);
//   uss  = pages only it maps (Private_Clean + Private_Dirty): what
//          stopping it would free;
//   anon = anonymous pages (heap, stacks, copy-on-write copies of library
//          data): private to it unless inherited over fork;
//   file = rss - anon: file-backed pages (program and library text and
//          read-only data), which another process mapping the same files
//          shares rather than pays again.
struct ProcessMemory {
  int64_t rss_bytes = 0;
  int64_t pss_bytes = 0;
  int64_t uss_bytes = 0;
  int64_t anon_bytes = 0;
  int64_t file_bytes = 0;
  int64_t swap_bytes = 0;
};
HARE_DEFINE_RECORD(ProcessMemory, rss_bytes, pss_bytes, uss_bytes, anon_bytes, file_bytes, swap_bytes)

ProcessMemory& operator+=(ProcessMemory& total, const ProcessMemory& one);

// Parses smaps_rollup text (or smaps text, whose fields it sums).
ProcessMemory parse_smaps_rollup(const std::string& text);
// nullopt when the process is gone or its smaps_rollup is not readable
// (another user's process, or a kernel older than 4.14).
std::optional<ProcessMemory> read_process_memory(pid_t pid);
// This process's, for the memory probes; a failure naming the file when the
// kernel does not give it.
ProcessMemory own_process_memory();

// The resident pages of one file (or one kind of anonymous region: "[heap]",
// "[stack]", "[anon]" for unnamed ones), summed over its mappings.
struct MappingMemory {
  std::string name;
  ProcessMemory memory;
};
HARE_DEFINE_RECORD(MappingMemory, name, memory)

// /proc/<pid>/smaps by mapped file, largest PSS first. Throws a failure
// naming the file when it cannot be read.
std::vector<MappingMemory> read_mappings(pid_t pid);
std::vector<MappingMemory> parse_smaps(const std::string& text);

// What a group of processes (a node's supervisor and workers) would take on
// a machine of their own: every process's anonymous pages, plus each mapped
// file's resident pages once (the most any of them has of it). PSS is what
// they take on this machine, where other processes (other emulated nodes,
// a training run) may share their libraries' pages; on a board of their
// own the two agree. Processes that are gone are skipped.
int64_t alone_footprint_bytes(const std::vector<pid_t>& pids);
int64_t alone_footprint_bytes(const std::vector<std::vector<MappingMemory>>& processes);

}  // namespace hare

namespace hare {

// Returns the free pages of every arena to the kernel (malloc_trim(0)):
// after a model is loaded and warmed up, what static initialisation and
// loading allocated and freed, which the pinned trim threshold
// (tune_allocator_for_inference) would otherwise keep resident for good.
// Skipped when the environment sets HARE_MALLOC_TRIM=0 (for the benchmark).
void release_free_heap();

}  // namespace hare
