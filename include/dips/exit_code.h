#pragma once
#include <string>

namespace dips {

// dips' exit status, also written to --status-file and the report's summary (scripts/dips-run reads it,
// because mpirun's own status is unreliable under --enable-recovery).
enum class ExitCode : int {
  kOk = 0,           // every task succeeded
  kTasksFailed = 1,  // some tasks failed; the others were done and reported
  kUsage = 2,        // bad command line or job (manifest) error; nothing was processed
  kJobFailed = 3,    // the job could not finish (no worker left, a worker start that never finished,
                     // report unwritable)
  kInterrupted = 4,  // stopped by SIGINT, SIGTERM or SIGUSR1 (signals.h): what finished is kept and reported,
                     // the summary says "interrupted": true, and --resume does exactly the rest. One value
                     // whatever the signal: mpirun and dips-run pass stops on as other signals, and a batch
                     // script tests one number to resubmit.
};

// The process's own exit status once `code` is decided: 0 when it goes to a status file (the launcher
// reads it there; a rank exiting non-zero makes mpirun report a failed rank, or kill the others before
// rank 0 has written the status, and under --enable-recovery mpirun's own status means nothing), else
// the code itself.
int process_exit_status(const std::string& status_file, ExitCode code);

// Writes an exit code to a status file atomically (scripts/dips-run reads it); nothing when path is empty.
// A failure is reported on stderr: the caller can do nothing more about it.
void write_status_file(const std::string& path, ExitCode code);

// After the status: a line to `fifo` (--status-wake; dips-run waits on it between its polls of the status
// file, 20 ms apart), so that the launcher learns at once. Never blocks: nothing when fifo is empty, is
// not a FIFO (a regular file of that name is left alone) or has no reader.
void wake_launcher(const std::string& fifo);

// Rank 0 marks a status file as taken while it runs: an exclusive flock(2) on it, held until the process
// ends, then "running" written into it (no digit: no status yet). The kernel drops the lock however the
// process ends (killed, its machine's MPI daemon gone), so a launcher that finds "running" in the file
// and can take the lock knows that rank 0 ended without a status (scripts/dips-run then ends mpirun,
// which may wait forever for a rank 0 on a lost machine). write_status_file replaces the file, lock and
// all. Nothing when path is empty; a failure is reported on stderr (the launcher then falls back to
// waiting for mpirun).
void hold_status_file(const std::string& path);

// Rank 0 marks the file it holds as "started" once MPI has started (every rank of the job started and met
// it): a launcher that still reads "running" long after it started mpirun knows that mpirun could not
// start some rank (dips missing on a host) and will wait for ever. Nothing without a held file.
void mark_status_file_started();

}  // namespace dips
