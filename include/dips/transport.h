#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dips/placement.h"
#include "dips/status.h"
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
  // Tells the live workers to stop (once: a later call returns the first one's answer, stopping nothing
  // more). After an interruption (a stop signal) they exit at once, removing the
  // temporary files of outputs they were writing: a piece may still be computing, and the runtime may be
  // tearing the job down. Returns true when MPI_Finalize is safe everywhere: no worker was abandoned or
  // started and the job was not interrupted (after a death, or with started workers, it can hang: every
  // rank then exits without it).
  virtual bool shutdown(bool interrupted) = 0;
  // Why this transport cannot start workers at `place`, or "" when it can (then spawn must not fail).
  virtual std::string spawn_refusal(const Place& place) const {
    (void)place;
    return "workers are started only under mpirun";
  }
  // The program spawn starts ("" when it starts none).
  virtual std::string spawn_program() const { return ""; }
  // Starts one more worker process at `place`, as an MPI job of its own, so that its death touches no
  // other worker's job. Blocks until the process runs (0.3 s or more: the caller's deadlines must allow
  // for it), and for ever when the program cannot start there (missing on that host: Open MPI under
  // --enable-recovery reports nothing; the caller's watchdog.h ends that). Sets *worker to its id, larger
  // than every id before. Call only when spawn_refusal is "".
  virtual Status spawn(const Place& place, int* worker) {
    (void)place;
    (void)worker;
    return Status::Error(spawn_refusal(place));
  }
  // Tells a worker that has finished its pieces to stop (it exits); nothing more goes to it.
  virtual void retire(int worker) { abandon(worker); }
  // Whether the job survives a worker's death (mpirun --enable-recovery): without it, the runtime ends
  // the whole job when a rank dies, so a worker not heard from lately is alive (slow, or stopped).
  virtual bool survives_lost_workers() const { return true; }
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
  bool spawned = false;  // started by a rank 0 with MPI_Comm_spawn: its rank 0 is the parent's
};

// How rank 0 starts a worker: this program and these arguments (the worker's id is appended).
struct SpawnCommand {
  std::string program;
  std::vector<std::string> args;
};

// Initialises MPI (thread support: funneled; SIGPIPE ignored, since writing to a dead TCP peer raises it).
MpiWorld mpi_start(int* argc, char*** argv);

// The coordinator's transport over MPI (rank 0). Workers are ranks 1..size-1 of MPI_COMM_WORLD, then the
// processes it spawns with `command` (ids size, size+1, ...: each talks over its own intercommunicator).
// A world rank it abandons is also killed through PMIx where available, so that mpirun can exit despite
// a hung rank.
std::unique_ptr<Transport> make_mpi_transport(const MpiWorld& world, SpawnCommand command);

// A worker's link to rank 0: over MPI_COMM_WORLD, or to its parent when it was spawned.
std::unique_ptr<CoordinatorLink> make_mpi_coordinator_link(const MpiWorld& world);

// Ends this rank: MPI_Finalize and return when clean, else flush and _exit(code) (MPI_Finalize can hang
// once a rank has died, or when spawned processes are connected).
void mpi_end(bool clean, int code);

// A transport whose single worker (id 0) runs in this process, on `threads` compute threads.
std::unique_ptr<Transport> make_local_transport(int threads);

}  // namespace dips
