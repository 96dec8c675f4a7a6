#include "dips/memory.h"

#include <malloc.h>

#include <climits>

namespace dips {

void keep_freed_memory() {
  constexpr int kLargestFromHeap = 32 * 1024 * 1024;  // glibc's upper bound for M_MMAP_THRESHOLD
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, kLargestFromHeap);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

}  // namespace dips
