// scheduler: the pure state machine of workers and pieces (no MPI): assignment and flow control by
// estimated work, suspect and dead workers, pieces handed back exactly once, late and duplicate results.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <vector>

#include "dips/scheduler.h"

using namespace dips;

namespace {

SchedulerOptions options(double ping_interval, double ping_timeout, double piece_timeout, int queue_depth, double lookahead = 0) {
  SchedulerOptions o;
  o.ping_interval = ping_interval;
  o.ping_timeout = ping_timeout;
  o.piece_timeout = piece_timeout;
  o.queue_depth = queue_depth;
  o.lookahead = lookahead;
  return o;
}

}  // namespace

TEST_CASE("scheduler: pieces go to the least loaded live worker, up to the queue depth", "[scheduler]") {
  Scheduler s({1, 2}, options(0.2, 1.0, 0, 2));
  std::vector<uint64_t> pieces;
  for (int i = 0; i < 6; ++i) pieces.push_back(s.add_piece());
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->worker];
  CHECK(load == std::map<int, int>{{1, 2}, {2, 2}});
  CHECK(s.worker_state(1) == WorkerState::kBusy);
  CHECK(s.piece_state(pieces[4]) == PieceState::kPending);
  REQUIRE(s.complete(pieces[0], s.piece_worker(pieces[0]), false));
  auto next = s.assign(0.01);
  REQUIRE(next);
  CHECK(next->piece == pieces[4]);  // oldest pending first
  CHECK(s.unfinished() == 5);
}

TEST_CASE("scheduler: small pieces travel many at a time, large ones one at a time", "[scheduler]") {
  SchedulerOptions o = options(0.2, 1.0, 0, 1, 0.1);
  o.max_in_flight = 100;
  Scheduler s(o);
  s.add_worker(1, 1);
  s.add_worker(2, 2);  // two compute threads: twice the room
  for (int i = 0; i < 1000; ++i) s.add_piece(0.001);  // 1 ms each: thumbnails
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->worker];
  CHECK(load[1] == 100);  // 0.1 s of work would be 100 pieces: capped by max_in_flight as well
  CHECK(load[2] == 200);
  Scheduler big(o);
  big.add_worker(1, 1);
  for (int i = 0; i < 5; ++i) big.add_piece(0.5);  // half a second each: photos
  int assigned = 0;
  while (big.assign(0)) ++assigned;
  CHECK(assigned == 1);  // the next goes when this one is nearly done, so the tail stays balanced
  Scheduler medium(o);
  medium.add_worker(1, 1);
  for (int i = 0; i < 10; ++i) medium.add_piece(0.03);
  assigned = 0;
  while (medium.assign(0)) ++assigned;
  CHECK(assigned == 3);  // 0.09 s within the 0.1 s lookahead, a fourth would not be
}

TEST_CASE("scheduler: a silent worker is suspect, then dead; its pieces go to the others exactly once", "[scheduler]") {
  Scheduler s({1, 2}, options(0.2, 1.0, 0, 2));
  const uint64_t a = s.add_piece(), b = s.add_piece(), c = s.add_piece();
  s.assign(0);
  s.assign(0);
  s.assign(0);
  const int victim = s.piece_worker(a);
  const int survivor = victim == 1 ? 2 : 1;
  CHECK(s.pings_due(0).size() == 2);
  s.heard(survivor);
  CHECK(s.expire(0.3).empty());
  CHECK(s.worker_state(victim) == WorkerState::kSuspect);  // a ping overdue: no new work for it
  CHECK(s.pings_due(0.3).size() == 2);
  s.heard(survivor);
  const auto dead = s.expire(1.1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].first == victim);
  CHECK(dead[0].second.size() == 2);  // both of its pieces went back
  CHECK(s.worker_state(victim) == WorkerState::kDead);
  CHECK(s.piece_state(a) == PieceState::kPending);
  // The survivor takes them once it has room; a late result from the dead worker is ignored.
  CHECK_FALSE(s.complete(a, victim, false));
  for (uint64_t p : {a, b, c}) {
    if (s.piece_worker(p) == survivor) REQUIRE(s.complete(p, survivor, false));
  }
  while (auto next = s.assign(1.2)) {
    CHECK(next->worker == survivor);
    REQUIRE(s.complete(next->piece, survivor, false));
    CHECK_FALSE(s.complete(next->piece, survivor, false));  // a duplicate is not counted twice
  }
  CHECK(s.unfinished() == 0);
  CHECK(s.live_workers() == 1);
  CHECK(s.pings_due(2.0) == std::vector<int>{survivor});  // the dead are never pinged again
}

