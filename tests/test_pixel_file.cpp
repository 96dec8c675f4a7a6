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
  cv::Mat gray_noise;
  cv::cvtColor(noise(11, 7, 6), gray_noise, cv::COLOR_BGR2GRAY);
  int count = 0;
  for (const cv::Mat& image : {photo_like(37, 23, 5), gray_noise, photo_like(9, 20, 7).colRange(3, 17)}) {
    INFO("type " << image.type() << ", continuous " << image.isContinuous());
    const fs::path path = dir / ("image" + std::to_string(++count) + ".pixels");
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
  CHECK(dips_temp_files(dir.path()).empty());  // written in place: no temporary file
}

TEST_CASE("a pixel file written in runs of rows can be read as far as it is written, and written again in place",
          "[pixel_file]") {
  TempDir dir;
  const fs::path path = dir / "image.pixels";
  const cv::Mat image = photo_like(40, 30, 9);
  dips::PixelFileWriter writer;
  REQUIRE(writer.open(path, image.cols, image.rows, image.type()).ok());
  REQUIRE(writer.write_rows(image, 12).ok());
  REQUIRE(writer.publish().ok());
  CHECK(writer.rows_written() == 12);
  // This machine's own file system (the test folder's: ext4 or tmpfs) shows the writes at once: no flush.
  // (A network file system, which would flush, is not there to test.)
  CHECK_FALSE(writer.flushes_to_publish());
  cv::Mat rows;
  REQUIRE(dips::read_pixel_rows(path, 0, 12, &rows).ok());  // while the rest is not written
  CHECK(identical(rows, image.rowRange(0, 12)));
  CHECK_THAT(dips::read_pixel_rows(path, 10, 13, &rows).message(), Contains("shorter than its header says"));
  // A second writer of the same image (a decode done again) writes over the first's rows as they are.
  dips::PixelFileWriter again;
  REQUIRE(again.open(path, image.cols, image.rows, image.type()).ok());
  REQUIRE(again.write_rows(image, 5).ok());
  REQUIRE(dips::read_pixel_rows(path, 3, 12, &rows).ok());
  CHECK(identical(rows, image.rowRange(3, 12)));
  REQUIRE(writer.write_rows(image, image.rows).ok());
  uint64_t bytes = 0;
  REQUIRE(writer.close(&bytes).ok());
  CHECK(bytes == 32 + image.total() * image.elemSize());
  CHECK(bytes == fs::file_size(path));
  REQUIRE(again.write_rows(image, image.rows).ok());
  REQUIRE(again.close(&bytes).ok());
  REQUIRE(dips::read_pixel_rows(path, 0, -1, &rows).ok());
  CHECK(identical(rows, image));
  CHECK_THAT(writer.write_rows(image, image.rows).message(), Contains("cannot write pixel file"));  // closed
  dips::PixelFileWriter other;
  REQUIRE(other.open(dir / "other.pixels", 30, 40, CV_8UC3).ok());
  CHECK_THAT(other.write_rows(image.rowRange(0, 39), 10).message(), Contains("rows of another image"));
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

TEST_CASE("a disk without room for the whole image refuses the pixel file before any row, and keeps no room of it",
          "[pixel_file][bad_input]") {
  TempDir dir;
  const fs::path disk_dir = dir / "small_disk";
  const TmpfsMount disk(disk_dir, "size=700k");
  if (!disk.mounted()) {
    WARN("skipped: needs root to mount a small tmpfs");
    return;
  }
  const auto free_bytes = [&] { return fs::space(disk_dir).available; };
  const uintmax_t before = free_bytes();
  const fs::path path = disk_dir / "image.pixels";
  dips::PixelFileWriter writer;
  const dips::Status status = writer.open(path, 600, 600, CV_8UC3);  // 1.08 MB
  CHECK_THAT(status.message(), Contains("No space left on device"));
  CHECK_FALSE(writer.is_open());
  CHECK(fs::file_size(path) == 0);
  CHECK(free_bytes() == before);
  const cv::Mat small = photo_like(100, 100, 3);  // 30 kB: room for it, reserved whole at once
  dips::PixelFileWriter fits;
  REQUIRE(fits.open(dir / "small_disk/small.pixels", small.cols, small.rows, small.type()).ok());
  CHECK(free_bytes() <= before - small.total() * 3);
  CHECK(fs::file_size(dir / "small_disk/small.pixels") == 32);  // the header alone: rows come as written
}
