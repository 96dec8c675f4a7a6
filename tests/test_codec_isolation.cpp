// What a dips process maps: built like dips (dips_core, no imgcodecs) and run from the folder of
// libdips_imgcodecs.so (tests/CMakeLists.txt), this checks that PNG and JPEG work without OpenCV's
// imgcodecs ever being loaded, and that the first other format loads it from next to the executable.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dips/codec.h"

namespace {

bool mapped(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

std::string mapped_path(const std::string& name) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t at = line.find('/');
    if (line.find(name) != std::string::npos && at != std::string::npos) return line.substr(at);
  }
  return "";
}

// A 24-bit BMP (bottom-up rows, padded to 4 bytes) of image.
std::vector<uint8_t> bmp_of(const cv::Mat& image) {
  const int row_bytes = (image.cols * 3 + 3) & ~3;
  std::vector<uint8_t> b = {'B', 'M'};
  const auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  const auto u16 = [&](uint32_t v) { for (int i = 0; i < 2; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  u32(54 + row_bytes * image.rows);
  u32(0);
  u32(54);
  u32(40);
  u32(image.cols);
  u32(image.rows);
  u16(1);
  u16(24);
  for (int i = 0; i < 6; ++i) u32(0);
  for (int y = image.rows - 1; y >= 0; --y) {
    b.insert(b.end(), image.ptr<uint8_t>(y), image.ptr<uint8_t>(y) + image.cols * 3);
    b.resize(b.size() + static_cast<size_t>(row_bytes - image.cols * 3), 0);
  }
  return b;
}

}  // namespace

TEST_CASE("PNG and JPEG never load OpenCV's imgcodecs; other formats load it from next to the executable", "[codec]") {
  REQUIRE(std::getenv("DIPS_IMGCODECS_MODULE") == nullptr);  // the lookup next to the executable is under test
  REQUIRE_FALSE(mapped("libopencv_imgcodecs"));
  cv::Mat image(37, 45, CV_8UC3);
  cv::randu(image, 0, 256);
  for (const std::string ext : {".png", ".jpg"}) {
    std::vector<uint8_t> bytes;
    REQUIRE(dips::encode_image(image, ext, &bytes).ok());
    cv::Mat decoded, rows;
    REQUIRE(dips::decode_image(bytes, 1 << 20, &decoded).ok());
    REQUIRE(decoded.size() == image.size());
    REQUIRE(dips::decode_rows(bytes.data(), bytes.size(), 1 << 20, 16, 30, &rows).ok());
    dips::EncodedBand band;
    REQUIRE(dips::encode_band(image, ext, image.cols, image.rows, 0, &band).ok());
    REQUIRE(dips::can_encode_extension(ext));
  }
  CHECK_FALSE(mapped("libopencv_imgcodecs"));
  CHECK_FALSE(mapped("libdips_imgcodecs"));

  cv::Mat decoded;
  const dips::Status status = dips::decode_image(bmp_of(image), 1 << 20, &decoded);
  INFO(status.message());
  REQUIRE(status.ok());
  CHECK(cv::norm(decoded, image, cv::NORM_INF) == 0);
  CHECK(mapped("libopencv_imgcodecs"));
  const std::filesystem::path module = mapped_path("libdips_imgcodecs.so");
  CHECK(module.parent_path() == std::filesystem::read_symlink("/proc/self/exe").parent_path());
}