TEST_CASE("scheduler: a late result from a dead worker for a piece now in flight on a survivor is refused", "[scheduler]") {
  // The guard cases a state check alone would miss: the piece is in flight again (on the survivor), so
  // only "the sender is dead" and "the sender is not the piece's worker" can refuse the late result.
  Scheduler s({1, 2}, options(0.2, 1.0, 0, 1));
  const uint64_t piece = s.add_piece();
  const auto first = s.assign(0);
  REQUIRE(first);
  const int victim = first->worker, survivor = victim == 1 ? 2 : 1;
  REQUIRE(s.declare_dead(victim) == std::vector<uint64_t>{piece});
  const auto second = s.assign(0.1);
  REQUIRE(second);
  CHECK(second->piece == piece);
  CHECK(second->worker == survivor);
  CHECK(s.piece_state(piece) == PieceState::kInFlight);
  CHECK_FALSE(s.complete(piece, victim, false));  // dead sender
  CHECK(s.piece_state(piece) == PieceState::kInFlight);
  CHECK(s.piece_worker(piece) == survivor);
  // A live worker that does not hold the piece (a stale copy of it) is refused as well.
  Scheduler t({1, 2, 3}, options(0.2, 1.0, 0, 1));
  const uint64_t p = t.add_piece();
  const auto held = t.assign(0);
  REQUIRE(held);
  const int other = held->worker == 1 ? 2 : 1;
  CHECK_FALSE(t.complete(p, other, false));
  CHECK(t.piece_worker(p) == held->worker);
  CHECK(t.complete(p, held->worker, false));
  CHECK(t.piece_state(p) == PieceState::kDone);
  CHECK(s.complete(piece, survivor, false));
  CHECK(s.piece_state(piece) == PieceState::kDone);
}

TEST_CASE("scheduler: a busy worker that answers pings is never declared dead, however long its piece", "[scheduler]") {
  Scheduler s({1}, options(0.2, 1.0, 0, 1));
  const uint64_t piece = s.add_piece();
  REQUIRE(s.assign(0));
  for (double t = 0; t < 600; t += 0.2) {
    for (int w : s.pings_due(t)) s.heard(w);
    REQUIRE(s.expire(t + 0.1).empty());
  }
  CHECK(s.worker_state(1) == WorkerState::kBusy);
  CHECK(s.complete(piece, 1, false));
}

TEST_CASE("scheduler: the piece deadline catches a worker whose computation hangs", "[scheduler]") {
  Scheduler s({1, 2}, options(0.2, 1.0, 5.0, 1));
  s.add_piece();
  REQUIRE(s.assign(0));
  for (double t = 0; t < 5.0; t += 0.2) {
    for (int w : s.pings_due(t)) s.heard(w);
    REQUIRE(s.expire(t).empty());
  }
  for (int w : s.pings_due(5.2)) s.heard(w);
  CHECK(s.expire(5.2).size() == 1);
  CHECK(s.live_workers() == 1);
}

TEST_CASE("scheduler: a worker that keeps returning results is not hung, however deep its queue", "[scheduler]") {
  Scheduler s({1}, options(0.2, 1.0, 5.0, 1, 100));
  for (int i = 0; i < 20; ++i) s.add_piece(1.0);
  std::vector<uint64_t> held;
  while (auto a = s.assign(0)) held.push_back(a->piece);
  REQUIRE(held.size() > 5);  // more than 5 s of queued work: the oldest waits longer than the deadline
  double t = 0;
  for (uint64_t piece : held) {
    t += 1.0;
    for (int w : s.pings_due(t)) s.heard(w);
    REQUIRE(s.expire(t).empty());
    REQUIRE(s.complete(piece, 1, false, t));
  }
  CHECK(s.live_workers() == 1);
}

TEST_CASE("scheduler: with every worker dead nothing is assigned", "[scheduler]") {
  Scheduler s({1, 2}, options(0.2, 1.5, 0, 1));
  s.add_piece();
  s.declare_dead(1);
  CHECK(s.declare_dead(2).empty());
  CHECK(s.live_workers() == 0);
  CHECK_FALSE(s.assign(0));
}

TEST_CASE("scheduler: a draining worker gets no new pieces, finishes its own, then leaves without losing any", "[scheduler][elastic]") {
  Scheduler s({1, 2}, options(0.2, 1.0, 0, 1));
  const uint64_t a = s.add_piece(), b = s.add_piece(), c = s.add_piece();
  REQUIRE(s.assign(0));
  REQUIRE(s.assign(0));
  const int holder = s.piece_worker(a), other = holder == 1 ? 2 : 1;
  s.drain(holder);
  CHECK(!s.drained(holder));  // still holds a piece
  REQUIRE(s.complete(b, other, false));
  auto next = s.assign(0.1);
  REQUIRE(next);
  CHECK(next->worker == other);  // c goes to the other one, although the draining worker is as idle
  CHECK(next->piece == c);
  REQUIRE(s.complete(a, holder, false));
  CHECK(s.drained(holder));
  CHECK(s.remove_worker(holder).empty());
  CHECK(s.live_workers() == 1);
  CHECK(s.piece_state(a) == PieceState::kDone);
}

