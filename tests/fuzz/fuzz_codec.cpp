// libFuzzer target: dips' own PNG and JPEG decoding (codec.h) on arbitrary bytes (docs/fuzzing.md).
// Invariants: no crash, hang or sanitizer report; a decoded image is 8-bit BGR of the size probe_image
// announced, a band of it decodes to the same rows, and a decode that tells its rows as they come tells
// them rising and ends with the same image. A PNG is decoded twice: as it is, and with every chunk's CRC
// made right, so that a mutation inside a chunk reaches the decoders (dips' inflate path and libpng both
// stop at a wrong CRC before looking inside). Other formats (OpenCV's decoders, loaded as a module that
// fuzz builds do not make) are only sniffed.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <opencv2/core.hpp>
#include <vector>

#include "dips/codec.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

bool is_png(const uint8_t* data, size_t size) { return size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0; }

bool png_or_jpeg(const uint8_t* data, size_t size) {
  return is_png(data, size) || (size >= 3 && std::memcmp(data, "\xFF\xD8\xFF", 3) == 0);
}

uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

std::vector<uint8_t> with_crcs_repaired(const uint8_t* data, size_t size) {
  std::vector<uint8_t> png(data, data + size);
  for (size_t pos = 8; pos + 12 <= png.size();) {
    const uint32_t length = be32(&png[pos]);
    if (length > png.size() - pos - 12) break;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, &png[pos + 4], length + 4));
    for (int k = 0; k < 4; ++k) png[pos + 8 + length + k] = static_cast<uint8_t>(crc >> (24 - 8 * k));
    pos += 12 + size_t(length);
  }
  return png;
}

void check_decoding(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = 1 << 20;  // keeps each run fast; the checks before decoding are fuzzed too
  dips::ImageInfo info;
  const bool probed = dips::probe_image(data, size, kMaxPixels, &info).ok();
  cv::Mat image;
  if (!dips::decode_image(data, size, kMaxPixels, &image).ok()) return;
  check(probed && image.type() == CV_8UC3 && image.cols == info.width && image.rows == info.height);
  const int row0 = image.rows / 3, row1 = std::max(row0 + 1, image.rows * 2 / 3);
  cv::Mat rows;
  check(dips::decode_rows(data, size, kMaxPixels, row0, row1, &rows).ok());  // it reads less than decode_image
  check(rows.type() == CV_8UC3 && rows.size() == cv::Size(image.cols, row1 - row0));
  check(cv::norm(rows, image.rowRange(row0, row1), cv::NORM_INF) == 0);
  int told = 0;
  bool rising = true;
  cv::Mat streamed;
  check(dips::decode_image(data, size, kMaxPixels, &streamed, [&](const cv::Mat&, int count) {
          rising = rising && count > told && count <= image.rows;
          told = count;
        }).ok());
  check(rising && (told == 0 || told == image.rows) && cv::norm(streamed, image, cv::NORM_INF) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int width = 0, height = 0;
  dips::sniff_image_size(data, size, &width, &height);
  if (!png_or_jpeg(data, size)) return 0;
  check_decoding(data, size);
  if (is_png(data, size)) {
    const std::vector<uint8_t> repaired = with_crcs_repaired(data, size);
    check_decoding(repaired.data(), repaired.size());
  }
  return 0;
}
