#include "dips/thumbnail.h"

#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace dips {
namespace {

// Small enough for a gallery of a hundred pairs to stay light (about 3-6 KB each at 160 px).
constexpr int kJpegQuality = 75;

}  // namespace

Bytes make_thumbnail(const cv::Mat& image, int long_side) {
  if (image.empty() || long_side < 1) return Bytes();
  try {
    const double scale = std::min(1.0, static_cast<double>(long_side) / std::max(image.cols, image.rows));
    cv::Mat small = image;
    if (scale < 1.0) {
      const cv::Size size(std::max(1, static_cast<int>(image.cols * scale + 0.5)), std::max(1, static_cast<int>(image.rows * scale + 0.5)));
      cv::resize(image, small, size, 0, 0, cv::INTER_AREA);
    }
    std::vector<uint8_t> jpeg;
    if (!cv::imencode(".jpg", small, jpeg, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality})) return Bytes();
    return Bytes::of(std::move(jpeg));
  } catch (const cv::Exception&) {
    return Bytes();
  }
}

std::string base64_encode(const Bytes& bytes) {
  using namespace boost::archive::iterators;
  using Encoder = base64_from_binary<transform_width<const uint8_t*, 6, 8>>;
  std::string text(Encoder(bytes.data), Encoder(bytes.data + bytes.size));
  text.append((3 - bytes.size % 3) % 3, '=');  // the iterators leave the padding out
  return text;
}

}  // namespace dips
