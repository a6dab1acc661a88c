#include "common/memory.h"

#include <malloc.h>

#include <climits>
#include <fstream>
#include <string>

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

}  // namespace hare
