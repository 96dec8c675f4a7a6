#include "dips/thumbnail.h"

#include <opencv2/imgproc.hpp>

#include "dips/codec.h"

namespace dips {
namespace {

// The size of the thumbnail of a width x height image: its long side at most long_side, never scaled up.
cv::Size thumbnail_size(int width, int height, int long_side) {
  const double scale = std::min(1.0, static_cast<double>(long_side) / std::max(width, height));
  return cv::Size(std::max(1, static_cast<int>(width * scale + 0.5)), std::max(1, static_cast<int>(height * scale + 0.5)));
}

// The thumbnail row where the image's row `row` falls (row == height gives the thumbnail's height).
int thumbnail_row(int row, int height, int thumbnail_height) {
  return static_cast<int>((static_cast<int64_t>(row) * thumbnail_height + height / 2) / height);
}

// `image` scaled down to `size` by area averaging over a grid of at most kSamples x kSamples of its pixels
// per thumbnail pixel, picked by nearest neighbour first: averaging every pixel of a 20 MP photo took
// ~30 ms, twice per task (input and output), 10-15% of a whole task's time; the grid takes ~0.2 ms and
// stays within a few levels of the full average on photos.
cv::Mat scaled_down(const cv::Mat& image, cv::Size size) {
  constexpr int kSamples = 4;
  const cv::Size grid(std::min(image.cols, size.width * kSamples), std::min(image.rows, size.height * kSamples));
  cv::Mat sampled = image;
  if (grid != image.size()) cv::resize(image, sampled, grid, 0, 0, cv::INTER_NEAREST_EXACT);
  cv::Mat small;
  cv::resize(sampled, small, size, 0, 0, cv::INTER_AREA);
  return small;
}

// dips's own JPEG encoder (OpenCV's defaults, quality 95): imgcodecs is not linked into dips.
Bytes jpeg_of(const cv::Mat& image) {
  std::vector<uint8_t> jpeg;
  if (!encode_image(image, ".jpg", &jpeg).ok() || jpeg.size() > kMaxThumbnailBytes) return Bytes();
  return Bytes::of(std::move(jpeg));
}

}  // namespace

Bytes make_thumbnail(const cv::Mat& image, int long_side) {
  if (image.empty() || long_side < 1) return Bytes();
  try {
    const cv::Size size = thumbnail_size(image.cols, image.rows, long_side);
    return jpeg_of(size == image.size() ? image : scaled_down(image, size));
  } catch (const cv::Exception&) {
    return Bytes();
  }
}

cv::Mat thumbnail_rows(const cv::Mat& rows, int row0, int width, int height, int long_side) {
  const bool inside = row0 >= 0 && rows.cols == width && row0 + rows.rows <= height;
  if (rows.empty() || long_side < 1 || !inside) return cv::Mat();
  const cv::Size size = thumbnail_size(width, height, long_side);
  const int t0 = thumbnail_row(row0, height, size.height), t1 = thumbnail_row(row0 + rows.rows, height, size.height);
  if (t1 <= t0) return cv::Mat();
  try {
    return scaled_down(rows, cv::Size(size.width, t1 - t0));
  } catch (const cv::Exception&) {
    return cv::Mat();
  }
}

Bytes stack_thumbnail_rows(const std::vector<cv::Mat>& shares) {
  if (shares.empty()) return Bytes();
  for (const cv::Mat& share : shares) {
    if (share.empty() || share.cols != shares.front().cols || share.type() != shares.front().type()) return Bytes();
  }
  try {
    cv::Mat stacked;
    cv::vconcat(shares, stacked);
    return jpeg_of(stacked);
  } catch (const cv::Exception&) {
    return Bytes();
  }
}

// Three bytes at a time into a string sized once: Boost's base64 iterators took 85 instructions a byte, a
// thirteenth of rank 0's in a job of 20,000 thumbnails (its gallery's 200 thumbnails).
std::string base64_encode(const Bytes& bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text((bytes.size + 2) / 3 * 4, '=');
  char* out = text.data();
  const uint8_t* in = bytes.data;
  size_t left = bytes.size;
  for (; left >= 3; left -= 3, in += 3, out += 4) {
    const uint32_t group = uint32_t{in[0]} << 16 | uint32_t{in[1]} << 8 | in[2];
    out[0] = kDigits[group >> 18];
    out[1] = kDigits[group >> 12 & 63];
    out[2] = kDigits[group >> 6 & 63];
    out[3] = kDigits[group & 63];
  }
  if (left > 0) {  // one or two bytes: two or three digits, then the padding already there
    const uint32_t group = uint32_t{in[0]} << 16 | (left == 2 ? uint32_t{in[1]} << 8 : 0);
    out[0] = kDigits[group >> 18];
    out[1] = kDigits[group >> 12 & 63];
    if (left == 2) out[2] = kDigits[group >> 6 & 63];
  }
  return text;
}

}  // namespace dips
