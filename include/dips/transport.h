#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dips/wire.h"

namespace dips {

// A complete message from a worker.
struct Incoming {
  int source = -1;
  Tag tag = Tag::kPong;
  std::vector<uint8_t> data;
};

using Buffer = std::shared_ptr<const std::vector<uint8_t>>;

// How the coordinator talks to its workers. Nothing here blocks: a send starts and completes in the
// background, a poll returns what has fully arrived. The real one is MPI (transport_mpi.cpp); the local
// one runs a worker thread inside rank 0 for single-rank runs and tests.
class Transport {
 public:
  virtual ~Transport() = default;
  // The worker ranks.
  virtual std::vector<int> workers() const = 0;
  // Starts sending data to a worker. The buffer is kept alive until the send completes, or forever if the
  // worker died with the send pending (a request to a dead rank may still read it).
  virtual void send(int worker, Tag tag, Buffer data) = 0;
  // Takes the next fully received message, if any.
  virtual bool poll(Incoming* message) = 0;
  // The worker is dead or hung: ignore it from now on and ask the runtime to kill it.
  virtual void abandon(int worker) = 0;
  // Tells the live workers to stop. Returns true when no worker was abandoned, so that MPI_Finalize is
  // safe everywhere (after a death it can hang: every rank then exits without it).
  virtual bool shutdown() = 0;
};

// The MPI job as this rank sees it.
struct MpiWorld {
  int rank = 0;
  int size = 1;
};

// Initialises MPI (thread support: funneled; SIGPIPE ignored, since writing to a dead TCP peer raises it).
MpiWorld mpi_start(int* argc, char*** argv);

// The coordinator's transport over MPI_COMM_WORLD (rank 0; workers are ranks 1..size-1). A worker it
// abandons is also killed through PMIx where available, so that mpirun can exit despite a hung rank.
std::unique_ptr<Transport> make_mpi_transport(const MpiWorld& world);

// A worker rank's loop: answers pings at once, computes pieces on a second thread, sends results, and
// returns when rank 0 says stop (true: MPI_Finalize is safe). Exits the process itself when rank 0 has
// been silent for orphan_timeout_s seconds (rank 0 died).
bool run_mpi_worker(int rank, double orphan_timeout_s);

// Ends this rank: MPI_Finalize and return when clean, else flush and _exit(code) (MPI_Finalize can hang
// once a rank has died).
void mpi_end(bool clean, int code);

// A transport whose single worker (rank 0 itself) is a thread in this process running execute_work.
std::unique_ptr<Transport> make_local_transport();

}  // namespace dips
