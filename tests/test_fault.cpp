// fault: DIPS_FAULT plans (the injected faults of the multi-rank fault tests) parse, and only the named
// rank gets one.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "dips/fault.h"

using namespace dips;

TEST_CASE("fault plans parse, and only the named rank gets one", "[fault]") {
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
  ::setenv("DIPS_FAULT", "rank:1,after:3,kind:kill;rank:2,after:1,kind:slow", 1);
  CHECK(fault_plan_for_rank(2).kind == "slow");
  CHECK(fault_plan_for_rank(1).after == 3);
  CHECK_FALSE(fault_plan_for_rank(3).active());
  int count = 0;
  CHECK(fault_tick(fault_plan_for_rank(3), &count) == FaultAction::kNone);
  ::unsetenv("DIPS_FAULT");
}
