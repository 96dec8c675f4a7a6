#pragma once
#include <string>

namespace dips {

// Fault injection, a test aid: DIPS_FAULT="rank:R,after:N,kind:K" makes rank R fail after it has received
// N work messages (a worker) or finished N tasks (rank 0). Kinds: kill (SIGKILL to itself), stop
// (SIGSTOP: hung), exit (exit code 1 without MPI_Finalize), hang (stops answering pings, spinning).
// Read once at start-up; an unset or malformed variable injects nothing (malformed: a warning).
struct FaultPlan {
  int rank = -1;
  int after = 0;
  std::string kind;
  bool active() const { return rank >= 0; }
};

// Parses the text of DIPS_FAULT. Returns an inactive plan and sets *error on malformed text.
FaultPlan parse_fault_plan(const std::string& text, std::string* error);

// The plan from the environment, for this rank (inactive when it targets another rank).
FaultPlan fault_plan_for_rank(int rank);

// Counts one event (a work message or a finished task); fires the fault when the count is reached.
void fault_tick(const FaultPlan& plan, int* count);

}  // namespace dips
