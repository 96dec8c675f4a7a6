#include "dips/app.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "dips/cli.h"
#include "dips/coordinator.h"
#include "dips/transport.h"
#include "dips/version.h"

namespace dips {
namespace {

// This process's rank as the launcher set it, known before MPI starts (0 without a launcher).
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* value = std::getenv(name)) return std::atoi(value);
  }
  return 0;
}

std::string join_arguments(int argc, char** argv) {
  std::string text;
  for (int i = 0; i < argc; ++i) text += (i ? " " : "") + std::string(argv[i]);
  return text;
}

}  // namespace

int dips_main(int argc, char** argv) {
  const bool speaker = launcher_rank() == 0;  // only one rank prints help, errors and tables
  Options options;
  Status status = parse_options(argc, argv, &options);
  if (!status.ok()) {
    if (speaker) {
      std::fprintf(stderr, "dips: error: %s\n", status.message().c_str());
      write_status_file(options.status_file, ExitCode::kUsage);
    }
    return static_cast<int>(ExitCode::kUsage);
  }
  if (options.help || options.version || options.list_ops) {
    if (speaker) std::fputs(options.help ? help_text().c_str() : options.list_ops ? list_ops_text().c_str() : "dips " DIPS_VERSION "\n", stdout);
    return 0;
  }
  const MpiWorld world = mpi_start(&argc, &argv);
  if (world.rank != 0) {
    const bool clean = run_mpi_worker(world.rank, options.orphan_timeout);
    mpi_end(clean, 0);
    return 0;
  }
  std::unique_ptr<Transport> transport = world.size == 1 ? make_local_transport() : make_mpi_transport(world);
  const ExitCode code = run_coordinator(options, *transport, join_arguments(argc, argv));
  write_status_file(options.status_file, code);
  const bool clean = transport->shutdown();
  transport.reset();
  // With a status file the status is there; exiting 0 keeps Open MPI from reporting a failed rank
  // (under --enable-recovery its own exit status means nothing anyway).
  const int process_code = options.status_file.empty() ? static_cast<int>(code) : 0;
  mpi_end(clean, process_code);
  return process_code;
}

}  // namespace dips