TEST_CASE("scheduler: a draining worker gets no piece, though it is the idlest and the others are full", "[scheduler][elastic]") {
  Scheduler s({1, 2}, options(0.2, 1.0, 0, 1));
  s.drain(1);
  CHECK(s.drained(1));  // it holds nothing: it can be told to stop at once
  const uint64_t a = s.add_piece(), b = s.add_piece();
  const auto first = s.assign(0);
  REQUIRE(first);
  CHECK(first->worker == 2);
  CHECK_FALSE(s.assign(0));  // worker 2 is full: b waits rather than going to the idle, draining worker 1
  CHECK(s.piece_state(b) == PieceState::kPending);
  CHECK(s.in_flight(1) == 0);
  REQUIRE(s.complete(a, 2, false));
  const auto second = s.assign(0.1);
  REQUIRE(second);
  CHECK(second->worker == 2);
  CHECK(second->piece == b);
}

TEST_CASE("scheduler: a pause starts no ping deadline for a worker that had no ping outstanding", "[scheduler][elastic]") {
  Scheduler s({1}, options(0.2, 1.0, 0, 1));
  s.pause(5.0);  // rank 0 spent 5 s starting a worker before any ping went out
  CHECK(s.expire(5.5).empty());
  CHECK(s.worker_state(1) == WorkerState::kIdle);
}

TEST_CASE("scheduler: a pause of rank 0 moves outstanding ping deadlines on", "[scheduler][elastic]") {
  Scheduler s({1}, options(0.2, 1.0, 0, 1));
  CHECK(s.pings_due(0) == std::vector<int>{1});
  s.pause(0.8);  // rank 0 started a worker: it could not read the answer meanwhile
  CHECK(s.expire(1.5).empty());
  CHECK(s.expire(1.81).size() == 1);
}

TEST_CASE("scheduler: a suspect worker gets no new pieces; its answer makes it eligible at once", "[scheduler]") {
  Scheduler s({1}, options(0.2, 1.0, 0, 1));
  CHECK(s.pings_due(0) == std::vector<int>{1});
  CHECK(s.expire(0.3).empty());
  REQUIRE(s.worker_state(1) == WorkerState::kSuspect);
  CHECK(s.working_threads() == 0);  // what the granularity policy plans for: no thread takes new pieces
  const uint64_t piece = s.add_piece();
  CHECK_FALSE(s.assign(0.3));
  CHECK(s.piece_state(piece) == PieceState::kPending);
  s.heard(1);
  CHECK(s.worker_state(1) == WorkerState::kIdle);
  CHECK(s.working_threads() == 1);
  const auto a = s.assign(0.31);  // before any expire() runs again
  REQUIRE(a);
  CHECK(a->piece == piece);
  CHECK(a->worker == 1);
}

TEST_CASE("scheduler: a dead worker's pieces go back first, in their order, held by nobody", "[scheduler]") {
  Scheduler s({1, 2}, options(0.2, 1.0, 0, 2));
  std::vector<uint64_t> p;
  for (int i = 0; i < 6; ++i) p.push_back(s.add_piece());
  std::map<int, std::vector<uint64_t>> held;
  while (auto a = s.assign(0)) held[a->worker].push_back(a->piece);
  REQUIRE(held[1] == std::vector<uint64_t>{p[0], p[2]});  // ties go to the lower rank, then alternate
  REQUIRE(held[2] == std::vector<uint64_t>{p[1], p[3]});
  CHECK(s.declare_dead(1) == std::vector<uint64_t>{p[0], p[2]});
  for (uint64_t piece : {p[0], p[2]}) {
    CHECK(s.piece_state(piece) == PieceState::kPending);
    CHECK(s.piece_worker(piece) == -1);
  }
  CHECK(s.pending() == 4);
  // Each result from the survivor makes room for one piece: the oldest pending.
  std::vector<uint64_t> order;
  for (uint64_t finished : {p[1], p[3], p[0], p[2]}) {
    REQUIRE(s.complete(finished, 2, false));
    const auto a = s.assign(0.1);
    REQUIRE(a);
    order.push_back(a->piece);
  }
  CHECK(order == std::vector<uint64_t>{p[0], p[2], p[4], p[5]});
  CHECK(s.unfinished() == 2);  // the last two, in flight on the survivor
}

