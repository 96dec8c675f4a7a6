// signals: stop requests recorded by the handler, the launcher's relays not counted twice, a third request
// ending the process, workers ignoring what is sent to the whole job. Each case runs in a child process,
// since it changes how the process handles signals.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>

#include "dips/signals.h"

using namespace dips;

namespace {

// Runs body in a child process; returns its exit code, or 128 + the signal that ended it.
int in_child(const std::function<int()>& body) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(body());
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("a stop signal is recorded; a second one asks to stop at once; a third ends the process", "[signals]") {
  CHECK(in_child([] {
          install_stop_handlers(false);
          if (stop_request().signal != 0) return 1;
          ::raise(SIGTERM);
          if (stop_request().signal != SIGTERM || stop_request().at_once) return 2;
          ::raise(SIGINT);
          if (stop_request().signal != SIGTERM || !stop_request().at_once) return 3;
          ::raise(SIGTERM);  // a third: the default action
          return 4;
        }) == 128 + SIGTERM);
  CHECK(in_child([] {
          install_stop_handlers(false);
          ::raise(SIGUSR2);  // dips-run's "stop at once", even first
          return stop_request().signal == SIGUSR2 && stop_request().at_once ? 0 : 1;
        }) == 0);
  CHECK(in_child([] {
          install_stop_handlers(false);
          ::raise(SIGUSR1);
          ::raise(SIGUSR2);
          ::raise(SIGUSR2);  // passed on twice: never more than "at once"
          return stop_request().signal == SIGUSR1 && stop_request().at_once ? 0 : 1;
        }) == 0);
}

TEST_CASE("under a launcher, the parent passing a stop on is never a second request, in either order", "[signals]") {
  for (const bool parent_first : {true, false}) {
    int ready[2], go[2];
    REQUIRE(::pipe(ready) == 0);
    REQUIRE(::pipe(go) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      install_stop_handlers(true);
      char byte = 0;
      if (!parent_first) ::raise(SIGINT);  // from elsewhere first (a terminal, Slurm)
      ::write(ready[1], &byte, 1);
      // The parent's signal is pending before its byte arrives, so it has been handled once read() returns.
      ::read(go[0], &byte, 1);
      if (!parent_first) ::_exit(stop_request().signal == SIGINT && !stop_request().at_once ? 0 : 4);
      if (stop_request().signal != SIGTERM || stop_request().at_once) ::_exit(1);
      ::raise(SIGTERM);  // from elsewhere (Slurm) after mpirun's: still the same stop
      if (stop_request().at_once) ::_exit(2);
      ::raise(SIGINT);  // a second one from elsewhere: at once
      ::_exit(stop_request().at_once ? 0 : 3);
    }
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    REQUIRE(::kill(child, SIGTERM) == 0);  // mpirun passing the stop on
    REQUIRE(::write(go[1], &byte, 1) == 1);
    int status = 0;
    ::waitpid(child, &status, 0);
    INFO("parent first: " << parent_first);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
  }
}

TEST_CASE("workers ignore the stop signals sent to the whole job", "[signals]") {
  CHECK(in_child([] {
          ignore_stop_signals();
          for (int signal : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) ::raise(signal);
          return stop_request().signal == 0 ? 0 : 1;
        }) == 0);
  CHECK(std::string(signal_name(SIGTERM)) == "SIGTERM");
  CHECK(std::string(signal_name(SIGUSR1)) == "SIGUSR1");
}
