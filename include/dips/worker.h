#pragma once
#include <cstddef>
#include <vector>

#include "dips/transport.h"

namespace dips {

// What a worker process (or the in-process worker of a single-rank run) is told at start.
struct WorkerConfig {
  int id = 0;                   // its rank, for messages
  int threads = 1;              // compute threads
  double orphan_timeout = 10;   // rank 0 silent this long: it is gone, exit
  bool exit_when_orphaned = true;
};

// A worker's loop: answers pings and hellos at once, computes pieces on `threads` threads, sends results
// in batches as they finish (waking as soon as one does, unless holding them, see below; backing off only
// while idle), and carries out injected faults. Returns when rank 0 says stop (true: a clean finish,
// MPI_Finalize is safe). Exits the process itself when rank 0 has been silent for orphan_timeout seconds
// (rank 0 died).
bool run_worker(CoordinatorLink& link, const WorkerConfig& config);

// How long a worker may keep finished results to send them together, in seconds.
inline constexpr double kResultHoldSeconds = 0.002;
// Whether a worker keeps its finished results to send them with the next ones: only within
// kResultHoldSeconds of its last send, only when the last piece done was shorter than that, and only while
// the pieces queued behind the running ones, priced like that piece, last eight holds (no thread runs dry
// before rank 0's refill for them arrives).
bool holds_results(double since_last_send_s, size_t queued_pieces, double last_piece_s);

// The CPUs this process may run on, ascending: what mpirun's binding, a batch system's allocation (cgroup
// cpusets) or taskset left it, not every core of the machine. A worker tells rank 0 in its hello reply;
// a dry run on one machine takes rank 0's own as the workers'.
std::vector<int> affinity_cpus();

}  // namespace dips
