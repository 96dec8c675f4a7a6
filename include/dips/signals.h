#pragma once

namespace dips {

// A stop asked for by a signal, as rank 0's loop sees it.
struct StopRequest {
  int signal = 0;        // the signal that asked first; 0: no stop asked for
  bool at_once = false;  // a second request (or SIGUSR2): stop now, without waiting for pieces in flight
};

// Rank 0 (and a single-process run): SIGINT, SIGTERM and SIGUSR1 (Slurm's early warning) ask for a stop,
// which the coordinator's loop carries out (the handler only records it: async-signal-safe). A second
// such signal, or SIGUSR2, asks to stop at once; a third ends the process the default way. Under a
// launcher, signals sent by the parent process (mpirun or its daemon) are never counted as a second or
// third: they pass on a stop the job got anyway (Slurm and Ctrl-C signal every process of the job, mpirun
// signals the ranks again a little later, dips-run's relays come through mpirun), in any order. SIGPIPE
// is ignored: a report written to a pipe whose reader is gone gives a write error, not a silent death.
void install_stop_handlers(bool under_launcher);

// Workers: SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 are ignored, so that a signal sent to the whole job does
// not kill a worker before rank 0 has told it to stop; a worker ends on rank 0's stop message, or after
// the orphan timeout when rank 0 is gone.
void ignore_stop_signals();

// The stop asked for so far. Any thread may ask.
StopRequest stop_request();

// "SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", or "signal N".
const char* signal_name(int signal);

}  // namespace dips
