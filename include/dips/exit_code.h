#pragma once

namespace dips {

// dips' exit status, also written to --status-file and the report's summary (scripts/dips-run reads it,
// because mpirun's own status is unreliable under --enable-recovery).
enum class ExitCode : int {
  kOk = 0,           // every task succeeded
  kTasksFailed = 1,  // some tasks failed; the others were done and reported
  kUsage = 2,        // bad command line or job (manifest) error; nothing was processed
  kJobFailed = 3,    // the job could not finish (no worker left, report unwritable)
};

}  // namespace dips
