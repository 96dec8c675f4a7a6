#pragma once

namespace dips {

// In a coverage build (cmake -DDIPS_COVERAGE=ON), writes this process's gcov counters now; otherwise does
// nothing. Called just before the process ends without exit handlers (_exit, SIGKILL, SIGSTOP, a spin until
// killed), so that the ranks of multi-rank tests that end that way still count. Later counts of the same
// process are not written: call it only when the process is about to end.
void flush_coverage();

}  // namespace dips
