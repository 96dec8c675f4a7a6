#include "dips/scheduler.h"

#include <algorithm>

namespace dips {

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {}

Scheduler::Scheduler(const std::vector<int>& workers, SchedulerOptions options) : options_(options) {
  for (int worker : workers) add_worker(worker, 1);
}

void Scheduler::add_worker(int id, int threads, int host) {
  Worker& worker = workers_[id];
  worker.threads = std::max(1, threads);
  worker.host = host;
  refresh_standby();
}

void Scheduler::limit_host(int host, int cores) {
  host_cores_[host] = std::max(0, cores);
  refresh_standby();
}

int Scheduler::host_limit(int host) const {
  const auto limit = host_cores_.find(host);
  return limit == host_cores_.end() ? 0 : limit->second;
}

// Workers are visited in rank order, so that the same ones keep working as long as they live. A suspect
// leaves its cores to the next one at once instead of a ping timeout later: a worker dead holding a deep
// queue of small pieces otherwise kept the one standing by idle while the job waited for them. One that
// stands by again (the suspect answered) finishes the pieces it holds.
void Scheduler::refresh_standby() {
  std::map<int, int> working;  // host -> compute threads of its workers that take pieces
  for (auto& [rank, worker] : workers_) {
    worker.standby = false;
    if (worker.state == WorkerState::kDead || worker.draining || worker.host < 0) continue;
    auto limit = host_cores_.find(worker.host);
    int& threads = working[worker.host];
    const bool full = limit != host_cores_.end() && limit->second > 0 && threads > 0 && threads + worker.threads > limit->second;
    if (full) {
      worker.standby = true;
      continue;
    }
    if (worker.state != WorkerState::kSuspect) threads += worker.threads;
  }
}

uint64_t Scheduler::add_piece(double cost) {
  const uint64_t id = next_piece_++;
  Piece& piece = pieces_[id];
  piece.cost = std::max(0.0, cost);
  outcomes_.push_back(PieceState::kPending);
  ++unfinished_;
  pending_.push_back(id);
  return id;
}

bool Scheduler::has_room(const Worker& worker, double cost, double share, double now) const {
  if (!takes_pieces(worker)) return false;
  const size_t count = worker.pieces.size();
  const size_t threads = static_cast<size_t>(worker.threads);
  const size_t depth = static_cast<size_t>(std::max(1, options_.queue_depth));
  if (count < threads * depth) return true;
  if (count >= threads * static_cast<size_t>(std::max(1, options_.max_in_flight))) return false;
  if (options_.lookahead <= 0) return false;
  const double horizon = options_.lookahead * worker.threads;
  // Small pieces: as many as fill the lookahead. Larger ones: one more per thread once what the worker
  // holds is about to run out, so that the next is there when a thread is through (a result's way to
  // rank 0 and the next piece's way back take milliseconds, each side waking from its poll: 7% of a job
  // of 0.1 s photos went that way). Not before a result of the worker's is back: until then its pieces
  // were priced by a guess, and a photo of 0.8 s priced at 0.1 s would look about to end at once.
  const double left = work_left(worker, now);
  const bool fills = worker.cost_in_flight + cost <= horizon + 1e-9;
  const bool runs_out = !fills && worker.measured && count < threads * (depth + 1) && left - queued_cost(worker) < horizon;
  return (fills || runs_out) && left + cost <= share * worker.threads + 1e-9;
}

// The charged work of what a worker holds beyond one piece per thread (those are running).
double Scheduler::queued_cost(const Worker& worker) const {
  double queued = 0;
  for (size_t i = static_cast<size_t>(worker.threads); i < worker.pieces.size(); ++i) queued += pieces_.at(worker.pieces[i]).cost;
  return queued;
}

// The estimated work a worker still has of what it holds: what it was charged, less what its threads
// have done since its last result (or since its first piece, when it had none).
double Scheduler::work_left(const Worker& worker, double now) const {
  return std::max(0.0, worker.cost_in_flight - std::max(0.0, now - worker.last_result) * worker.threads);
}

// Per thread, the estimated work left in the job: the pending pieces (priced like the next one, as
// pieces of a job mostly are alike) and what the live workers still have of theirs. Threads standing by
// take no share: counted, they cut the working ones' share and kept them short of pieces.
double Scheduler::fair_share(double next_cost, double now) const {
  double left = static_cast<double>(pending_.size()) * next_cost;
  int threads = 0;
  for (const auto& [rank, worker] : workers_) {
    if (worker.state == WorkerState::kDead || worker.standby) continue;
    left += work_left(worker, now);
    threads += worker.threads;
  }
  return threads > 0 ? left / threads : left;
}

std::optional<uint64_t> Scheduler::next_pending() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.front();
}

