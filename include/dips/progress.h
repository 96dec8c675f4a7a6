#pragma once
#include <cstdio>
#include <string>

namespace dips {

// A snapshot of the job for the progress display.
struct ProgressState {
  size_t done = 0, failed = 0, total = 0;
  double megapixels = 0;  // input megapixels of finished tasks
  double elapsed_s = 0;
  int live_workers = 0, workers = 0;
  size_t pieces_done = 0;  // pieces computed so far: a job of a few large images moves while no task is done
};

// The one line describing a snapshot: "12/40 tasks (96 pieces), 2 failed, 31.5 MP/s, ETA 0:42, workers 3/3".
std::string progress_line(const ProgressState& state);

// Shows progress on stderr: a line redrawn in place on a terminal (TERM not dumb), a plain line every
// interval_s seconds otherwise (a batch log), nothing when quiet. Under mpirun rank 0's stderr is a pipe
// to mpirun even when mpirun's is a terminal: a launcher that knows sets DIPS_STDERR_TTY=1 (dips-run does).
class ProgressDisplay {
 public:
  ProgressDisplay(bool quiet, double interval_s);
  // Shows the state if it is time to (at most 10 redraws per second on a terminal), or now if forced.
  void update(const ProgressState& state, bool force = false);
  // Prints a message on its own line, keeping the live line intact below it.
  void message(const std::string& text);
  // Clears the live line before the final summary.
  void finish();

 private:
  bool quiet_, live_;
  double interval_s_;
  double last_shown_ = -1e9;
  bool line_drawn_ = false;
  std::string last_line_;
};

}  // namespace dips
