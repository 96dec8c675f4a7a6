#include "dips/image_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dips/temp_files.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Writes every byte of parts to fd, as few writev calls as the kernel allows. Returns 0 or an errno.
int write_all(int fd, std::vector<ByteRange> parts) {
  size_t first = 0;
  while (first < parts.size()) {
    if (parts[first].size == 0) {
      ++first;
      continue;
    }
    std::vector<iovec> iov;
    for (size_t i = first; i < parts.size() && iov.size() < IOV_MAX; ++i) {
      iov.push_back(iovec{const_cast<uint8_t*>(parts[i].data), parts[i].size});
    }
    ssize_t n = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    for (; n > 0; ++first) {  // a short write: drop what was written, resume mid-part
      const size_t taken = std::min(static_cast<size_t>(n), parts[first].size);
      parts[first].data += taken;
      parts[first].size -= taken;
      n -= static_cast<ssize_t>(taken);
      if (parts[first].size != 0) break;
    }
  }
  return 0;
}

FileIdentity identity_of(const struct stat& info) {
  return {static_cast<int64_t>(info.st_size), static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
}

}  // namespace

FileIdentity file_identity(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {};
  return identity_of(info);
}

Status read_file(const fs::path& path, uint64_t max_bytes, std::vector<uint8_t>* bytes, FileIdentity* identity) {
  // Non-blocking, so that a FIFO (or a device) named like an image cannot hang the job: it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    std::error_code ec;
    if (err == ENOENT && fs::is_symlink(fs::symlink_status(path, ec))) {
      return Status::Error(fmt::format("cannot read '{}': broken symbolic link", path.string()));
    }
    if (err == ELOOP) return Status::Error(fmt::format("cannot read '{}': symbolic link loop", path.string()));
    return Status::Error(fmt::format("cannot read '{}': {}", path.string(), std::strerror(err)));
  }
  struct stat info {};
  Status status;
  if (::fstat(fd, &info) != 0) {
    status = Status::Error(fmt::format("cannot read '{}': {}", path.string(), std::strerror(errno)));
  } else if (S_ISDIR(info.st_mode)) {
    status = Status::Error(fmt::format("cannot read '{}': it is a directory, not an image file", path.string()));
  } else if (!S_ISREG(info.st_mode)) {
    status = Status::Error(fmt::format("cannot read '{}': not a regular file", path.string()));
  } else if (static_cast<uint64_t>(info.st_size) > max_bytes) {
    status = Status::Error(fmt::format("'{}' is {} bytes, over the limit of {} (--max-file-bytes)", path.string(),
                                       info.st_size, max_bytes));
  } else {
    if (identity != nullptr) *identity = identity_of(info);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    bytes->resize(static_cast<size_t>(info.st_size));
    size_t done = 0;
    while (done < bytes->size()) {
      const ssize_t n = ::read(fd, bytes->data() + done, bytes->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        status = Status::Error(fmt::format("cannot read '{}': {}", path.string(), n < 0 ? std::strerror(errno) : "file shrank while reading"));
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return status;
}

namespace {

// Renames temp to path; without `replace`, fails with EEXIST when path exists. Some file systems (older
// NFS) refuse RENAME_NOREPLACE: there a hard link does the same (it never replaces), then temp goes.
int rename_into_place(const fs::path& temp, const fs::path& path, bool replace) {
  if (replace) return ::rename(temp.c_str(), path.c_str()) == 0 ? 0 : errno;
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(temp.c_str(), path.c_str()) != 0) return errno;
  ::unlink(temp.c_str());
  return 0;
}

// An output that must not replace anything, written as an unnamed file then linked under its name.
// Returns 0, an errno, or -1 when the named way must do it (no unnamed files here, or none linked; no
// name was touched).
int write_unnamed(const fs::path& path, const std::vector<ByteRange>& parts, bool sync) {
  const int fd = create_unnamed_file(path.parent_path());
  if (fd < 0) return errno == ECANCELED ? ECANCELED : -1;
  int err = write_all(fd, parts);
  if (err == 0 && sync && ::fsync(fd) != 0) err = errno;
  bool linked = false;
  if (err == 0) {
    err = link_unnamed_file(fd, path);
    linked = err == 0;
    // A file system that makes unnamed files but does not link them, or no /proc to link through: the
    // named way, which says what is wrong if it fails too.
    if (err != 0 && err != EEXIST && err != ECANCELED) err = -1;
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0 && linked) ::unlink(path.c_str());  // ours, linked a moment ago: its bytes are in doubt
  return err;
}

// An output written as a named temporary file (temp_files.h) renamed into place.
int write_named(const fs::path& path, const std::vector<ByteRange>& parts, bool sync, bool replace) {
  // A short name (temp_files.h): the output's own name may already be as long as the file system allows.
  fs::path temp;
  const int fd = create_temp_file(path.parent_path(), &temp);
  if (fd < 0) return errno;
  int err = write_all(fd, parts);
  if (err == 0 && sync && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0) err = rename_into_place(temp, path, replace);
  if (err != 0) ::unlink(temp.c_str());
  release_temp_file(temp);
  return err;
}

// Whether path is a regular file (not a link) holding exactly these bytes; with `sync`, made durable then.
bool holds_bytes(const fs::path& path, const std::vector<ByteRange>& parts, bool sync) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  uint64_t total = 0;
  for (const ByteRange& part : parts) total += part.size;
  struct stat info {};
  bool same = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && static_cast<uint64_t>(info.st_size) == total;
  std::vector<uint8_t> chunk(std::min<uint64_t>(total, 1 << 20));
  for (size_t i = 0; same && i < parts.size(); ++i) {
    for (size_t done = 0; same && done < parts[i].size;) {
      const size_t want = std::min(chunk.size(), parts[i].size - done);
      const ssize_t n = ::read(fd, chunk.data(), want);
      if (n < 0 && errno == EINTR) continue;
      same = n > 0 && std::memcmp(chunk.data(), parts[i].data + done, static_cast<size_t>(n)) == 0;
      done += n > 0 ? static_cast<size_t>(n) : 0;
    }
  }
  if (same && sync) same = ::fsync(fd) == 0;
  ::close(fd);
  return same;
}

}  // namespace

