// libFuzzer target: dips' own PNG and JPEG decoding (codec.h) on arbitrary bytes (docs/fuzzing.md).
// Invariants: no crash, hang or sanitizer report; a decoded image is 8-bit BGR of the size probe_image
// announced, and a band of it decodes to the same rows. Other formats (OpenCV's decoders, loaded as a
// module that fuzz builds do not make) are only sniffed.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <opencv2/core.hpp>

#include "dips/codec.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

bool png_or_jpeg(const uint8_t* data, size_t size) {
  return (size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) ||
         (size >= 3 && std::memcmp(data, "\xFF\xD8\xFF", 3) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = 1 << 20;  // keeps each run fast; the checks before decoding are fuzzed too
  int width = 0, height = 0;
  dips::sniff_image_size(data, size, &width, &height);
  if (!png_or_jpeg(data, size)) return 0;
  dips::ImageInfo info;
  const bool probed = dips::probe_image(data, size, kMaxPixels, &info).ok();
  cv::Mat image;
  if (!dips::decode_image(data, size, kMaxPixels, &image).ok()) return 0;
  check(probed && image.type() == CV_8UC3 && image.cols == info.width && image.rows == info.height);
  const int row0 = image.rows / 3, row1 = std::max(row0 + 1, image.rows * 2 / 3);
  cv::Mat rows;
  check(dips::decode_rows(data, size, kMaxPixels, row0, row1, &rows).ok());  // it reads less than decode_image
  check(rows.type() == CV_8UC3 && rows.size() == cv::Size(image.cols, row1 - row0));
  check(cv::norm(rows, image.rowRange(row0, row1), cv::NORM_INF) == 0);
  return 0;
}
