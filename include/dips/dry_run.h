#pragma once
#include <vector>

#include "dips/job.h"
#include "dips/options.h"

namespace dips {

// --dry-run: prints on stdout the job as it would run on `workers` single-threaded workers, `working` of
// which take pieces while the others stand by (each task's input size from its header, whether it goes
// whole or in bands and how many, its output; what directory scans left out) and touches nothing. Names
// are printed with printable_name.
void print_plan(const Options& options, const std::vector<Task>& tasks, const SkippedFiles& skipped, int workers, int working);

// A file name safe to print on a terminal: control characters, backslashes and bytes that are not UTF-8
// are escaped (\n, \t, \\, \xNN), so that a name cannot forge lines or move the cursor.
std::string printable_name(const std::string& name);

}  // namespace dips
