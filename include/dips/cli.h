#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "dips/job.h"
#include "dips/scheduler.h"
#include "dips/status.h"

namespace dips {

// Everything the command line sets. Every rank parses the same command line.
struct Options {
  JobSpec job;
  std::filesystem::path report;  // default: OUTDIR/report.jsonl
  std::string status_file;       // where rank 0 writes the exit code (scripts/dips-run reads it)
  bool dry_run = false, overwrite = false, resume = false, quiet = false;
  bool help = false, version = false, list_ops = false;
  int tile_rows = 0;             // 0: automatic (whole images up to 8 MP, else bands for every worker)
  int64_t max_pixels = 268435456;       // 256 Mpx: larger images are refused before decoding
  uint64_t max_file_bytes = 1ull << 30;  // 1 GiB per input file
  int max_active_tasks = 0;      // tasks open at once on rank 0; 0: 2 per worker + 2
  SchedulerOptions scheduler;
  double orphan_timeout = 10;    // a worker that hears nothing from rank 0 this long exits
  double progress_interval = 5;  // seconds between progress lines when stderr is not a terminal
};

// Parses argv into *options. On error the message says what is wrong and to see --help.
Status parse_options(int argc, const char* const* argv, Options* options);

// The --help text.
std::string help_text();

// The --list-ops table: name, parameter, default, range, tiling, description.
std::string list_ops_text();

}  // namespace dips
