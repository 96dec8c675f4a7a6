// dips-make-samples OUTDIR: writes the sample images the quick start runs on (photo-like images, a gray
// image with spaces and parentheses in its name, and QR codes).
#include <cstdio>
#include <opencv2/imgcodecs.hpp>
#include <string>

#include "test_images.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: dips-make-samples OUTDIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  using namespace dips::testing;
  bool ok = cv::imwrite(dir + "/photo_small.png", photo_like(480, 640, 1));
  ok &= cv::imwrite(dir + "/photo_large.jpg", photo_like(1500, 2000, 2));
  ok &= cv::imwrite(dir + "/Image 1 (Panda).png", gray_as_colour(600, 800, 3));
  ok &= cv::imwrite(dir + "/qr_codes.png", qr_image({"https://example.org/dips", "dips: distributed image processing"}));
  if (!ok) {
    std::fprintf(stderr, "dips-make-samples: cannot write into %s\n", dir.c_str());
    return 1;
  }
  return 0;
}
