#include "dips/scheduler.h"

#include <algorithm>

namespace dips {

Scheduler::Scheduler(const std::vector<int>& workers, SchedulerOptions options) : options_(options) {
  for (int rank : workers) workers_[rank] = Worker();
}

uint64_t Scheduler::add_piece() {
  const uint64_t id = next_piece_++;
  pieces_[id] = Piece();
  outcomes_.push_back(PieceState::kPending);
  ++unoutcomes_;
  pending_.push_back(id);
  return id;
}

std::optional<std::pair<uint64_t, int>> Scheduler::assign(double now) {
  if (pending_.empty()) return std::nullopt;
  int best = -1;
  size_t best_load = 0;
  for (auto& [rank, worker] : workers_) {
    if (worker.state == WorkerState::kDead || worker.state == WorkerState::kSuspect) continue;
    const size_t load = worker.pieces.size();
    if (load >= static_cast<size_t>(options_.queue_depth)) continue;
    if (best < 0 || load < best_load) {
      best = rank;
      best_load = load;
    }
  }
  if (best < 0) return std::nullopt;
  const uint64_t id = pending_.front();
  pending_.pop_front();
  Piece& piece = pieces_[id];
  piece.state = PieceState::kInFlight;
  piece.worker = best;
  piece.sent_at = now;
  Worker& worker = workers_[best];
  worker.pieces.push_back(id);
  refresh_state(worker);
  return std::make_pair(id, best);
}

void Scheduler::heard(int rank) {
  auto it = workers_.find(rank);
  if (it == workers_.end() || it->second.state == WorkerState::kDead) return;
  it->second.ping_outstanding_since = -1;
  refresh_state(it->second);
}

bool Scheduler::complete(uint64_t id, int rank, bool failed) {
  auto piece = pieces_.find(id);
  auto worker = workers_.find(rank);
  if (piece == pieces_.end() || worker == workers_.end()) return false;
  if (worker->second.state == WorkerState::kDead) return false;
  if (piece->second.state != PieceState::kInFlight || piece->second.worker != rank) return false;
  outcomes_[id - 1] = failed ? PieceState::kFailed : PieceState::kDone;
  pieces_.erase(piece);
  --unoutcomes_;
  auto& list = worker->second.pieces;
  list.erase(std::remove(list.begin(), list.end(), id), list.end());
  refresh_state(worker->second);
  return true;
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

std::vector<std::pair<int, size_t>> Scheduler::expire(double now) {
  std::vector<std::pair<int, size_t>> dead;
  for (auto& [rank, worker] : workers_) {
    if (worker.state == WorkerState::kDead) continue;
    const bool ping_missed = worker.ping_outstanding_since >= 0 && now - worker.ping_outstanding_since > options_.ping_timeout;
    bool piece_overdue = false;
    if (options_.piece_timeout > 0) {
      for (uint64_t id : worker.pieces) piece_overdue |= now - pieces_[id].sent_at > options_.piece_timeout;
    }
    if (ping_missed || piece_overdue) {
      dead.emplace_back(rank, declare_dead(rank));
      continue;
    }
    const bool overdue = worker.ping_outstanding_since >= 0 && now - worker.ping_outstanding_since > options_.ping_interval;
    worker.state = overdue ? WorkerState::kSuspect : WorkerState::kIdle;
    refresh_state(worker);
  }
  return dead;
}

size_t Scheduler::declare_dead(int rank) {
  auto it = workers_.find(rank);
  if (it == workers_.end() || it->second.state == WorkerState::kDead) return 0;
  const size_t requeued = requeue_pieces_of(it->second);
  it->second.state = WorkerState::kDead;
  return requeued;
}

size_t Scheduler::requeue_pieces_of(Worker& worker) {
  const size_t count = worker.pieces.size();
  // Back to the front of the pool, in their original order: they are the oldest work.
  for (auto it = worker.pieces.rbegin(); it != worker.pieces.rend(); ++it) {
    Piece& piece = pieces_[*it];
    piece.state = PieceState::kPending;
    piece.worker = -1;
    pending_.push_front(*it);
  }
  worker.pieces.clear();
  return count;
}

void Scheduler::refresh_state(Worker& worker) {
  if (worker.state == WorkerState::kDead) return;
  const bool suspect = worker.state == WorkerState::kSuspect && worker.ping_outstanding_since >= 0;
  if (suspect) return;
  worker.state = worker.pieces.empty() ? WorkerState::kIdle : WorkerState::kBusy;
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

int Scheduler::live_workers() const {
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(),
                                        [](const auto& w) { return w.second.state != WorkerState::kDead; }));
}

size_t Scheduler::unfinished() const {
  return unoutcomes_;
}

size_t Scheduler::in_flight(int rank) const {
  auto it = workers_.find(rank);
  return it == workers_.end() ? 0 : it->second.pieces.size();
}

}  // namespace dips
