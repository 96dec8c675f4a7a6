#include "dips/exit_code.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "dips/image_io.h"

namespace dips {

void wake_launcher(const std::string& fifo) {
  if (fifo.empty()) return;
  const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISFIFO(info.st_mode) && ::write(fd, "\n", 1) != 1) {
    // Full or gone: the launcher's own polls find the status.
  }
  ::close(fd);
}

void write_status_file(const std::string& path, ExitCode code) {
  if (path.empty()) return;
  const std::string text = std::to_string(static_cast<int>(code)) + "\n";
  if (!write_file_atomic(path, std::vector<uint8_t>(text.begin(), text.end()), true).ok()) {
    std::fprintf(stderr, "dips: warning: cannot write status file '%s'\n", path.c_str());
  }
}

namespace {
int held_status_fd = -1;
}  // namespace

void hold_status_file(const std::string& path) {
  if (path.empty()) return;
  // Never closed: the lock lasts as long as this process (close-on-exec keeps it from spawned children).
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  held_status_fd = fd;
  // Blocking: a launcher only tests the lock for an instant. The lock comes before the mark, so that a
  // launcher never sees "running" unlocked while rank 0 lives.
  const char mark[] = "running\n";
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0 || ::ftruncate(fd, 0) != 0 || ::write(fd, mark, sizeof mark - 1) != static_cast<ssize_t>(sizeof mark - 1)) {
    std::fprintf(stderr, "dips: warning: cannot hold status file '%s': %s\n", path.c_str(), std::strerror(errno));
  }
}

int process_exit_status(const std::string& status_file, ExitCode code) {
  return status_file.empty() ? static_cast<int>(code) : 0;
}

void mark_status_file_started() {
  // As long as "running\n": a launcher reading at any moment sees one word or the other, whole.
  const char mark[] = "started\n";
  if (held_status_fd >= 0 && ::pwrite(held_status_fd, mark, sizeof mark - 1, 0) != static_cast<ssize_t>(sizeof mark - 1)) {
    std::fprintf(stderr, "dips: warning: cannot mark the status file started: %s\n", std::strerror(errno));
  }
}

}  // namespace dips
