#pragma once

namespace dips {

// Makes this process keep the memory it frees for its next allocations instead of returning it to the
// kernel: one heap for every thread (no per-thread arenas), nothing served by mmap, the heap never
// trimmed. A worker allocates the same few large buffers (a decoded image, its result) task after task;
// glibc's defaults gave each fresh pages (a page fault per 4 KB on first touch, and again after every
// trim), which on 124 photos of 1-4 MP cost 98,000 page faults and 15% of the job's time, against
// 16,000 with this. Its price: a process holds on to its peak heap until it exits. Call it first in
// main, before any thread starts (the arena limit applies to arenas created later).
void keep_freed_memory();

}  // namespace dips
