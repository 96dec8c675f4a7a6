#pragma once
#include <string>

#include "dips/cli.h"
#include "dips/exit_code.h"
#include "dips/transport.h"

namespace dips {

// Runs a whole job on rank 0: builds the task list, reads inputs, cuts images into pieces, hands pieces to
// the transport's workers, watches their liveness, gives a lost worker's pieces to the others, stitches,
// writes outputs atomically, appends the report, and prints progress and a summary. Never blocks on a
// worker. Returns the job's exit code (also written to options.status_file when set).
ExitCode run_coordinator(const Options& options, Transport& transport, const std::string& command_line);

// Writes an exit code to a status file atomically (scripts/dips-run reads it).
void write_status_file(const std::string& path, ExitCode code);

}  // namespace dips
