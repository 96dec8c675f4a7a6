#pragma once
#include <vector>

#include "dips/job.h"
#include "dips/options.h"

namespace dips {

// --dry-run: prints on stdout the job as it would run on `workers` single-threaded workers (each task's
// input size from its header, whether it goes whole or in bands and how many, its output) and touches
// nothing.
void print_plan(const Options& options, const std::vector<Task>& tasks, int workers);

}  // namespace dips
