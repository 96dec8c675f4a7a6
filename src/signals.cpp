#include "dips/signals.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace dips {
namespace {

// Written by the handler, read by the loop: lock-free atomics are async-signal-safe.
std::atomic<int> first_signal{0};
std::atomic<bool> at_once{false};
std::atomic<int> direct_requests{0};
volatile sig_atomic_t under_launcher_flag = 0;

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

void set_disposition(int signal, void (*handler)(int, siginfo_t*, void*)) {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  if (handler != nullptr) {
    action.sa_sigaction = handler;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
  } else {
    action.sa_handler = SIG_DFL;
  }
  ::sigaction(signal, &action, nullptr);
}

void on_stop_signal(int signal, siginfo_t* info, void*) {
  int none = 0;
  if (signal == SIGUSR2) {  // dips-run's "at once": never more than that
    first_signal.compare_exchange_strong(none, signal);
    at_once = true;
    return;
  }
  first_signal.compare_exchange_strong(none, signal);
  // The launcher passing on a stop (mpirun's own SIGTERM, dips-run's SIGUSR1) is the request the job got
  // anyway, whichever comes first: only signals from elsewhere (a terminal, a kill, Slurm) are counted.
  const bool relayed = under_launcher_flag && info != nullptr && info->si_code == SI_USER && info->si_pid == ::getppid();
  if (relayed) return;
  const int direct = ++direct_requests;
  if (direct == 2) at_once = true;
  if (direct < 3) return;
  // A third request: the user insists; the default action ends the process when this handler returns.
  for (int stop : kStopSignals) set_disposition(stop, nullptr);
  ::raise(signal);
}

}  // namespace

void install_stop_handlers(bool under_launcher) {
  under_launcher_flag = under_launcher ? 1 : 0;
  for (int signal : kStopSignals) set_disposition(signal, on_stop_signal);
  ::signal(SIGPIPE, SIG_IGN);
}

void ignore_stop_signals() {
  for (int signal : kStopSignals) ::signal(signal, SIG_IGN);
}

StopRequest stop_request() {
  StopRequest request;
  request.signal = first_signal.load();
  request.at_once = at_once.load();
  return request;
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGHUP: return "SIGHUP";
  }
  return "a signal";
}

}  // namespace dips
