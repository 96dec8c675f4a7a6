#pragma once
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
// in batches as they finish (waking as soon as one does, backing off only while idle), and carries out
// injected faults. Returns when rank 0 says stop (true: a clean finish, MPI_Finalize is safe). Exits the
// process itself when rank 0 has been silent for orphan_timeout seconds (rank 0 died).
bool run_worker(CoordinatorLink& link, const WorkerConfig& config);

}  // namespace dips
