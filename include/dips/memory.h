#pragma once

namespace dips {

// Makes this process keep the memory it frees for its next allocations instead of returning it to the
// kernel: one heap for every thread (no per-thread arenas), allocations under 32 MB served from it and
// never trimmed. A worker allocates the same few large buffers (a decoded image, its result) task after
// task; glibc's defaults gave each fresh pages (a page fault per 4 KB on first touch, and again after
// every trim), which on 124 photos of 1-4 MP cost 98,000 page faults and a fifth of the job's time,
// against 16,000 with this. Larger allocations (a decoded 20 MP photo and up) are still mapped afresh, as
// by default: there the heap measured slower (a 50 MP image's Canny 1.4-2.5 s against 1.1-1.4 s), as mapped
// chunks get huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) and a heap grown bit by bit does not.
// Keeping those large buffers too (a pool of them as OpenCV's allocator) measured slower or no faster:
// one unmapped goes back to the kernel and the next photo's gets the same, still warm, pages, while kept
// ones need more distinct memory, which on a VM that hands free memory back to its host is the cold kind
// (docs/benchmarks.md, fourteenth stop).
// Its price: a process keeps its peak heap until it exits. Call it first in main, before any thread
// starts (the arena limit applies to arenas created later).
void keep_freed_memory();

}  // namespace dips