void Scheduler::reprice(uint64_t id, double cost) {
  auto piece = pieces_.find(id);
  if (piece != pieces_.end() && piece->second.state == PieceState::kPending) piece->second.cost = std::max(0.0, cost);
}

std::optional<Assignment> Scheduler::assign(double now) {
  if (pending_.empty()) return options_.copy_from_suspects ? assign_copy(now) : std::nullopt;
  const uint64_t id = pending_.front();
  Piece& piece = pieces_[id];
  const double share = fair_share(piece.cost, now);
  int best = -1;
  double best_load = 0;
  for (auto& [rank, worker] : workers_) {
    if (!has_room(worker, piece.cost, share, now)) continue;
    // Least work per thread first; among equals, fewest pieces per thread (costs may all be unknown).
    const double load = worker.cost_in_flight / worker.threads + 1e-9 * worker.pieces.size() / worker.threads;
    if (best < 0 || load < best_load) {
      best = rank;
      best_load = load;
    }
  }
  if (best < 0) return std::nullopt;
  pending_.pop_front();
  piece.state = PieceState::kInFlight;
  piece.worker = best;
  piece.sent_at = now;
  hold(workers_[best], id, piece.cost, now);
  return Assignment{id, best};
}

// A worker that may be given pieces, new ones or copies: alive, answering pings, not leaving, not standing by.
bool Scheduler::takes_pieces(const Worker& worker) {
  return worker.state != WorkerState::kDead && worker.state != WorkerState::kSuspect && !worker.draining && !worker.standby;
}

// The worker holds the piece now (let_go's twin).
void Scheduler::hold(Worker& worker, uint64_t id, double cost, double now) {
  if (worker.pieces.empty()) worker.last_result = now;  // a piece-timeout clock starts with its first piece
  worker.pieces.push_back(id);
  worker.cost_in_flight += cost;
  refresh_state(worker);
}

// The worker with the most free compute threads (at least one: a copy never waits behind other work).
int Scheduler::free_thread_worker() const {
  int best = -1;
  double best_busy = 1;
  for (const auto& [rank, worker] : workers_) {
    if (!takes_pieces(worker)) continue;
    const double busy = static_cast<double>(worker.pieces.size()) / worker.threads;
    if (busy < best_busy) {
      best = rank;
      best_busy = busy;
    }
  }
  return best;
}

std::optional<Assignment> Scheduler::assign_copy(double now) {
  const int taker = free_thread_worker();
  if (taker < 0) return std::nullopt;
  for (auto& [rank, worker] : workers_) {
    if (worker.state != WorkerState::kSuspect) continue;
    for (uint64_t id : worker.pieces) {  // oldest first
      Piece& piece = pieces_[id];
      if (piece.worker != rank || piece.copy >= 0) continue;
      piece.copy = taker;
      piece.copy_sent_at = now;
      hold(workers_[taker], id, piece.cost, now);
      return Assignment{id, taker, true};
    }
  }
  return std::nullopt;
}

void Scheduler::heard(int rank) {
  auto it = workers_.find(rank);
  if (it == workers_.end() || it->second.state == WorkerState::kDead) return;
  it->second.ping_outstanding_since = -1;
  const bool was_suspect = it->second.state == WorkerState::kSuspect;
  if (was_suspect) it->second.state = WorkerState::kIdle;
  refresh_state(it->second);
  if (was_suspect) refresh_standby();
}

