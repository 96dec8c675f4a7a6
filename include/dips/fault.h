#pragma once
#include <string>
#include <vector>

namespace dips {

// Fault injection, a test aid: DIPS_FAULT="rank:R,after:N,kind:K[;rank:R2,...]". A worker R fails on the
// first work message it receives after the job has completed N pieces (on any worker; N = 0: its very
// first; a worker started during the job, on its first work message once it has joined, if N pieces are done
// by then): rank 0 counts them and arms the fault then, and the worker dies holding the pieces of that
// message, so that the coordinator has to notice. With --lookahead 0 (one piece per worker at a time) a
// fault lands in any job that has more than N + workers pieces, whichever worker got which. Rank 0 itself
// fails on finishing its N-th task. Instead of after:N, a worker plan may name a kind of piece
// (piece:decode|band|finish|whole|encode|file): the worker first sent a piece of that kind dies holding
// it; rank:any then lets it be whichever worker that is. Kinds:
//   kill  SIGKILL to itself           stop  SIGSTOP to itself (a hung process)
//   exit  _exit(1), no MPI_Finalize   hang  the message loop spins: no more pings answered
//   killdone  (workers only) SIGKILL to itself once a piece of that message is done, before its result
//         is sent: what it wrote (an output, a pixel file) exists, and rank 0 never hears of it
//   killprogress  (workers only) SIGKILL to itself right after a piece of that message (a decode piece
//         writing its pixel file) has reported half its image's rows written (wire.h DecodeProgress) and
//         the report has gone out: rank 0 starts bands on those rows, the rest of the image is missing
//   slow  the pieces of that message compute 4 s longer while pings are still answered (long but healthy);
//         on rank 0 (after:0) listing the job takes 4 s longer (a huge manifest, a slow file system)
//   garble  a worker sends a message with an unknown tag at once, then its next results cut in half;
//           rank 0 sends its N-th work message cut short (counted in work messages, not tasks)
//   hold  (rank 0 only) after its N-th task it sends no more work until a worker is lost, joins (started
//         during the job) or leaves (drained), and no started worker is still to answer (at most 60 s),
//         so that a test can cut a link, kill a process or edit a --grow-from file while the job is
//         certain to be running
// Read once at start-up by rank 0; an unset variable injects nothing, a malformed plan warns and is skipped.
struct FaultPlan {
  static constexpr int kAnyWorker = -2;
  int rank = -1;       // a rank, or kAnyWorker
  int after = 0;
  std::string kind;
  std::string piece;   // a kind of piece (task_run.h), or empty: after counts pieces
  bool active() const { return rank >= 0 || rank == kAnyWorker; }
};

// Parses one plan ("rank:2,after:5,kind:kill"). Returns an inactive plan and sets *error when malformed.
FaultPlan parse_fault_plan(const std::string& text, std::string* error);

// Every well-formed plan of DIPS_FAULT, in order; malformed ones are reported on stderr and skipped.
std::vector<FaultPlan> fault_plans();

// Seconds rank 0's listing of the job is delayed by a "rank:0,after:0,kind:slow" plan (0 without one).
double listing_delay_seconds();

// Carries out a fault in this process (announced on stderr). kill, stop, exit and hang never return; slow
// and garble return for the caller to carry out.
void inject_fault(int rank, const std::string& kind);

// How long a "slow" piece is delayed, in seconds.
constexpr double kSlowFaultSeconds = 4.0;

}  // namespace dips
