// worker: when a worker keeps finished results to send them together (the rule, without MPI or threads).
#include <catch2/catch.hpp>

#include "dips/worker.h"

using namespace dips;

TEST_CASE("worker: results of short pieces wait for their successors while the queue covers eight holds", "[worker]") {
  const double hold = kResultHoldSeconds;
  const double piece = 0.15e-3;  // a 64x64 thumbnail
  const auto covering = static_cast<size_t>(8 * hold / piece) + 1;
  CHECK(holds_results(0, covering, piece));
  CHECK(holds_results(hold / 2, covering, piece));
  CHECK(holds_results(0, 256, piece));
}

TEST_CASE("worker: results go at once after the hold, after a long piece, or when the queue runs low", "[worker]") {
  const double hold = kResultHoldSeconds;
  const double piece = 0.15e-3;
  const auto covering = static_cast<size_t>(8 * hold / piece) + 1;
  CHECK_FALSE(holds_results(hold, covering, piece));        // held long enough
  CHECK_FALSE(holds_results(1e9, covering, piece));         // nothing sent yet: the first results go at once
  CHECK_FALSE(holds_results(0, covering - 2, piece));       // the queue would run dry before a refill came back
  CHECK_FALSE(holds_results(0, 0, piece));                  // the job's tail
  CHECK_FALSE(holds_results(0, 1000, hold));                // a piece as long as the hold: a band, a photo
  CHECK_FALSE(holds_results(0, 1000, 1e9));                 // no piece done yet
}
