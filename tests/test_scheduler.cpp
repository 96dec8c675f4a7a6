// scheduler: the coordinator's state machine without MPI: pieces go to the least loaded live worker, a
// silent worker is suspect then dead and its pieces go to the others once, a busy one that answers pings
// is never declared dead, and the piece deadline catches a hung computation.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <vector>

#include "dips/scheduler.h"

using namespace dips;

TEST_CASE("scheduler: pieces go to the least loaded live worker, up to the queue depth", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{0.2, 1.0, 0, 2});
  std::vector<uint64_t> pieces;
  for (int i = 0; i < 6; ++i) pieces.push_back(s.add_piece());
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->second];
  CHECK(load == std::map<int, int>{{1, 2}, {2, 2}});
  CHECK(s.worker_state(1) == WorkerState::kBusy);
  CHECK(s.piece_state(pieces[4]) == PieceState::kPending);
  REQUIRE(s.complete(pieces[0], s.piece_worker(pieces[0]), false));
  auto next = s.assign(0.01);
  REQUIRE(next);
  CHECK(next->first == pieces[4]);  // oldest pending first
  CHECK(s.unfinished() == 5);
}

TEST_CASE("scheduler: a silent worker is suspect, then dead; its pieces go to the others exactly once", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{0.2, 1.0, 0, 2});
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
  CHECK(dead[0].second == 2);  // both of its pieces went back
  CHECK(s.worker_state(victim) == WorkerState::kDead);
  CHECK(s.piece_state(a) == PieceState::kPending);
  // The survivor takes them once it has room; a late result from the dead worker is ignored.
  CHECK_FALSE(s.complete(a, victim, false));
  for (uint64_t p : {a, b, c}) {
    if (s.piece_worker(p) == survivor) REQUIRE(s.complete(p, survivor, false));
  }
  while (auto next = s.assign(1.2)) {
    CHECK(next->second == survivor);
    REQUIRE(s.complete(next->first, survivor, false));
    CHECK_FALSE(s.complete(next->first, survivor, false));  // a duplicate is not counted twice
  }
  CHECK(s.unfinished() == 0);
  CHECK(s.live_workers() == 1);
  CHECK(s.pings_due(2.0) == std::vector<int>{survivor});  // the dead are never pinged again
}

TEST_CASE("scheduler: a busy worker that answers pings is never declared dead, however long its piece", "[scheduler]") {
  Scheduler s({1}, SchedulerOptions{0.2, 1.0, 0, 1});
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
  Scheduler s({1, 2}, SchedulerOptions{0.2, 1.0, 5.0, 1});
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

TEST_CASE("scheduler: with every worker dead nothing is assigned", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{});
  s.add_piece();
  s.declare_dead(1);
  CHECK(s.declare_dead(2) == 0);
  CHECK(s.live_workers() == 0);
  CHECK_FALSE(s.assign(0));
}
