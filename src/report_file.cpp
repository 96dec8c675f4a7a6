#include "dips/report_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dips {
namespace fs = std::filesystem;

ReportFile::~ReportFile() {
  if (fd_ < 0) return;
  flush();  // lines appended and not yet flushed still go out whole, as a closed stdio stream's would
  ::close(fd_);
}

Status ReportFile::open(const fs::path& path) {
  path_ = path;
  struct stat info {};
  const bool exists = ::stat(path.c_str(), &info) == 0;
  regular_ = !exists || S_ISREG(info.st_mode);
  if (regular_) {
    fd_ = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return error(errno);
    had_content_ = exists && info.st_size > 0;
    char last = '\n';
    if (had_content_ && ::pread(fd_, &last, 1, info.st_size - 1) == 1 && last != '\n') pending_ = "\n";
    return Status();
  }
  // Without O_NONBLOCK, opening a FIFO waits for a reader, forever if there is none.
  fd_ = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0 && errno == ENXIO) {
    return Status::Error(fmt::format("cannot write report '{}': it is a FIFO that nobody reads (start its reader first)", path.string()));
  }
  if (fd_ < 0) return error(errno);
  // Blocking writes from now on: a slow reader slows the report down rather than losing lines.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  return Status();
}

void ReportFile::append(std::string_view line) {
  pending_ += line;
  pending_ += '\n';
}

Status ReportFile::flush() {
  if (pending_.empty() || fd_ < 0) return Status();
  const off_t before = regular_ ? ::lseek(fd_, 0, SEEK_END) : 0;
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      // Undo the part that made it, so that the file ends with a whole line; the lines stay pending.
      if (regular_ && before >= 0 && ::ftruncate(fd_, before) == 0) return error(err);
      pending_.erase(0, done);
      return error(err);
    }
    done += static_cast<size_t>(n);
  }
  pending_.clear();
  return Status();
}

void ReportFile::sync() {
  if (regular_ && fd_ >= 0) ::fsync(fd_);
}

Status ReportFile::error(int err) const {
  return Status::Error(fmt::format("cannot write report '{}': {}", path_.string(), std::strerror(err)));
}

Status check_readable_report(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || S_ISREG(info.st_mode)) return Status();
  return Status::Error(fmt::format("report '{}' is not a regular file (a pipe, FIFO, terminal or device): it cannot be read back, "
                                   "so --resume cannot use it",
                                   path.string()));
}

}  // namespace dips
