// dips-make-samples OUTDIR: writes the sample images the quick start runs on (photo-like images, a gray
// image with spaces and parentheses in its name, QR codes, and a photo with a QR code in it), creating OUTDIR
// if needed.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "test_images.h"

namespace {

const char kUsage[] =
    "usage: dips-make-samples OUTDIR\n"
    "Writes the quick start's sample images (photos, a gray image, QR codes) into OUTDIR, creating it.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "dips-make-samples: %s\n%s", argc != 2 ? "expected one OUTDIR" : "unknown option", kUsage);
    return 2;
  }
  const std::string dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "dips-make-samples: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return 1;
  }
  using namespace dips::testing;
  bool ok = cv::imwrite(dir + "/photo_small.png", photo_like(480, 640, 1));
  ok &= cv::imwrite(dir + "/photo_large.jpg", photo_like(1500, 2000, 2));
  ok &= cv::imwrite(dir + "/Image 1 (Panda).png", gray_as_colour(600, 800, 3));
  // Two QR codes on a page wide enough for the decoded text drawn under each (operations.md's layout).
  cv::Mat page(720, 900, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Mat first = qr_image({"https://example.org/dips"}, 4), second = qr_image({"dips: distributed image processing"}, 4);
  first.copyTo(page(cv::Rect(0, 0, first.cols, first.rows)));
  second.copyTo(page(cv::Rect(0, 360, second.cols, second.rows)));
  ok &= cv::imwrite(dir + "/qr_codes.png", page);
  // A photo with a QR code in it: every operation has something to show on it (docs' gallery).
  cv::Mat photo = photo_like(480, 640, 1);
  const cv::Mat code = qr_image({"https://example.org/dips"}, 3);
  code.copyTo(photo(cv::Rect(photo.cols - code.cols - 16, 16, code.cols, code.rows)));
  ok &= cv::imwrite(dir + "/photo_with_qr.png", photo);
  if (!ok) {
    std::fprintf(stderr, "dips-make-samples: cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
