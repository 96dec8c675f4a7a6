// fault: DIPS_FAULT plans (the injected faults of the multi-rank fault tests) parse; malformed ones are
// skipped.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "dips/fault.h"

using namespace dips;

TEST_CASE("fault plans parse; malformed ones are skipped", "[fault]") {
  std::string error;
  FaultPlan plan = parse_fault_plan("rank:2,after:5,kind:stop", &error);
  CHECK(error.empty());
  CHECK(plan.rank == 2);
  CHECK(plan.after == 5);
  CHECK(plan.kind == "stop");
  parse_fault_plan("rank:x", &error);
  CHECK_FALSE(error.empty());
  error.clear();
  CHECK_FALSE(parse_fault_plan("rank:1,after:1,kind:explode", &error).active());
  error.clear();
  CHECK_FALSE(parse_fault_plan("rank:2,after:1,kind:hold", &error).active());  // hold is rank 0's
  error.clear();
  CHECK_FALSE(parse_fault_plan("rank:0,after:0,kind:kill", &error).active());  // rank 0 counts tasks from 1
  error.clear();
  CHECK(parse_fault_plan("rank:3,after:0,kind:kill", &error).active());  // a worker: at its first piece
  CHECK(parse_fault_plan("rank:0,after:0,kind:slow", &error).active());  // rank 0: a slow listing of the job
  CHECK(parse_fault_plan("rank:any,piece:decode,kind:killdone", &error).active());  // dies with its piece done
  CHECK_FALSE(parse_fault_plan("rank:0,after:1,kind:killdone", &error).active());  // rank 0 has no pieces
  CHECK(parse_fault_plan("rank:any,piece:decode,kind:killprogress", &error).active());  // dies half-way
  CHECK_FALSE(parse_fault_plan("rank:0,after:1,kind:killprogress", &error).active());
  ::setenv("DIPS_FAULT", "rank:1,after:3,kind:kill;rank:2,after:1,kind:slow;rank:9,kind:boom", 1);
  const std::vector<FaultPlan> plans = fault_plans();
  REQUIRE(plans.size() == 2);  // the malformed third is skipped (with a warning)
  CHECK(plans[0].rank == 1);
  CHECK(plans[0].after == 3);
  CHECK(plans[1].kind == "slow");
  ::unsetenv("DIPS_FAULT");
  CHECK(fault_plans().empty());
}
