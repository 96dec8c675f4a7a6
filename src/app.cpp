#include "dips/app.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "dips/cli.h"
#include "dips/coordinator.h"
#include "dips/dry_run.h"
#include "dips/fault.h"
#include "dips/memory.h"
#include "dips/scheduler.h"
#include "dips/signals.h"
#include "dips/transport.h"
#include "dips/version.h"
#include "dips/worker.h"

namespace dips {
namespace {

// This process's rank as the launcher set it, known before MPI starts; -1 without a launcher.
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return -1;
}

// How rank 0 starts more workers: this very executable (or --worker-program) with this command line.
SpawnCommand spawn_command(int argc, char** argv, const std::string& worker_program) {
  SpawnCommand command;
  std::vector<char> path(4096);
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  command.program = !worker_program.empty() ? worker_program
                    : n > 0                 ? std::string(path.data(), static_cast<size_t>(n))
                                            : std::string(argv[0]);
  command.args.assign(argv + 1, argv + argc);
  return command;
}

// A process rank 0 started (--worker-id): it works for its parent until told to stop, then exits
// without MPI_Finalize (which would wait for the parent to disconnect).
int run_spawned_worker(int argc, char** argv, const Options& options) {
  ignore_stop_signals();  // rank 0 stops the job; mpirun passes its signals to every process it started
  const MpiWorld world = mpi_start(&argc, &argv);
  if (!world.spawned) {
    std::fprintf(stderr, "dips: error: --worker-id is set by rank 0 on the workers it starts; not for the command line\n");
    mpi_end(false, static_cast<int>(ExitCode::kUsage));
  }
  std::unique_ptr<CoordinatorLink> link = make_mpi_coordinator_link(world);
  WorkerConfig config;
  config.id = options.worker_id;
  config.threads = options.threads > 0 ? options.threads : 1;
  config.orphan_timeout = options.orphan_timeout;
  run_worker(*link, config);
  mpi_end(false, 0);
  return 0;
}

std::string join_arguments(int argc, char** argv) {
  std::string text;
  for (int i = 0; i < argc; ++i) text += (i ? " " : "") + std::string(argv[i]);
  return text;
}

// --status-file's value read from argv as it is: a command line that does not parse sets no option.
std::string status_file_argument(int argc, char** argv) {
  const std::string flag = "--status-file";
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == flag && i + 1 < argc) path = argv[++i];
    else if (arg.rfind(flag + "=", 0) == 0) path = arg.substr(flag.size() + 1);
  }
  return path;
}

// The workers of a dry run that would take pieces, by the scheduler's own rule (Scheduler::limit_host).
// Rank 0 learns a machine's cores from its workers' greetings, which a dry run does not send: when the
// launcher put every rank on rank 0's machine, rank 0's own CPUs stand in for theirs (dips-run binds no
// rank, so they share them); across machines every worker counts.
int working_on_one_machine(const Options& options, int world_size, int workers) {
  const char* local_size = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (options.host_cores == kHostCoresAll || local_size == nullptr || std::atoi(local_size) != world_size) return workers;
  Scheduler scheduler(options.scheduler);
  for (int worker = 1; worker <= workers; ++worker) scheduler.add_worker(worker, 1, 0);
  scheduler.limit_host(0, options.host_cores > 0 ? options.host_cores : static_cast<int>(affinity_cpus().size()));
  return scheduler.working_threads();
}

int default_threads(int ranks) {
  if (ranks > 1) return 1;  // under mpirun: one rank per core is the launch shape
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

struct BuiltJob {
  Status status;
  std::vector<Task> tasks;
  SkippedFiles skipped;
};

// Rank 0: plans the job (--dry-run) or runs it on the workers.
ExitCode coordinate(const Options& options, const MpiWorld& world, Transport& transport, BuiltJob job, const std::string& command_line) {
  const Status& status = job.status;
  std::vector<Task>& tasks = job.tasks;
  const SkippedFiles& skipped = job.skipped;
  if (!status.ok()) {
    std::fprintf(stderr, "dips: error: %s\n", status.message().c_str());
    return ExitCode::kUsage;
  }
  if (options.dry_run) {
    const int spawned = options.spawn_workers;
    if (world.size == 1 && spawned == 0) {
      print_plan(options, tasks, skipped, default_threads(1), default_threads(1));
    } else {
      const int workers = world.size - 1 + spawned;
      print_plan(options, tasks, skipped, workers, spawned == 0 ? working_on_one_machine(options, world.size, workers) : workers);
    }
    return ExitCode::kOk;
  }
  return run_coordinator(options, transport, std::move(tasks), command_line, skipped);
}

// Waits for the job rank 0 lists while MPI starts. A manifest of 100,000 tasks takes seconds, and a
// worker takes rank 0's silence for its death after --orphan-timeout: pings tell them it is alive.
BuiltJob wait_for_job(std::future<BuiltJob>& job, Transport& transport, bool keep_workers, double orphan_timeout) {
  using namespace std::chrono;
  const auto interval = duration<double>(std::min(1.0, orphan_timeout / 4));
  auto last_ping = steady_clock::now();
  while (job.wait_for(milliseconds(20)) != std::future_status::ready) {
    if (!keep_workers || steady_clock::now() - last_ping < interval) continue;
    last_ping = steady_clock::now();
    for (int worker : transport.workers()) {
      transport.send(worker, Tag::kPing, encode_ping());
    }
    Incoming pong;  // the answers; the coordinator's own pings come later
    while (transport.poll(&pong)) {
    }
  }
  return job.get();
}

}  // namespace