TEST_CASE("scheduler: a failed piece is finished as failed, not as done", "[scheduler]") {
  Scheduler s({1}, options(0.2, 1.0, 0, 2));
  const uint64_t bad = s.add_piece(), good = s.add_piece();
  while (s.assign(0)) {
  }
  REQUIRE(s.complete(bad, 1, true));
  REQUIRE(s.complete(good, 1, false));
  CHECK(s.piece_state(bad) == PieceState::kFailed);
  CHECK(s.piece_state(good) == PieceState::kDone);
  CHECK(s.unfinished() == 0);
  CHECK_FALSE(s.complete(bad, 1, false));  // a second answer changes nothing
  CHECK(s.piece_state(bad) == PieceState::kFailed);
}

TEST_CASE("scheduler: a worker's room grows with its compute threads", "[scheduler]") {
  // Without lookahead: queue_depth pieces per thread.
  Scheduler s(options(0.2, 1.0, 0, 1));
  s.add_worker(1, 4);
  for (int i = 0; i < 10; ++i) s.add_piece();
  int assigned = 0;
  while (s.assign(0)) ++assigned;
  CHECK(assigned == 4);
  CHECK(s.working_threads() == 4);
}

TEST_CASE("scheduler: pieces go to the worker with the least estimated work per thread", "[scheduler]") {
  Scheduler s(options(0.2, 1.0, 0, 4));
  s.add_worker(1, 1);
  s.add_worker(2, 3);
  for (int i = 0; i < 4; ++i) s.add_piece(1.0);
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->worker];
  // 1 s on one thread weighs as much as 3 s on three: the three-thread worker takes three of the four.
  CHECK(load == std::map<int, int>{{1, 1}, {2, 3}});
}

TEST_CASE("scheduler: a result makes room for as much estimated work as it took", "[scheduler]") {
  SchedulerOptions o = options(0.2, 1.0, 0, 1, 0.1);
  Scheduler s(o);
  s.add_worker(1, 1);
  for (int i = 0; i < 10; ++i) s.add_piece(0.03);
  std::vector<uint64_t> held;
  while (auto a = s.assign(0)) held.push_back(a->piece);
  REQUIRE(held.size() == 3);  // 0.09 s of the 0.1 s lookahead
  REQUIRE(s.complete(held[0], 1, false, 0.03));
  CHECK(s.assign(0.03));      // 0.06 s left in flight: one more fits
  CHECK_FALSE(s.assign(0.03));
  CHECK(s.in_flight(1) == 3);
}

TEST_CASE("scheduler: a pending piece repriced before it is sent is charged at its new price", "[scheduler]") {
  SchedulerOptions o = options(0.2, 1.0, 0, 1, 0.1);
  Scheduler s(o);
  s.add_worker(1, 1);
  s.add_piece(0.02);
  s.add_piece(0.02);
  const uint64_t third = s.add_piece(0.05);  // priced by a first guess
  const uint64_t fourth = s.add_piece(0.05);
  REQUIRE(s.assign(0));
  REQUIRE(s.assign(0));  // 0.04 s held, two pieces: from here on only what fills the lookahead goes
  CHECK(s.next_pending() == third);
  s.reprice(third, 0.07);  // the first result said: pieces of 0.07 s
  CHECK_FALSE(s.assign(0));  // 0.04 + 0.07 is past the lookahead
  s.reprice(third, 0.05);
  const auto sent = s.assign(0);
  REQUIRE(sent);
  CHECK(sent->piece == third);
  s.reprice(third, 5.0);  // in flight: charged as sent, 0.09 s held
  s.reprice(fourth, 0.01);
  CHECK(s.assign(0));  // 0.09 + 0.01 fits
  CHECK_FALSE(s.next_pending());
  REQUIRE(s.complete(third, 1, false, 0.1));  // gives back the 0.05 it was charged, not 5
  s.add_piece(0.06);
  CHECK_FALSE(s.assign(0.1));  // 0.05 held + 0.06 is past the lookahead
}

