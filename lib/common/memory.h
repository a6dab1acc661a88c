#pragma once

// Allocator settings for processes that run inference in a loop.

#include <cstdint>

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

}  // namespace hare
