#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace dips {

// A worker as the coordinator sees it.
enum class WorkerState {
  kIdle,     // alive, nothing assigned
  kBusy,     // alive, pieces assigned
  kSuspect,  // a ping is overdue: gets no new pieces until it answers
  kDead,     // missed its deadline: never sent to again, its pieces went back to the pool
};

// A piece of work as the coordinator sees it.
enum class PieceState { kPending, kInFlight, kDone, kFailed };

// Deadlines and flow control of the scheduler, in seconds.
struct SchedulerOptions {
  double ping_interval = 0.2;   // a ping to each live worker this often
  double ping_timeout = 1.5;    // no answer to a ping within this: the worker is dead
  double piece_timeout = 0;     // a piece in flight longer than this: its worker is hung (0: no limit)
  int queue_depth = 2;          // pieces in flight per worker, so that none idles waiting for the next
};

// The coordinator's scheduling as a pure state machine: which piece goes to which worker, who is alive,
// what returns to the pool when a worker dies. It performs no I/O; time is passed in, so that unit tests
// drive every failure without MPI.
class Scheduler {
 public:
  Scheduler(const std::vector<int>& workers, SchedulerOptions options);

  // Adds a piece to the pool; returns its id (ids count up from 1).
  uint64_t add_piece();
  // Picks the next pending piece (oldest first) and the live worker with the fewest pieces in flight
  // (below queue_depth), marks the piece in flight, and returns (piece, worker); nullopt when none fits.
  std::optional<std::pair<uint64_t, int>> assign(double now);
  // A worker was heard from (any message): its outstanding ping is answered.
  void heard(int worker);
  // A result for piece from worker. Returns true when it is to be used: false for a late or duplicate
  // result (the worker is dead, or the piece was reassigned or is already finished).
  bool complete(uint64_t piece, int worker, bool failed);
  // The workers that should be pinged now (each at most once per ping_interval); records the pings.
  std::vector<int> pings_due(double now);
  // Applies deadlines: returns the workers newly declared dead, each with the number of its pieces that
  // are pending again.
  std::vector<std::pair<int, size_t>> expire(double now);
  // Declares a worker dead at once (e.g. it sent garbage); returns how many of its pieces are pending again.
  size_t declare_dead(int worker);

  WorkerState worker_state(int worker) const;
  PieceState piece_state(uint64_t piece) const;
  // The worker a piece is in flight on, or -1.
  int piece_worker(uint64_t piece) const;
  // Workers not dead.
  int live_workers() const;
  // Pieces pending or in flight.
  size_t unfinished() const;
  // Pieces in flight on a worker.
  size_t in_flight(int worker) const;

 private:
  struct Worker {
    WorkerState state = WorkerState::kIdle;
    double last_ping_sent = -1e300;
    double ping_outstanding_since = -1;  // < 0: no unanswered ping
    std::vector<uint64_t> pieces;
  };
  struct Piece {
    PieceState state = PieceState::kPending;
    int worker = -1;
    double sent_at = 0;
  };
  size_t requeue_pieces_of(Worker& worker);
  void refresh_state(Worker& worker);

  SchedulerOptions options_;
  std::map<int, Worker> workers_;
  std::unordered_map<uint64_t, Piece> pieces_;  // pending and in flight only: memory stays bounded
  std::vector<PieceState> outcomes_;            // the outcome of every piece, by id (one byte each)
  size_t unoutcomes_ = 0;
  std::deque<uint64_t> pending_;
  uint64_t next_piece_ = 1;
};

}  // namespace dips