TEST_CASE("scheduler: a worker's next large piece goes when what it holds is about to run out", "[scheduler]") {
  SchedulerOptions o = options(0.2, 1.0, 0, 1, 0.1);
  Scheduler s(o);
  s.add_worker(1, 1);
  for (int i = 0; i < 6; ++i) s.add_piece(0.5);  // photos, each longer than the lookahead
  const auto first = s.assign(0);
  REQUIRE(first);
  CHECK_FALSE(s.assign(0.45));  // priced by a guess until a result is back: nothing more
  REQUIRE(s.complete(first->piece, 1, false, 0.5));
  const auto second = s.assign(0.5);
  REQUIRE(second);
  CHECK_FALSE(s.assign(0.8));  // 0.2 s of it left
  CHECK(s.assign(0.91));       // 0.09 s left: the next is on its way before the thread is through
  CHECK_FALSE(s.assign(0.95));  // one more per thread, not more
  CHECK_FALSE(s.assign(3.0));   // even when the pieces take far longer than they were priced at
  REQUIRE(s.complete(second->piece, 1, false, 3.0));
  CHECK_FALSE(s.assign(3.0));  // the third has just started: 0.5 s left
  CHECK(s.assign(3.45));
  // Per thread: a worker of two threads holds up to two more.
  Scheduler two(o);
  two.add_worker(1, 2);
  for (int i = 0; i < 8; ++i) two.add_piece(0.5);
  const auto a = two.assign(0);
  REQUIRE(a);
  REQUIRE(two.assign(0));
  REQUIRE(two.complete(a->piece, 1, false, 0));  // a result back (failed at once)
  int held = 1;
  while (two.assign(0)) ++held;
  CHECK(held == 2);
  while (two.assign(0.46)) ++held;  // 1.0 - 2 x 0.46 = 0.08 s left, under 2 x 0.1: one more per thread
  CHECK(held == 4);
  // A failed result measured nothing: no piece is sent ahead on its strength.
  Scheduler failing(o);
  failing.add_worker(1, 1);
  for (int i = 0; i < 4; ++i) failing.add_piece(0.5);
  const auto tried = failing.assign(0);
  REQUIRE(tried);
  REQUIRE(failing.complete(tried->piece, 1, true, 0.01));
  REQUIRE(failing.assign(0.01));
  CHECK_FALSE(failing.assign(0.45));  // 0.06 s left by the guess, but the guess was never checked
  // A worker that dies holding a piece sent ahead gives both back; each is done once, elsewhere.
  Scheduler lost(options(0.2, 1.0, 0, 1, 0.1));
  lost.add_worker(1, 1);
  lost.add_worker(2, 1);
  std::vector<uint64_t> photos;
  for (int i = 0; i < 8; ++i) photos.push_back(lost.add_piece(0.5));
  REQUIRE(lost.assign(0)->worker == 1);
  REQUIRE(lost.assign(0)->worker == 2);
  REQUIRE(lost.complete(photos[0], 1, false, 0.5));
  const auto next_one = lost.assign(0.5);
  REQUIRE(next_one);
  CHECK(next_one->worker == 1);  // worker 1's second piece...
  const auto ahead = lost.assign(0.91);
  REQUIRE(ahead);
  CHECK(ahead->worker == 1);  // ...and the one sent ahead of its end
  CHECK(lost.in_flight(1) == 2);
  for (int w : lost.pings_due(0.95)) {
    if (w == 2) lost.heard(2);
  }
  const auto dead = lost.expire(2.0);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].first == 1);
  CHECK(dead[0].second == std::vector<uint64_t>{photos[2], photos[3]});
  CHECK(lost.piece_state(photos[2]) == PieceState::kPending);
  CHECK(lost.piece_state(photos[3]) == PieceState::kPending);
  CHECK_FALSE(lost.complete(photos[3], 1, false, 2.0));  // a late result of the dead worker counts for nothing
  REQUIRE(lost.complete(photos[1], 2, false, 2.0));
  double t = 2.0;
  std::set<uint64_t> done;
  while (auto next = lost.assign(t)) {
    CHECK(next->worker == 2);
    t += 0.5;
    REQUIRE(lost.complete(next->piece, 2, false, t));
    CHECK(done.insert(next->piece).second);
  }
  CHECK(done.count(photos[2]) == 1);
  CHECK(done.count(photos[3]) == 1);
  CHECK(lost.unfinished() == 0);
  // Without lookahead, queue_depth alone.
  Scheduler off(options(0.2, 1.0, 0, 1, 0));
  off.add_worker(1, 1);
  off.add_piece(0.5);
  off.add_piece(0.5);
  REQUIRE(off.assign(0));
  CHECK_FALSE(off.assign(0.49));
}

TEST_CASE("scheduler: at the job's tail a worker holds no more than its share of the work left", "[scheduler]") {
  SchedulerOptions o = options(0.2, 1.0, 0, 1, 0.1);
  Scheduler s(o);
  s.add_worker(1, 1);
  s.add_worker(2, 1);
  s.add_piece(0.5);  // a long piece...
  REQUIRE(s.assign(0)->worker == 1);
  for (int i = 0; i < 6; ++i) s.add_piece(0.02);  // ...then the job's last short ones
  std::map<int, int> load;
  while (auto a = s.assign(0.45)) ++load[a->worker];
  // Left at 0.45 s: 0.12 s pending and 0.05 s of worker 1's piece, 0.085 s per thread. Worker 2 takes
  // 0.08 s of it (the lookahead alone would let it take 0.1 s, five pieces); two wait for worker 1, whose
  // piece ends before worker 2 is through its four (its piece was priced by a guess: no next one is sent
  // ahead of its result).
  CHECK(load == std::map<int, int>{{2, 4}});
  CHECK(s.pending() == 2);
  REQUIRE(s.complete(1, 1, false, 0.5));
  while (auto a = s.assign(0.5)) ++load[a->worker];
  // 0.035 s each now: worker 1 takes one, the last goes to whichever is through first.
  CHECK(load == std::map<int, int>{{1, 1}, {2, 4}});
  CHECK(s.pending() == 1);
  // Early in a job the share is large: the lookahead alone bounds a worker's queue.
  Scheduler early(o);
  early.add_worker(1, 1);
  early.add_worker(2, 1);
  for (int i = 0; i < 100; ++i) early.add_piece(0.02);
  std::map<int, int> first;
  while (auto a = early.assign(0)) ++first[a->worker];
  CHECK(first == std::map<int, int>{{1, 5}, {2, 5}});
}

