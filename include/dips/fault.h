#pragma once
#include <string>
#include <vector>

namespace dips {

// Fault injection, a test aid: DIPS_FAULT="rank:R,after:N,kind:K[;rank:R2,...]". A worker R fails when
// the job has completed N pieces (on any worker): rank 0 counts them and tells R to fail then, so that a
// fault lands inside any job of more than N pieces, whichever worker got which pieces. Rank 0 itself
// fails on finishing its N-th task. Kinds:
//   kill  SIGKILL to itself           stop  SIGSTOP to itself (a hung process)
//   exit  _exit(1), no MPI_Finalize   hang  the message loop spins: no more pings answered
//   slow  the worker's next piece computes 4 s longer while pings are still answered (a long but healthy piece)
//   garble  a worker sends a message with an unknown tag, then its next results cut in half;
//           rank 0 sends its N-th work message cut short (counted in work messages, not tasks)
//   hold  (rank 0 only) after its N-th task it sends no more work until a worker is lost (at most 60 s),
//         so that a test can cut a link or kill a process while the job is certain to be running
// A worker plan with after:0 fires as soon as rank 0 has sent that worker its first piece: it dies holding it.
// Read once at start-up by rank 0; an unset variable injects nothing, a malformed plan warns and is skipped.
struct FaultPlan {
  int rank = -1;
  int after = 0;
  std::string kind;
  bool active() const { return rank >= 0; }
};

// Parses one plan ("rank:2,after:5,kind:kill"). Returns an inactive plan and sets *error when malformed.
FaultPlan parse_fault_plan(const std::string& text, std::string* error);

// Every well-formed plan of DIPS_FAULT, in order; malformed ones are reported on stderr and skipped.
std::vector<FaultPlan> fault_plans();

// Carries out a fault in this process (announced on stderr). kill, stop, exit and hang never return; slow
// and garble return for the caller to carry out.
void inject_fault(int rank, const std::string& kind);

// How long a "slow" piece is delayed, in seconds.
constexpr double kSlowFaultSeconds = 4.0;

}  // namespace dips