Status write_file_atomic(const fs::path& path, const std::vector<ByteRange>& parts, bool sync, bool replace) {
  int err = replace ? -1 : write_unnamed(path, parts, sync);
  if (err == -1) err = write_named(path, parts, sync, replace);
  // The very bytes under the name: a worker of this job wrote them and was lost before rank 0 heard of
  // it, and this is the piece done again. Refused, the task would fail with its output in place.
  if (err == EEXIST && holds_bytes(path, parts, sync)) err = 0;
  if (err == EEXIST) return output_exists(path);
  if (err != 0) return Status::Error(fmt::format("cannot write '{}': {}", path.string(), std::strerror(err)));
  if (!sync) return Status();
  // The rename itself is durable only once the folder is synced.
  const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status();
}

Status output_exists(const fs::path& path) {
  return Status::Error(fmt::format("output '{}' exists; --overwrite replaces it, --resume skips finished tasks", path.string()));
}

Status write_file_atomic(const fs::path& path, const std::vector<uint8_t>& bytes, bool sync, bool replace) {
  return write_file_atomic(path, std::vector<ByteRange>{ByteRange{bytes.data(), bytes.size()}}, sync, replace);
}

std::string_view path_extension(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name == "." || name == "..") return {};
  const size_t dot = name.rfind('.');
  return dot == std::string_view::npos || dot == 0 ? std::string_view() : name.substr(dot);
}

std::string lowercase_extension(std::string_view path) { return lower(std::string(path_extension(path))); }

bool is_image_extension(std::string_view extension) {
  static const char* kExtensions[] = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".dib", ".webp",
                                      ".pbm", ".pgm", ".ppm", ".pnm", ".pxm", ".sr", ".ras", ".jp2", ".exr", ".hdr", ".pic"};
  return std::find(std::begin(kExtensions), std::end(kExtensions), extension) != std::end(kExtensions);
}

}  // namespace dips