TEST_CASE("scheduler: workers beyond a host's cores stand by and take over, lowest rank first, from one that leaves", "[scheduler]") {
  Scheduler s(options(0.2, 1.0, 0, 2));
  for (int worker = 1; worker <= 4; ++worker) s.add_worker(worker, 1, 0);
  s.add_worker(5, 1, 1);  // another host, no limit there
  s.limit_host(0, 2);
  for (int i = 0; i < 40; ++i) s.add_piece();
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->worker];
  CHECK(load == std::map<int, int>{{1, 2}, {2, 2}, {5, 2}});
  CHECK(s.standing_by(3));
  CHECK(s.standing_by(4));
  CHECK_FALSE(s.standing_by(1));
  CHECK(s.working_threads() == 3);
  CHECK(s.worker_state(3) == WorkerState::kIdle);
  CHECK(s.pings_due(0) == std::vector<int>{1, 2, 3, 4, 5});  // those standing by are pinged too

  SECTION("a worker lost: the next one takes its pieces") {
    const std::vector<uint64_t> back = s.declare_dead(1);
    CHECK(back.size() == 2);
    CHECK_FALSE(s.standing_by(3));
    CHECK(s.standing_by(4));
    std::map<int, int> more;
    while (auto a = s.assign(0.1)) ++more[a->worker];
    CHECK(more == std::map<int, int>{{3, 2}});
    CHECK(s.piece_worker(back[0]) == 3);
  }
  SECTION("a worker drained or removed: the next one takes over at once") {
    s.drain(2);
    CHECK_FALSE(s.standing_by(3));
    CHECK(s.standing_by(4));
    s.remove_worker(1);
    CHECK_FALSE(s.standing_by(4));
    CHECK(s.working_threads() == 4);  // worker 2 still computes what it holds
  }
  SECTION("one standing by that dies changes nothing for the others") {
    CHECK(s.declare_dead(3).empty());
    CHECK(s.standing_by(4));
    CHECK(s.working_threads() == 3);
  }
  SECTION("more cores: more of them work") {
    s.limit_host(0, 3);
    CHECK(s.host_limit(0) == 3);
    CHECK(s.host_limit(1) == 0);
    CHECK_FALSE(s.standing_by(3));
    CHECK(s.standing_by(4));
    s.limit_host(0, 0);  // no limit
    CHECK(s.host_limit(0) == 0);
    CHECK_FALSE(s.standing_by(4));
  }
}

