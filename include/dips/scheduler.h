#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
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

// Deadlines and flow control of the scheduler; times in seconds.
struct SchedulerOptions {
  double ping_interval = 0.2;  // a ping to each live worker this often
  double ping_timeout = 1.5;   // no answer to a ping within this: the worker is dead
  double piece_timeout = 0;    // a worker whose oldest piece has waited this long with no result from it is hung (0: no limit)
  int queue_depth = 1;         // pieces in flight per compute thread, at least: one running
  double lookahead = 0.1;      // more pieces while a worker's estimated work in flight per thread stays within this,
                               // so that it never idles waiting for the next message
  int max_in_flight = 256;     // pieces in flight per compute thread, at most
  bool copy_from_suspects = true;  // once no piece is pending, a suspect's pieces are also given to free threads
};

// One decision of the scheduler: this piece goes to this worker.
struct Assignment {
  uint64_t piece = 0;
  int worker = -1;
  bool copy = false;  // the piece stays in flight on a suspect too: whichever result comes first counts
};

// The coordinator's scheduling as a pure state machine: which piece goes to which worker, who is alive,
// what returns to the pool when a worker dies. It performs no I/O; time is passed in, so that unit tests
// drive every failure without MPI. Pieces carry an estimated cost (seconds of work); a worker is kept
// supplied with enough estimated work for each of its compute threads, and no more, so that small pieces
// travel many at a time and large ones one at a time, the next sent shortly before a worker is through
// (once a result of its is back: before, its pieces were priced by a guess). Beyond its first queue_depth pieces per thread no
// worker is given more than its share of the work left (the pending pieces and what every worker still has
// of its own), which binds at the job's tail: a worker finishing a long piece finds the last short ones
// still pending, not queued behind another's.
class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);
  // Shorthand for tests: these workers, one compute thread each.
  Scheduler(const std::vector<int>& workers, SchedulerOptions options);

  // A worker joins (or tells its thread count) on machine `host` (an id the caller gives each machine; -1:
  // unknown); it starts idle and is pinged from now on.
  void add_worker(int worker, int threads, int host = -1);
  // At most `cores` compute threads of the workers on `host` take pieces (0: no limit). Its other workers
  // stand by: 16 workers sharing 2 cores spent their time switching between each other (the same job took
  // them 17% longer than 2 workers), and a worker standing by costs a ping now and then. The workers that
  // take pieces are the lowest ranks that fill the cores (always at least one); when one is lost, drained,
  // removed or suspect (a ping overdue), the next one standing by takes over at once, and stands by again
  // when the suspect answers (finishing the pieces it holds, taking no more).
  void limit_host(int host, int cores);
  // The limit limit_host set for `host` (0: none).
  int host_limit(int host) const;
  // Adds a piece to the pool; returns its id (ids count up from 1).
  uint64_t add_piece(double cost = 0);
  // Picks the oldest pending piece and a live, unsuspected worker with room for it (the one with the least
  // estimated work per thread), marks the piece in flight there; nullopt when none fits. With no piece
  // pending (the job's tail) and copy_from_suspects, a worker with a thread free gets a copy of the oldest
  // piece held by a suspect (a ping overdue) that has none yet: a worker killed at the tail otherwise kept
  // the job waiting for its ping timeout (1.0-1.5 s of a 3.7 s job) while the others idled. Every piece
  // may be done twice (a worker thought dead may still be running it), so a copy costs only a free thread.
  std::optional<Assignment> assign(double now);
  // The piece assign() would pick next, if any.
  std::optional<uint64_t> next_pending() const;
  // A new estimate for a pending piece (the cost model learned since it was pooled: a job's first pieces
  // were priced by a guess). A piece in flight keeps the cost its worker's account was charged with.
  void reprice(uint64_t piece, double cost);
  // A worker was heard from (any message): its outstanding ping is answered.
  void heard(int worker);
  // A result for piece from worker. Returns true when it is to be used: false for a late or duplicate
  // result (the worker is dead, or the piece was reassigned or is already finished). Of a piece with a
  // copy, the first result of either holder counts, and the piece leaves both.
  bool complete(uint64_t piece, int worker, bool failed, double now = 0);
  // The workers that should be pinged now (each at most once per ping_interval); records the pings.
  std::vector<int> pings_due(double now);
  // Applies deadlines: returns the workers newly declared dead, each with its pieces now pending again
  // (a piece with a copy on a live worker stays there instead and is not among them).
  std::vector<std::pair<int, std::vector<uint64_t>>> expire(double now);
  // Declares a worker dead at once (it sent garbage, or it was lost); returns its pieces, pending again.
  std::vector<uint64_t> declare_dead(int worker);

  // The worker gets no new pieces; it finishes those it holds and is still pinged (it is being retired).
  void drain(int worker);
  // Draining and holding no piece: ready to be told to stop.
  bool drained(int worker) const;
  // Forgets a worker that stopped (after draining); returns its pieces, pending again (none if drained).
  std::vector<uint64_t> remove_worker(int worker);
  // Rank 0 could not read messages for `seconds` (it was starting a worker): the answers to pings that
  // were outstanding could not be read either, so their deadlines move on by that much.
  void pause(double seconds);

  WorkerState worker_state(int worker) const;
  PieceState piece_state(uint64_t piece) const;
  // The worker a piece is in flight on (the first, for a piece with a copy), or -1.
  int piece_worker(uint64_t piece) const;
  // The worker holding a copy of a piece in flight, or -1.
  int piece_copy(uint64_t piece) const;
  // The workers suspect now (a ping overdue by --ping-interval, not yet its timeout).
  std::vector<int> suspects() const;
  // Workers not dead.
  int live_workers() const;
  // Compute threads of the workers neither dead, suspect nor standing by (one draining still computes what
  // it holds).
  int working_threads() const;
  // The worker is alive and stands by (limit_host): it gets no new pieces (it finishes any it holds) until
  // a working one leaves or is suspect.
  bool standing_by(int worker) const;
  // Pieces pending or in flight.
  size_t unfinished() const;
  // Pieces waiting for a worker.
  size_t pending() const { return pending_.size(); }
  // Pieces in flight on a worker.
  size_t in_flight(int worker) const;
  // Every worker ever added, by id.
  std::vector<int> workers() const;

 private:
  struct Worker {
    WorkerState state = WorkerState::kIdle;
    int threads = 1;
    double last_ping_sent = -1e300;
    double ping_outstanding_since = -1;  // < 0: no unanswered ping
    double last_result = 0;
    double cost_in_flight = 0;
    bool measured = false;  // a result is back: what it holds was priced from results, not a first guess
    bool draining = false;
    bool standby = false;
    int host = -1;
    std::vector<uint64_t> pieces;
  };
  struct Piece {
    PieceState state = PieceState::kPending;
    int worker = -1;
    double sent_at = 0;
    double cost = 0;
    int copy = -1;  // a second holder, given it while `worker` was suspect
    double copy_sent_at = 0;
  };
  bool has_room(const Worker& worker, double cost, double share, double now) const;
  double work_left(const Worker& worker, double now) const;
  double queued_cost(const Worker& worker) const;
  double fair_share(double next_cost, double now) const;
  std::vector<uint64_t> requeue_pieces_of(int rank, Worker& worker);
  std::optional<Assignment> assign_copy(double now);
  int free_thread_worker() const;
  static bool takes_pieces(const Worker& worker);
  void hold(Worker& worker, uint64_t id, double cost, double now);
  void let_go(int rank, uint64_t id, double cost);
  void refresh_state(Worker& worker);
  void refresh_standby();

  SchedulerOptions options_;
  std::map<int, Worker> workers_;
  std::map<int, int> host_cores_;  // limit_host
  std::unordered_map<uint64_t, Piece> pieces_;  // pending and in flight only: memory stays bounded
  std::vector<PieceState> outcomes_;            // the outcome of every piece, by id (one byte each)
  size_t unfinished_ = 0;
  std::deque<uint64_t> pending_;
  uint64_t next_piece_ = 1;
};

}  // namespace dips
