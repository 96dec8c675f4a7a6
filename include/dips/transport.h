#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dips/wire.h"

namespace dips {

// A complete message from a peer.
struct Incoming {
  int source = -1;  // the worker it came from (rank 0's side); 0 on a worker's side
  Tag tag = Tag::kPong;
  std::shared_ptr<std::vector<uint8_t>> data = std::make_shared<std::vector<uint8_t>>();
};

// How the coordinator talks to its workers. Nothing here blocks on a worker: a send starts and completes
// in the background, a poll returns what has fully arrived. The real one is MPI (transport_mpi.cpp); the
// local one runs the worker loop on threads of this process, for single-rank runs and tests.
class Transport {
 public:
  virtual ~Transport() = default;
  // The workers there are at the start, by id (MPI: their ranks).
  virtual std::vector<int> workers() const = 0;
  // Starts sending a message to a worker. Its parts stay alive until the send completes, or forever if
  // the worker died with the send pending (a request to a dead rank may still read them).
  virtual void send(int worker, Tag tag, OutMessage message) = 0;
  // Takes the next fully received message, if any.
  virtual bool poll(Incoming* message) = 0;
  // The worker is dead or hung: ignore it from now on and ask the runtime to kill it.
  virtual void abandon(int worker) = 0;
  // Tells the live workers to stop. After an interruption (a stop signal) they exit at once, removing the
  // temporary files of outputs they were writing: a piece may still be computing, and the runtime may be
  // tearing the job down. Returns true when MPI_Finalize is safe everywhere: no worker was abandoned and
  // the job was not interrupted (after a death it can hang: every rank then exits without it).
  virtual bool shutdown(bool interrupted) = 0;
};

// How a worker talks to rank 0. Nothing here blocks on rank 0, which may be gone.
class CoordinatorLink {
 public:
  virtual ~CoordinatorLink() = default;
  // Takes the next fully received message from rank 0, if any.
  virtual bool poll(Incoming* message) = 0;
  // Starts sending a message to rank 0.
  virtual void send(Tag tag, OutMessage message) = 0;
  // Waits at most timeout_s for every started send to complete; false if some are still pending.
  virtual bool flush(double timeout_s) = 0;
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

// A worker rank's link to rank 0 over MPI_COMM_WORLD.
std::unique_ptr<CoordinatorLink> make_mpi_coordinator_link();

// Ends this rank: MPI_Finalize and return when clean, else flush and _exit(code) (MPI_Finalize can hang
// once a rank has died).
void mpi_end(bool clean, int code);

// A transport whose single worker (id 0) runs in this process, on `threads` compute threads.
std::unique_ptr<Transport> make_local_transport(int threads);

}  // namespace dips