TEST_CASE("scheduler: a suspect leaves its cores to the one standing by at once; when it answers, that one stands by again", "[scheduler]") {
  Scheduler s(options(0.2, 1.0, 0, 4));
  for (int worker = 1; worker <= 3; ++worker) s.add_worker(worker, 1, 0);
  s.limit_host(0, 2);
  for (int i = 0; i < 40; ++i) s.add_piece();
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->worker];
  CHECK(load == std::map<int, int>{{1, 4}, {2, 4}});
  REQUIRE(s.standing_by(3));
  CHECK(s.pings_due(0) == std::vector<int>{1, 2, 3});
  s.heard(2);
  s.heard(3);
  CHECK(s.expire(0.3).empty());  // worker 1's ping overdue: suspect, not yet dead
  REQUIRE(s.worker_state(1) == WorkerState::kSuspect);
  CHECK_FALSE(s.standing_by(3));  // takes over now, not a ping timeout later
  CHECK(s.working_threads() == 2);  // workers 2 and 3: the suspect is not counted beside the one taking over
  std::map<int, int> more;
  while (auto a = s.assign(0.3)) ++more[a->worker];
  CHECK(more == std::map<int, int>{{3, 4}});
  const std::vector<uint64_t> held_by_3 = [&] {
    std::vector<uint64_t> held;
    for (uint64_t piece = 1; piece <= 40; ++piece) {
      if (s.piece_worker(piece) == 3) held.push_back(piece);
    }
    return held;
  }();
  REQUIRE(held_by_3.size() == 4);

  SECTION("the suspect answers: worker 3 stands by again, finishes what it holds and gets no more") {
    s.heard(1);
    CHECK(s.worker_state(1) == WorkerState::kBusy);
    CHECK(s.standing_by(3));
    CHECK(s.working_threads() == 2);
    for (uint64_t piece : held_by_3) CHECK(s.complete(piece, 3, false));
    for (uint64_t piece = 1; piece <= 40; ++piece) {  // room on worker 1 too
      if (s.piece_worker(piece) == 1) REQUIRE(s.complete(piece, 1, false));
    }
    std::map<int, int> after;
    while (auto a = s.assign(0.4)) ++after[a->worker];
    CHECK(after == std::map<int, int>{{1, 4}});
    CHECK(s.in_flight(3) == 0);
  }
  SECTION("one standing by that is suspect stands by still") {
    s.add_worker(4, 1, 0);
    REQUIRE(s.standing_by(4));
    CHECK(s.pings_due(0.3) == std::vector<int>{1, 2, 3, 4});
    s.heard(2);
    s.heard(3);
    CHECK(s.expire(0.6).empty());
    REQUIRE(s.worker_state(4) == WorkerState::kSuspect);
    CHECK(s.standing_by(4));
    CHECK_FALSE(s.standing_by(3));
  }
  SECTION("the suspect is declared dead: worker 3 keeps working, with its pieces") {
    s.heard(2);
    s.heard(3);
    const auto dead = s.expire(1.1);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].first == 1);
    CHECK_FALSE(s.standing_by(3));
    CHECK(s.in_flight(3) == 4);
  }
}

TEST_CASE("scheduler: a host's cores count compute threads; a worker with more threads than cores still works", "[scheduler]") {
  Scheduler s(options(0.2, 1.0, 0, 1));
  s.limit_host(0, 2);
  s.add_worker(1, 4, 0);
  s.add_worker(2, 1, 0);
  s.add_worker(3, 1, -1);  // its host unknown: no limit
  CHECK_FALSE(s.standing_by(1));
  CHECK(s.standing_by(2));
  CHECK_FALSE(s.standing_by(3));
  CHECK(s.working_threads() == 5);
}

TEST_CASE("scheduler: workers standing by take no share of the work left", "[scheduler]") {
  // Two working workers get as much work ahead as they would with no one standing by: counted in the
  // share, 14 idle ones kept them a few pieces short at a time.
  const SchedulerOptions o = options(0.2, 1.0, 0, 1, 0.1);
  auto first_batches = [&](int standing) {
    Scheduler s(o);
    for (int worker = 1; worker <= 2 + standing; ++worker) s.add_worker(worker, 1, 0);
    s.limit_host(0, 2);
    for (int i = 0; i < 40; ++i) s.add_piece(0.01);
    std::map<int, int> load;
    while (auto a = s.assign(0)) ++load[a->worker];
    return load;
  };
  CHECK(first_batches(14) == first_batches(0));
  CHECK(first_batches(0) == std::map<int, int>{{1, 10}, {2, 10}});
}

namespace {

// Workers 1 and 2, one thread each, one piece each: 2 answers and finishes its piece, 1 goes silent and
// is suspect at t = 0.3 holding `held` (ping_interval 0.2, ping_timeout 1.5). Returns held's id.
uint64_t tail_with_a_suspect(Scheduler& s) {
  const uint64_t held = s.add_piece(0.1), other = s.add_piece(0.1);
  REQUIRE(s.assign(0)->worker == 1);
  REQUIRE(s.assign(0)->worker == 2);
  s.pings_due(0);
  s.heard(2);
  REQUIRE(s.complete(other, 2, false, 0.1));
  CHECK(s.expire(0.3).empty());
  REQUIRE(s.worker_state(1) == WorkerState::kSuspect);
  return held;
}

}  // namespace