bool Scheduler::complete(uint64_t id, int rank, bool failed, double now) {
  auto piece = pieces_.find(id);
  auto worker = workers_.find(rank);
  if (piece == pieces_.end() || worker == workers_.end()) return false;
  // A dead worker's pieces were handed to others: its late results must not count a second time.
  if (worker->second.state == WorkerState::kDead) return false;
  // Only a worker the piece is in flight on may complete it (not a previous holder, not a duplicate).
  const Piece& done = piece->second;
  if (done.state != PieceState::kInFlight || (done.worker != rank && done.copy != rank)) return false;
  Worker& w = worker->second;
  w.last_result = now;
  w.measured = w.measured || !failed;  // a failure (or a piece settled unsent) measured nothing
  const int other = done.worker == rank ? done.copy : done.worker;
  let_go(rank, id, done.cost);
  if (other >= 0) let_go(other, id, done.cost);  // its result, should it come, is a duplicate
  outcomes_[id - 1] = failed ? PieceState::kFailed : PieceState::kDone;
  pieces_.erase(piece);
  --unfinished_;
  return true;
}

// The worker no longer holds the piece.
void Scheduler::let_go(int rank, uint64_t id, double cost) {
  auto it = workers_.find(rank);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  w.cost_in_flight = std::max(0.0, w.cost_in_flight - cost);
  // Pieces mostly come back in the order they were sent: the search ends near the front.
  const auto held = std::find(w.pieces.begin(), w.pieces.end(), id);
  if (held != w.pieces.end()) w.pieces.erase(held);
  if (w.pieces.empty()) w.cost_in_flight = 0;  // no rounding drift
  refresh_state(w);
}

std::vector<int> Scheduler::pings_due(double now) {
  std::vector<int> due;
  for (auto& [rank, worker] : workers_) {
    if (worker.state == WorkerState::kDead || now - worker.last_ping_sent < options_.ping_interval) continue;
    worker.last_ping_sent = now;
    if (worker.ping_outstanding_since < 0) worker.ping_outstanding_since = now;
    due.push_back(rank);
  }
  return due;
}

std::vector<std::pair<int, std::vector<uint64_t>>> Scheduler::expire(double now) {
  std::vector<std::pair<int, std::vector<uint64_t>>> dead;
  bool suspicion_changed = false;
  for (auto& [rank, worker] : workers_) {
    if (worker.state == WorkerState::kDead) continue;
    const bool ping_missed = worker.ping_outstanding_since >= 0 && now - worker.ping_outstanding_since > options_.ping_timeout;
    // A worker that keeps returning results is not hung, however long its queue: the clock is the later
    // of its last result and the moment its oldest piece was sent.
    bool hung = false;
    if (options_.piece_timeout > 0 && !worker.pieces.empty()) {
      const Piece& front = pieces_[worker.pieces.front()];
      const double oldest = front.copy == rank ? front.copy_sent_at : front.sent_at;
      hung = now - std::max(oldest, worker.last_result) > options_.piece_timeout;
    }
    if (ping_missed || hung) {
      dead.emplace_back(rank, declare_dead(rank));
      continue;
    }
    const bool overdue = worker.ping_outstanding_since >= 0 && now - worker.ping_outstanding_since > options_.ping_interval;
    suspicion_changed = suspicion_changed || overdue != (worker.state == WorkerState::kSuspect);
    if (overdue) {
      worker.state = WorkerState::kSuspect;
    } else if (worker.state == WorkerState::kSuspect) {
      worker.state = WorkerState::kIdle;
    }
    refresh_state(worker);
  }
  if (suspicion_changed) refresh_standby();
  return dead;
}

std::vector<uint64_t> Scheduler::declare_dead(int rank) {
  auto it = workers_.find(rank);
  if (it == workers_.end() || it->second.state == WorkerState::kDead) return {};
  std::vector<uint64_t> requeued = requeue_pieces_of(rank, it->second);
  it->second.state = WorkerState::kDead;
  refresh_standby();
  return requeued;
}

