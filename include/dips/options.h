#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "dips/job.h"
#include "dips/scheduler.h"

namespace dips {

// Who moves the bytes of input and output files.
enum class IoMode {
  kAuto,    // workers that see rank 0's files (a shared or the same file system) read and write them
            // themselves; if any worker does not, rank 0 moves every file's bytes over MPI
  kShared,  // workers read inputs and write outputs themselves; a worker that cannot see them is not used
  kMpi,     // rank 0 reads every input and writes every output; only bytes travel over MPI
};

// --host-cores: as many as the CPUs a machine's workers may run on, or no limit (every worker works).
constexpr int kHostCoresAuto = -1, kHostCoresAll = 0;

// Everything the command line sets. Every rank parses the same command line.
struct Options {
  JobSpec job;
  std::filesystem::path report;  // default: OUTDIR/report.jsonl
  std::string status_file;       // where rank 0 writes the exit code (scripts/dips-run reads it)
  std::string status_wake;       // a FIFO rank 0 writes a line to after the status (wake_launcher)
  bool dry_run = false, overwrite = false, resume = false, quiet = false;
  bool help = false, version = false, list_ops = false;
  bool sync = false;             // fsync every output before its report line (default: rename only)
  IoMode io = IoMode::kAuto;
  int threads = 0;               // compute threads per worker; 0: 1 under mpirun, every core in a single-rank run
  int tile_rows = 0;             // 0: automatic (see granularity.h), else rows per band for every image taller
  int64_t max_pixels = 268435456;        // 256 Mpx: larger images are refused before decoding
  uint64_t max_file_bytes = 1ull << 30;  // 1 GiB per input file
  SchedulerOptions scheduler;
  int host_cores = kHostCoresAuto;  // compute threads per machine that take pieces (Scheduler::limit_host)
  double orphan_timeout = 10;    // a worker that hears nothing from rank 0 this long exits
  double progress_interval = 5;  // seconds between progress lines when stderr is not a terminal
  // Elastic workers (placement.h): processes rank 0 starts itself with MPI_Comm_spawn, each its own job.
  int spawn_workers = 0;         // workers rank 0 starts at the beginning (the spawned launch shape)
  int respawn = 0;               // replacements of lost workers per job, at most (0: none)
  std::string hosts_file;        // where spawned workers may go (mpirun's hostfile format); empty: this machine
  std::string grow_from;         // a hostfile re-read during the job: hosts added get workers, hosts removed drain
  std::string worker_program;    // what rank 0 starts as a worker; empty: its own executable's path
  double spawn_timeout = 60;     // a worker start taking longer ends the job (watchdog.h); 0: none
  int worker_id = 0;             // > 0: this process was spawned by rank 0 as that worker (internal)
  std::string dashboard;         // --dashboard [HOST:]PORT (dashboard.h); empty: none
  double stop_grace = 1;         // after a stop signal, seconds the pieces in flight get to finish (signals.h)
};

// The command-line name of an I/O mode ("auto", "shared", "mpi").
const char* io_mode_name(IoMode mode);

}  // namespace dips
