#pragma once
#include <string>
#include <vector>

#include "dips/exit_code.h"
#include "dips/job.h"
#include "dips/options.h"
#include "dips/transport.h"

namespace dips {

// Runs a job on rank 0: finds out whether the workers see the job's files, hands tasks out (whole files,
// or bands when threads would otherwise wait; granularity.h), watches the workers' liveness, gives a lost
// worker's pieces to the others, stitches bands, has outputs written atomically (by the workers when they
// see the files, else by rank 0), appends the report, and prints progress and a summary. Never blocks on a
// worker. `skipped` (what directory scans left out) goes into the summary. Returns the job's exit code.
ExitCode run_coordinator(const Options& options, Transport& transport, std::vector<Task> tasks, const std::string& command_line,
                         const SkippedFiles& skipped = {});

}  // namespace dips