std::vector<uint64_t> Scheduler::requeue_pieces_of(int rank, Worker& worker) {
  std::vector<uint64_t> requeued;
  // Back to the front of the pool, in their original order: they are the oldest work. A piece with a
  // second holder stays with that one.
  for (auto it = worker.pieces.rbegin(); it != worker.pieces.rend(); ++it) {
    Piece& piece = pieces_[*it];
    if (piece.copy == rank) {
      piece.copy = -1;
    } else if (piece.copy >= 0) {
      piece.worker = piece.copy;
      piece.sent_at = piece.copy_sent_at;
      piece.copy = -1;
    } else {
      piece.state = PieceState::kPending;
      piece.worker = -1;
      pending_.push_front(*it);
      requeued.push_back(*it);
    }
  }
  std::reverse(requeued.begin(), requeued.end());
  worker.pieces.clear();
  worker.cost_in_flight = 0;
  return requeued;
}

void Scheduler::refresh_state(Worker& worker) {
  if (worker.state == WorkerState::kDead || worker.state == WorkerState::kSuspect) return;
  worker.state = worker.pieces.empty() ? WorkerState::kIdle : WorkerState::kBusy;
}

void Scheduler::drain(int rank) {
  auto it = workers_.find(rank);
  if (it == workers_.end()) return;
  it->second.draining = true;
  refresh_standby();
}

bool Scheduler::drained(int rank) const {
  auto it = workers_.find(rank);
  return it != workers_.end() && it->second.draining && it->second.pieces.empty() && it->second.state != WorkerState::kDead;
}

std::vector<uint64_t> Scheduler::remove_worker(int rank) {
  auto it = workers_.find(rank);
  if (it == workers_.end()) return {};
  std::vector<uint64_t> requeued = requeue_pieces_of(rank, it->second);
  workers_.erase(it);
  refresh_standby();
  return requeued;
}

void Scheduler::pause(double seconds) {
  for (auto& [rank, worker] : workers_) {
    if (worker.ping_outstanding_since >= 0) worker.ping_outstanding_since += seconds;
  }
}

WorkerState Scheduler::worker_state(int rank) const {
  auto it = workers_.find(rank);
  return it == workers_.end() ? WorkerState::kDead : it->second.state;
}

PieceState Scheduler::piece_state(uint64_t id) const {
  auto it = pieces_.find(id);
  if (it != pieces_.end()) return it->second.state;
  return id >= 1 && id <= outcomes_.size() ? outcomes_[id - 1] : PieceState::kFailed;
}

int Scheduler::piece_worker(uint64_t id) const {
  auto it = pieces_.find(id);
  return it == pieces_.end() ? -1 : it->second.worker;
}

int Scheduler::piece_copy(uint64_t id) const {
  auto it = pieces_.find(id);
  return it == pieces_.end() ? -1 : it->second.copy;
}

std::vector<int> Scheduler::suspects() const {
  std::vector<int> ids;
  for (const auto& [rank, worker] : workers_) {
    if (worker.state == WorkerState::kSuspect) ids.push_back(rank);
  }
  return ids;
}

int Scheduler::live_workers() const {
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(),
                                        [](const auto& w) { return w.second.state != WorkerState::kDead; }));
}

int Scheduler::working_threads() const {
  int threads = 0;
  for (const auto& [rank, worker] : workers_) {
    // A suspect takes no new pieces, and one standing by has taken over from it: counting both made the
    // granularity policy plan for two threads on one core while the suspicion lasted.
    if (worker.state != WorkerState::kDead && worker.state != WorkerState::kSuspect && !worker.standby) threads += worker.threads;
  }
  return threads;
}

bool Scheduler::standing_by(int rank) const {
  auto it = workers_.find(rank);
  return it != workers_.end() && it->second.standby;
}

size_t Scheduler::unfinished() const { return unfinished_; }

size_t Scheduler::in_flight(int rank) const {
  auto it = workers_.find(rank);
  return it == workers_.end() ? 0 : it->second.pieces.size();
}

std::vector<int> Scheduler::workers() const {
  std::vector<int> ids;
  for (const auto& [rank, worker] : workers_) ids.push_back(rank);
  return ids;
}

}  // namespace dips
