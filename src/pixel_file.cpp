#include "dips/pixel_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dips/image_io.h"

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

}  // namespace

Status write_pixel_file(const std::filesystem::path& path, const cv::Mat& image, uint64_t* bytes) {
  if (!supported(image.type()) || image.empty()) {
    return Status::Error(fmt::format("cannot keep an image of type {} in a pixel file", image.type()));
  }
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.width = image.cols;
  header.height = image.rows;
  header.type = image.type();
  std::vector<ByteRange> parts{{reinterpret_cast<const uint8_t*>(&header), sizeof(header)}};
  const size_t row_bytes = image.cols * image.elemSize();
  if (image.isContinuous()) {
    parts.push_back({image.data, row_bytes * image.rows});
  } else {
    for (int y = 0; y < image.rows; ++y) parts.push_back({image.ptr<uint8_t>(y), row_bytes});
  }
  *bytes = sizeof(header) + row_bytes * image.rows;
  return write_file_atomic(path, parts);
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
