// pixel_file: a decoded image kept in a file for other workers' band pieces.
#include "dips/pixel_file.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "harness.h"
#include "hostile_bytes.h"
#include "test_images.h"

using Catch::Contains;
namespace fs = std::filesystem;
using namespace dips::testing;

TEST_CASE("a pixel file gives back any rows of the image written to it, exactly", "[pixel_file]") {
  TempDir dir;
  const fs::path path = dir / "image.pixels";
  cv::Mat gray_noise;
  cv::cvtColor(noise(11, 7, 6), gray_noise, cv::COLOR_BGR2GRAY);
  for (const cv::Mat& image : {photo_like(37, 23, 5), gray_noise, photo_like(9, 20, 7).colRange(3, 17)}) {
    INFO("type " << image.type() << ", continuous " << image.isContinuous());
    uint64_t bytes = 0;
    REQUIRE(dips::write_pixel_file(path, image, &bytes).ok());
    CHECK(bytes == fs::file_size(path));
    CHECK(bytes == 32 + image.total() * image.elemSize());
    cv::Mat rows;
    REQUIRE(dips::read_pixel_rows(path, 0, -1, &rows).ok());
    CHECK(identical(rows, image));
    REQUIRE(dips::read_pixel_rows(path, 2, image.rows - 1, &rows).ok());
    CHECK(identical(rows, image.rowRange(2, image.rows - 1)));
    REQUIRE(dips::read_pixel_rows(path, image.rows - 1, image.rows, &rows).ok());
    CHECK(identical(rows, image.rowRange(image.rows - 1, image.rows)));
  }
  CHECK(dips_temp_files(dir.path()).empty());  // written atomically: its temporary file was renamed
}

TEST_CASE("what is not a whole pixel file, or rows outside it, are errors that say so", "[pixel_file][bad_input]") {
  TempDir dir;
  const fs::path path = dir / "image.pixels";
  const cv::Mat image = photo_like(10, 4, 8);
  uint64_t bytes = 0;
  REQUIRE(dips::write_pixel_file(path, image, &bytes).ok());
  cv::Mat rows = image.clone();
  CHECK_THAT(dips::read_pixel_rows(path, 3, 11, &rows).message(), Contains("rows 3..11 are outside its 10 rows"));
  CHECK(rows.empty());
  CHECK_THAT(dips::read_pixel_rows(path, 5, 5, &rows).message(), Contains("outside"));
  CHECK_THAT(dips::read_pixel_rows(path, -1, 2, &rows).message(), Contains("outside"));
  fs::resize_file(path, bytes - 1);
  CHECK_THAT(dips::read_pixel_rows(path, 0, 10, &rows).message(), Contains("shorter than its header says"));
  REQUIRE(dips::read_pixel_rows(path, 0, 9, &rows).ok());  // the rows before the cut are whole
  write_bytes(path, encode(image, ".png"));
  CHECK_THAT(dips::read_pixel_rows(path, 0, 1, &rows).message(), Contains("not a pixel file"));
  write_bytes(path, {1, 2, 3});
  CHECK_THAT(dips::read_pixel_rows(path, 0, 1, &rows).message(), Contains("not a pixel file"));
  CHECK_THAT(dips::read_pixel_rows(dir / "missing", 0, 1, &rows).message(), Contains("No such file or directory"));
  CHECK_THAT(dips::write_pixel_file(path, cv::Mat(2, 2, CV_16UC1), &bytes).message(), Contains("cannot keep an image of type"));
  CHECK_THAT(dips::write_pixel_file(dir / "no/folder/x", image, &bytes).message(), Contains("no/folder"));
}
