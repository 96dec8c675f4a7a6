#pragma once

namespace dips {

// The dips program: parses the command line, starts MPI, and runs rank 0 as the coordinator and every
// other rank as a worker (a single rank does both). Returns the process exit code (see exit_code.h).
int dips_main(int argc, char** argv);

}  // namespace dips
