#pragma once
// Started processes for tests that send real signals: a command in its own process group, its output in a
// file, the tree of processes it started (found through /proc, as Slurm's proctrack/linuxproc finds a
// job's processes), and checks that none of them outlives the test.
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "harness.h"

namespace dips::testing {

// A process as /proc shows it: pid and start time (a pid may be reused; the pair is not).
struct ProcessId {
  pid_t pid = 0;
  unsigned long long start = 0;
  std::string name;
};

// `sh -c command` in a new process group, stdin from /dev/null, stdout and stderr to a log file. The
// destructor kills whatever of its tree is still running.
class Started {
 public:
  explicit Started(const std::string& command);
  ~Started();
  Started(const Started&) = delete;
  Started& operator=(const Started&) = delete;

  pid_t pid() const { return pid_; }
  // stdout and stderr so far.
  std::string output() const;
  // The process and all its descendants, now (orphans no longer show: keep what an earlier call found).
  std::vector<ProcessId> tree() const;
  // Waits for the process to end: its exit code (128 + signal when a signal ended it), or -1 after timeout_s.
  int wait(double timeout_s);
  // Seconds from construction (or from mark()) to the end seen by wait().
  double seconds_since_mark() const;
  void mark();

 private:
  pid_t pid_ = -1;
  int code_ = -1;
  mutable std::vector<ProcessId> seen_;  // every process tree() found: killed at the end if still running
  TempDir log_;
  double started_ = 0, marked_ = 0, ended_ = -1;
};

// Seconds on a monotonic clock.
double monotonic_seconds();

// Polls condition every 20 ms until it holds (true) or timeout_s passes (false).
bool wait_until(const std::function<bool()>& condition, double timeout_s);

// The processes of `ids` that still run (same pid and start time, not a zombie).
std::vector<ProcessId> still_running(const std::vector<ProcessId>& ids);

// Sends a signal to each process of `ids` (as Slurm does to every process of a job).
void signal_each(const std::vector<ProcessId>& ids, int signal);

// The first process of `ids` whose command name is `name`, or pid 0.
ProcessId find_process(const std::vector<ProcessId>& ids, const std::string& name);

}  // namespace dips::testing