TEST_CASE("scheduler: at the tail a suspect's piece is copied to a free thread; the first result counts", "[scheduler]") {
  Scheduler s({1, 2}, options(0.2, 1.5, 0, 1));
  const uint64_t held = tail_with_a_suspect(s);
  const auto copy = s.assign(0.3);
  REQUIRE(copy);
  CHECK(copy->piece == held);
  CHECK(copy->worker == 2);
  CHECK(copy->copy);
  CHECK(s.piece_worker(held) == 1);
  CHECK(s.piece_copy(held) == 2);
  CHECK(s.in_flight(1) == 1);
  CHECK(s.in_flight(2) == 1);
  CHECK(!s.assign(0.3));  // one copy per piece
  CHECK(s.suspects() == std::vector<int>{1});

  SECTION("the copy's result first: the piece leaves both, the suspect's late result is a duplicate") {
    REQUIRE(s.complete(held, 2, false, 0.5));
    CHECK(s.piece_state(held) == PieceState::kDone);
    CHECK(s.in_flight(1) == 0);
    CHECK(s.in_flight(2) == 0);
    s.heard(1);
    CHECK(!s.complete(held, 1, false, 0.6));
    CHECK(s.unfinished() == 0);
  }
  SECTION("the suspect answers and its result comes first: the copy's is a duplicate") {
    s.heard(1);
    REQUIRE(s.complete(held, 1, false, 0.5));
    CHECK(s.in_flight(2) == 0);
    CHECK(s.worker_state(2) == WorkerState::kIdle);
    CHECK(!s.complete(held, 2, false, 0.6));
    CHECK(s.unfinished() == 0);
  }
  SECTION("the suspect is declared dead: the piece stays with its copy, not pooled again") {
    const auto dead = s.expire(1.6);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].first == 1);
    CHECK(dead[0].second.empty());
    CHECK(s.pending() == 0);
    CHECK(s.piece_worker(held) == 2);
    CHECK(s.piece_copy(held) == -1);
    CHECK(!s.assign(1.6));
    REQUIRE(s.complete(held, 2, false, 1.7));
    CHECK(s.unfinished() == 0);
  }
  SECTION("the copy's holder is lost first: the piece stays with the suspect, which may still answer") {
    CHECK(s.declare_dead(2).empty());
    CHECK(s.piece_worker(held) == 1);
    CHECK(s.piece_copy(held) == -1);
    CHECK(s.pending() == 0);
    SECTION("it answers") {
      s.heard(1);
      REQUIRE(s.complete(held, 1, false, 0.5));
      CHECK(s.unfinished() == 0);
    }
    SECTION("it dies too: the piece is pooled again, once") {
      const auto dead = s.expire(1.6);
      REQUIRE(dead.size() == 1);
      CHECK(dead[0].second == std::vector<uint64_t>{held});
      CHECK(s.pending() == 1);
    }
  }
}

TEST_CASE("scheduler: no copy while pieces are pending, to a worker without a free thread, or when turned off", "[scheduler]") {
  SECTION("pending pieces go first") {
    Scheduler s({1, 2}, options(0.2, 1.5, 0, 1));
    tail_with_a_suspect(s);
    const uint64_t late = s.add_piece(0.1);
    const auto next = s.assign(0.3);
    REQUIRE(next);
    CHECK(next->piece == late);
    CHECK(!next->copy);
    CHECK(!s.assign(0.3));  // worker 2's one thread is taken now
  }
  SECTION("a worker whose threads are all taken gets no copy") {
    Scheduler s(options(0.2, 1.5, 0, 1));
    s.add_worker(1, 1);
    s.add_worker(2, 2);
    for (int i = 0; i < 3; ++i) s.add_piece(0.1);
    std::vector<uint64_t> on_two;
    while (auto a = s.assign(0)) {
      if (a->worker == 2) on_two.push_back(a->piece);
    }
    REQUIRE(on_two.size() == 2);
    s.pings_due(0);
    s.heard(2);
    s.expire(0.3);
    REQUIRE(s.worker_state(1) == WorkerState::kSuspect);
    CHECK(s.in_flight(2) == 2);
    CHECK(!s.assign(0.3));
    REQUIRE(s.complete(on_two[0], 2, false, 0.4));
    const auto copy = s.assign(0.4);  // a thread of 2 is free now
    REQUIRE(copy);
    CHECK(copy->copy);
    CHECK(copy->worker == 2);
  }
  SECTION("copy_from_suspects off: the piece waits for its worker") {
    SchedulerOptions o = options(0.2, 1.5, 0, 1);
    o.copy_from_suspects = false;
    Scheduler s({1, 2}, o);
    const uint64_t held = tail_with_a_suspect(s);
    CHECK(!s.assign(0.3));
    const auto dead = s.expire(1.6);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].second == std::vector<uint64_t>{held});
  }
}

TEST_CASE("scheduler: a suspect's piece is copied once, however many threads are free", "[scheduler]") {
  Scheduler s({1, 2, 3}, options(0.2, 1.5, 0, 1));
  const uint64_t held = s.add_piece(0.1);
  REQUIRE(s.assign(0)->worker == 1);
  s.pings_due(0);
  s.heard(2);
  s.heard(3);
  s.expire(0.3);
  REQUIRE(s.worker_state(1) == WorkerState::kSuspect);
  const auto copy = s.assign(0.3);
  REQUIRE(copy);
  CHECK(copy->piece == held);
  CHECK(!s.assign(0.3));  // the other free worker gets no second copy
  CHECK(s.in_flight(2) + s.in_flight(3) == 1);
}
