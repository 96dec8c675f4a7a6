#include "processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace dips::testing {
namespace fs = std::filesystem;
namespace {

struct ProcStat {
  ProcessId id;
  pid_t parent = 0;
  char state = '?';
};

bool read_stat(pid_t pid, ProcStat* stat) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses: it ends at the last ')'.
  const size_t open = text.find('('), close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  stat->id.pid = pid;
  stat->id.name = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  if (fields.size() < 20) return false;
  stat->state = fields[0].empty() ? '?' : fields[0][0];
  stat->parent = static_cast<pid_t>(std::stol(fields[1]));
  stat->id.start = std::stoull(fields[19]);  // field 22 of the line: the start time
  return true;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> list;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    ProcStat stat;
    if (read_stat(static_cast<pid_t>(std::stol(name)), &stat)) list.push_back(stat);
  }
  return list;
}

}  // namespace

double monotonic_seconds() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool wait_until(const std::function<bool()>& condition, double timeout_s) {
  const double end = monotonic_seconds() + timeout_s;
  while (!condition()) {
    if (monotonic_seconds() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Started::Started(const std::string& command) {
  const std::string log = (log_ / "out").string();
  started_ = marked_ = monotonic_seconds();
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE}) ::signal(signal, SIG_DFL);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from here: no race with a signal sent at once to the group
}

Started::~Started() {
  std::vector<ProcessId> left = tree();
  left.insert(left.end(), seen_.begin(), seen_.end());
  signal_each(left, SIGKILL);
  wait(5);
}

std::string Started::output() const { return read_text(log_ / "out"); }

std::vector<ProcessId> Started::tree() const {
  const std::vector<ProcStat> processes = all_processes();
  std::multimap<pid_t, const ProcStat*> children;
  for (const ProcStat& p : processes) children.emplace(p.parent, &p);
  std::vector<ProcessId> found;
  std::vector<pid_t> todo = {pid_};
  for (const ProcStat& p : processes) {
    if (p.id.pid == pid_) found.push_back(p.id);
  }
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      found.push_back(it->second->id);
      todo.push_back(it->second->id.pid);
    }
  }
  seen_.insert(seen_.end(), found.begin(), found.end());
  return found;
}

int Started::wait(double timeout_s) {
  if (code_ >= 0) return code_;
  const double end = monotonic_seconds() + timeout_s;
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      ended_ = monotonic_seconds();
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return code_;
    }
    if (monotonic_seconds() > end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Started::mark() { marked_ = monotonic_seconds(); }

double Started::seconds_since_mark() const { return (ended_ < 0 ? monotonic_seconds() : ended_) - marked_; }

std::vector<ProcessId> still_running(const std::vector<ProcessId>& ids) {
  std::vector<ProcessId> running;
  for (const ProcessId& id : ids) {
    ProcStat stat;
    if (read_stat(id.pid, &stat) && stat.id.start == id.start && stat.state != 'Z' && stat.state != 'X') running.push_back(id);
  }
  return running;
}

void signal_each(const std::vector<ProcessId>& ids, int signal) {
  for (const ProcessId& id : still_running(ids)) ::kill(id.pid, signal);
}

ProcessId find_process(const std::vector<ProcessId>& ids, const std::string& name) {
  for (const ProcessId& id : ids) {
    if (id.name == name) return id;
  }
  return ProcessId();
}

}  // namespace dips::testing
