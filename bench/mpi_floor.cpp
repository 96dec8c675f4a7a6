// dips-mpi-floor: what Open MPI alone costs a job of dips (bench/targets.py, configurations floor3 and
// floor17). scripts/dips-run starts it in dips' place (DIPS_BIN): it starts MPI as dips does, rank 0 writes the
// exit status dips-run waits for (and wakes it through --status-wake's FIFO, as dips does), and every rank
// ends as dips' ranks end under dips-run (without MPI_Finalize). Its wall is dips-run's and mpirun's start and end plus MPI_Init, and nothing of dips.
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  const char* status_file = nullptr;
  const char* status_wake = nullptr;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--status-file") == 0) status_file = argv[i + 1];
    if (std::strcmp(argv[i], "--status-wake") == 0) status_wake = argv[i + 1];
  }
  int provided = 0, rank = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0 && status_file != nullptr) {
    if (std::FILE* status = std::fopen(status_file, "w")) {
      std::fputs("0\n", status);
      std::fclose(status);
    }
    const int wake = status_wake != nullptr ? ::open(status_wake, O_WRONLY | O_NONBLOCK) : -1;
    if (wake >= 0) {
      if (::write(wake, "\n", 1) != 1) {
        // dips-run's own polls find the status
      }
      ::close(wake);
    }
  }
  ::_exit(0);
}