int dips_main(int argc, char** argv) {
  keep_freed_memory();
  Options options;
  Status status = parse_options(argc, argv, &options);
  if (status.ok() && options.worker_id > 0) return run_spawned_worker(argc, argv, options);
  const bool launched = launcher_rank() >= 0;
  const bool speaker = launcher_rank() <= 0;  // only one rank prints help, errors and tables
  // Under a launcher every rank parses and ends here alike, before MPI starts: with a status file rank 0
  // leaves the status there and every rank exits 0, since a rank exiting non-zero makes mpirun kill the
  // others, rank 0 perhaps before it has written the status.
  if (!status.ok()) {
    const std::string status_file = status_file_argument(argc, argv);
    if (speaker) {
      std::fprintf(stderr, "dips: error: %s\n", status.message().c_str());
      write_status_file(status_file, ExitCode::kUsage);
    }
    return process_exit_status(status_file, ExitCode::kUsage);
  }
  if (options.help || options.version || options.list_ops) {
    if (speaker) {
      std::fputs(options.help ? help_text().c_str() : options.list_ops ? list_ops_text().c_str() : "dips " DIPS_VERSION "\n", stdout);
      std::fflush(stdout);
      write_status_file(options.status_file, ExitCode::kOk);
      wake_launcher(options.status_wake);
    }
    return 0;
  }
  if (!launched && options.spawn_workers > 0) {
    std::fprintf(stderr, "dips: error: --workers starts worker processes through MPI: run it under mpirun -np 1 (scripts/dips-run does)\n");
    write_status_file(options.status_file, ExitCode::kUsage);
    wake_launcher(options.status_wake);
    return static_cast<int>(ExitCode::kUsage);
  }
  // From here on, a rank 0 that dies without a status (even inside MPI_Init) is seen gone by dips-run.
  if (speaker) hold_status_file(options.status_file);
  const SpawnCommand command = spawn_command(argc, argv, options.worker_program);
  // Before MPI starts, so that a stop signal arriving meanwhile is kept (rank 0) or ignored (workers).
  if (launched && !speaker) {
    ignore_stop_signals();
  } else {
    install_stop_handlers(launched);
  }
  // Rank 0 lists the job's files while MPI starts (MPI_Init takes a good part of a second with a few ranks).
  std::future<BuiltJob> job;
  if (speaker) {
    job = std::async(std::launch::async, [&options] {
      BuiltJob built;
      built.status = build_job(options.job, &built.tasks, &built.skipped);
      std::this_thread::sleep_for(std::chrono::duration<double>(listing_delay_seconds()));
      return built;
    });
  }
  // Started without mpirun, dips runs alone: no MPI at all (a singleton MPI_Init costs ~0.4 s here).
  const MpiWorld world = launched ? mpi_start(&argc, &argv) : MpiWorld{};
  if (speaker) mark_status_file_started();
  const int threads = options.threads > 0 ? options.threads : default_threads(world.size);
  if (world.rank != 0) {
    std::unique_ptr<CoordinatorLink> link = make_mpi_coordinator_link(world);
    WorkerConfig config;
    config.id = world.rank;
    config.threads = threads;
    config.orphan_timeout = options.orphan_timeout;
    const bool clean = run_worker(*link, config);
    mpi_end(clean, 0);
    return 0;
  }
  // Under mpirun, rank 0 alone still has MPI: it may start workers (--workers, --respawn, --grow-from).
  const bool alone = world.size == 1 && (!launched || (options.spawn_workers == 0 && options.grow_from.empty()));
  std::unique_ptr<Transport> transport = alone ? make_local_transport(threads) : make_mpi_transport(world, command);
  BuiltJob built = wait_for_job(job, *transport, !alone, options.orphan_timeout);
  const ExitCode code = coordinate(options, world, *transport, std::move(built), join_arguments(argc, argv));
  write_status_file(options.status_file, code);
  wake_launcher(options.status_wake);
  const bool clean = transport->shutdown(stop_request().signal != 0);
  transport.reset();
  const int process_code = process_exit_status(options.status_file, code);
  // Unclean (interrupted, or a worker lost): exit without waiting for compute threads or MPI_Finalize.
  if (launched || !clean) mpi_end(clean, process_code);
  return process_code;
}

}  // namespace dips
