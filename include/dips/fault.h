#pragma once
#include <string>

namespace dips {

// Fault injection, a test aid: DIPS_FAULT="rank:R,after:N,kind:K[;rank:R2,...]" makes rank R fail when it
// receives its N-th work message (a worker) or finishes its N-th task (rank 0). Kinds:
//   kill  SIGKILL to itself           stop  SIGSTOP to itself (a hung process)
//   exit  _exit(1), no MPI_Finalize   hang  the message loop spins: no more pings answered
//   slow  that piece computes 4 s longer while pings are still answered (a long but healthy piece)
//   garble  a worker sends a message with an unknown tag, then a truncated result for that piece;
//           rank 0 sends its N-th work message truncated (counted in pieces sent, not tasks)
// Read once at start-up; an unset variable injects nothing, a malformed one warns and injects nothing.
struct FaultPlan {
  int rank = -1;
  int after = 0;
  std::string kind;
  bool active() const { return rank >= 0; }
};

// Parses one plan ("rank:2,after:5,kind:kill"). Returns an inactive plan and sets *error when malformed.
FaultPlan parse_fault_plan(const std::string& text, std::string* error);

// This rank's plan from DIPS_FAULT (inactive when no plan targets it).
FaultPlan fault_plan_for_rank(int rank);

// What the caller of fault_tick must do itself.
enum class FaultAction { kNone, kSlow, kGarble };

// Counts one event; when the plan's count is reached, fires the fault. kill, stop, exit and hang never
// return; slow and garble are returned for the caller to carry out.
FaultAction fault_tick(const FaultPlan& plan, int* count);

// How long a "slow" piece is delayed, in seconds.
constexpr double kSlowFaultSeconds = 4.0;

}  // namespace dips
