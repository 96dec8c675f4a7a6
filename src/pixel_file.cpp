#include "dips/pixel_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace dips {
namespace {

constexpr char kMagic[8] = {'D', 'I', 'P', 'S', 'P', 'I', 'X', '1'};

struct Header {
  char magic[8];
  int32_t width, height, type, reserved;
  uint64_t reserved2;
};
static_assert(sizeof(Header) == 32, "the header is 32 bytes on disk");

bool supported(int type) { return type == CV_8UC1 || type == CV_8UC3; }

// pread until `size` bytes are in, or an errno (0 with *short_read when the file ends first).
int read_at(int fd, void* to, size_t size, off_t offset, bool* short_read) {
  auto* out = static_cast<uint8_t*>(to);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, out + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) {
      *short_read = true;
      return 0;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

// pwrite until `size` bytes are out, or an errno.
int write_at(int fd, const void* from, size_t size, off_t offset) {
  const auto* in = static_cast<const uint8_t*>(from);
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd, in + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// File systems of this machine's own disks or memory: what one process writes, every other sees at once,
// and it lives as long as the machine. Any other (a network or cluster file system, FUSE) may not.
bool local_file_system(decltype(statfs::f_type) type) {
  switch (type) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
    case F2FS_SUPER_MAGIC:
    case 0x2FC12FC1:  // ZFS
      return true;
    default:
      return false;
  }
}

// Makes room for the whole file before any row is written: rows once reported cannot be taken back (bands
// may be reading them), so a disk without room for the image must refuse it at the start, not fill up
// half-way and keep the half. The file's size stays that of the rows written, so that a read past them is
// an error ("shorter than its header says"), not rows of zeros. Where the file system cannot reserve
// (fallocate unsupported: NFS before 4.2) the rows are written without it; not posix_fallocate, whose
// stand-in there writes zero bytes into blocks it reads as zero, over rows another writer of the same
// image may be writing at that moment. Without room, what was reserved before the file system ran out
// (ext4 keeps it) is given back by a truncation to the size the file has, which drops blocks past its end.
int reserve(int fd, uint64_t size) {
  int err = 0;
  do {
    err = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) == 0 ? 0 : errno;
  } while (err == EINTR);
  if (err == EOPNOTSUPP || err == ENOSYS) return 0;
  struct stat info {};
  if ((err == ENOSPC || err == EDQUOT) && ::fstat(fd, &info) == 0) (void)::ftruncate(fd, info.st_size);
  return err;
}

}  // namespace

PixelFileWriter::~PixelFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t PixelFileWriter::file_size() const {
  return sizeof(Header) + static_cast<uint64_t>(width_) * height_ * CV_ELEM_SIZE(type_);
}

Status PixelFileWriter::error(const std::string& what) const {
  return Status::Error(fmt::format("cannot write pixel file '{}': {}", path_.string(), what));
}

Status PixelFileWriter::open(const std::filesystem::path& path, int width, int height, int type) {
  path_ = path;
  if (!supported(type) || width <= 0 || height <= 0) return error(fmt::format("cannot keep an image of type {} in a pixel file", type));
  width_ = width;
  height_ = height;
  type_ = type;
  rows_written_ = 0;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) return error(std::strerror(errno));
  const int err = reserve(fd_, file_size());
  if (err != 0) {
    ::close(std::exchange(fd_, -1));
    return error(std::strerror(err));
  }
  struct statfs info {};
  flush_to_publish_ = ::fstatfs(fd_, &info) != 0 || !local_file_system(info.f_type);
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.width = width;
  header.height = height;
  header.type = type;
  const int header_err = write_at(fd_, &header, sizeof(header), 0);
  return header_err == 0 ? Status() : error(std::strerror(header_err));
}

Status PixelFileWriter::write_rows(const cv::Mat& image, int row1) {
  if (fd_ < 0 || image.cols != width_ || image.rows != height_ || image.type() != type_ || row1 > height_) {
    return error("rows of another image, or past its last row");
  }
  const size_t row_bytes = static_cast<size_t>(width_) * image.elemSize();
  for (int y = rows_written_; y < row1;) {
    const int run = image.isContinuous() ? row1 - y : 1;  // contiguous rows go in one write
    const int err = write_at(fd_, image.ptr<uint8_t>(y), row_bytes * run, static_cast<off_t>(sizeof(Header) + row_bytes * y));
    if (err != 0) return error(std::strerror(err));
    y += run;
    rows_written_ = y;
  }
  return Status();
}

Status PixelFileWriter::publish() {
  if (fd_ >= 0 && flush_to_publish_ && ::fdatasync(fd_) != 0) return error(std::strerror(errno));
  return Status();
}

Status PixelFileWriter::close(uint64_t* bytes) {
  if (fd_ < 0) return error("not open");
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return error(std::strerror(errno));
  *bytes = file_size();
  return Status();
}

Status write_pixel_file(const std::filesystem::path& path, const cv::Mat& image, uint64_t* bytes) {
  PixelFileWriter writer;
  Status status = writer.open(path, image.cols, image.rows, image.type());
  if (status.ok()) status = writer.write_rows(image, image.rows);
  if (status.ok()) status = writer.close(bytes);
  return status;
}

Status read_pixel_rows(const std::filesystem::path& path, int row0, int row1, cv::Mat* rows) {
  const auto error = [&](const std::string& what) { return Status::Error(fmt::format("pixel file '{}': {}", path.string(), what)); };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(std::strerror(errno));
  Header header{};
  bool short_read = false;
  int err = read_at(fd, &header, sizeof(header), 0, &short_read);
  Status status;
  if (err != 0) {
    status = error(std::strerror(err));
  } else if (short_read || std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0 || !supported(header.type) || header.width <= 0 ||
             header.height <= 0) {
    status = error("not a pixel file");
  } else {
    if (row1 < 0) row1 = header.height;
    if (row0 < 0 || row0 >= row1 || row1 > header.height) {
      status = error(fmt::format("rows {}..{} are outside its {} rows", row0, row1, header.height));
    } else {
      rows->create(row1 - row0, header.width, header.type);
      const size_t row_bytes = rows->cols * rows->elemSize();
      err = read_at(fd, rows->data, row_bytes * rows->rows, static_cast<off_t>(sizeof(header) + row_bytes * row0), &short_read);
      if (err != 0) status = error(std::strerror(err));
      else if (short_read) status = error("shorter than its header says");
    }
  }
  ::close(fd);
  if (!status.ok()) rows->release();
  return status;
}

}  // namespace dips
