// execute: execute_item on pieces that decode (or are built directly) but do not make sense: a
// whole-image stage sent as a band, band rows that do not match the image, an encode of nothing or to an
// unknown extension, a zero pixel limit, a file sink whose folder is missing. Each is an error in the
// result, never a crash.
//
// docs/bad-inputs.md tabulates what dips does with each piece tried here (tag [bad_input]).
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "dips/execute.h"
#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "dips/wire.h"
#include "harness.h"
#include "hostile_bytes.h"
#include "test_images.h"

using Catch::Contains;
namespace fs = std::filesystem;
using namespace dips::testing;

namespace {

// The item as a worker receives it: through the wire.
dips::WorkItem received(const dips::WorkItem& item) {
  auto bytes = std::make_shared<std::vector<uint8_t>>(dips::encode_work({item}).flatten());
  std::vector<dips::WorkItem> items;
  REQUIRE(dips::decode_work(bytes, &items).ok());
  return items.front();
}

}  // namespace

TEST_CASE("decoded but inconsistent work is an error from execute_item, not a crash", "[bad_input][worker]") {
  SECTION("a whole-image stage sent as a band gives its whole output") {
    dips::WorkItem work = band_work();
    REQUIRE(dips::parse_pipeline("resize=1", &work.steps).ok());
    work.rows = dips::PieceRows{1, 4, 0, 4};
    const dips::ResultItem result = dips::execute_item(received(work));
    CHECK(result.piece_id == 42);
    CHECK(result.error.empty());
    CHECK(result.pixels.size() == cv::Size(1, 1));
  }
  SECTION("band rows that do not match the image (not through decode_work)") {
    for (const dips::PieceRows rows : {dips::PieceRows{1, 3, 0, 5}, dips::PieceRows{1000, 4000, 0, 4}, dips::PieceRows{0, 1, 0, 1}}) {
      dips::WorkItem work = band_work();
      work.rows = rows;
      const dips::ResultItem result = dips::execute_item(work);
      CHECK_FALSE(result.error.empty());
      CHECK(result.pixels.empty());
    }
  }
  SECTION("an encode of an empty image, or to an unknown extension") {
    dips::WorkItem work;
    work.source = dips::Source::kPixels;
    work.sink = dips::Sink::kEncoded;
    work.output_ext = ".png";
    CHECK_FALSE(dips::execute_item(work).error.empty());
    work.pixels = cv::Mat(3, 3, CV_8UC3, cv::Scalar::all(1));
    for (const std::string& ext : std::vector<std::string>{"", ".nope", "png", "../../etc/passwd", std::string("\0.png", 5)}) {
      work.output_ext = ext;
      const dips::ResultItem result = dips::execute_item(work);
      CHECK_FALSE(result.error.empty());
      CHECK(result.encoded.empty());
    }
  }
  SECTION("a file whose max_pixels is zero or negative") {
    for (int64_t max_pixels : {int64_t(0), int64_t(-1), INT64_MIN}) {
      const dips::ResultItem result =
          dips::execute_item(file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(1)), ".png"), "blur=3", ".png", max_pixels));
      CHECK_THAT(result.error, Contains("over the limit"));
    }
  }
  SECTION("a path that is not there, a folder that is not there for the output") {
    TempDir dir;
    dips::WorkItem work = file_work({}, "blur=3");
    work.source = dips::Source::kPath;
    work.path = (dir / "missing.png").string();
    CHECK_THAT(dips::execute_item(work).error, Contains("missing.png"));
    work.path = (dir / "in.png").string();
    write_bytes(dir / "in.png", encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(1)), ".png"));
    work.sink = dips::Sink::kWriteFile;
    work.output_path = (dir / "no/such/folder/out.png").string();
    const dips::ResultItem result = dips::execute_item(work);
    CHECK_THAT(result.error, Contains("out.png"));
    CHECK(result.width == 2);  // the input was read: the report says what it measured
  }
  SECTION("a valid band gives its rows") {
    const dips::ResultItem result = dips::execute_item(received(band_work()));
    REQUIRE(result.error.empty());
    CHECK(result.pixels.rows == 2);
    CHECK(result.pixels.cols == 5);
  }
}

TEST_CASE("execute_item: bands from a file or without steps give exactly their rows; a written file is counted", "[worker]") {
  const cv::Mat image = photo_like(20, 9, 4);
  cv::Mat blurred;
  cv::GaussianBlur(image, blurred, cv::Size(3, 3), 0);
  dips::WorkItem work = file_work(encode(image, ".png"), "blur=3");
  SECTION("a band of a file: decoded by the worker, computed with its halo rows, cut to its own") {
    work.band = true;
    work.sink = dips::Sink::kPixels;
    work.output_ext.clear();
    work.rows = dips::PieceRows{6, 12, 5, 13};
    const dips::ResultItem result = dips::execute_item(received(work));
    REQUIRE(result.error.empty());
    CHECK(identical(result.pixels, blurred.rowRange(6, 12)));
  }
  SECTION("a band of a file reaching beyond the image") {
    work.band = true;
    work.sink = dips::Sink::kPixels;
    work.output_ext.clear();
    work.rows = dips::PieceRows{15, 20, 14, 21};
    const dips::ResultItem result = dips::execute_item(received(work));
    CHECK_THAT(result.error, Contains("cannot decode rows [14, 21) of an image of 20 rows"));
    CHECK(result.pixels.empty());
  }
  SECTION("a probe: a JPEG stops at its header, any other file comes back decoded") {
    // A JPEG's bands decode their own rows, so its probe need not decode (nor send back) the image.
    const std::vector<uint8_t> jpeg = encode(image, ".jpg");
    for (const auto& [bytes, cheap] : {std::pair{jpeg, true}, std::pair{encode(image, ".png"), false}}) {
      dips::WorkItem probe = file_work(bytes);
      probe.steps.clear();
      probe.probe = true;
      probe.sink = dips::Sink::kPixels;
      probe.output_ext.clear();
      const dips::ResultItem result = dips::execute_item(received(probe));
      REQUIRE(result.error.empty());
      CHECK(result.width == 9);
      CHECK(result.height == 20);
      CHECK(result.cheap_rows == cheap);
      if (cheap) {
        CHECK(result.pixels.empty());
      } else {
        CHECK(identical(result.pixels, image));
      }
    }
  }
  SECTION("a probe with a pixel file: the decoded image goes to the file, a band reads its rows from it") {
    TempDir dir;
    dips::WorkItem probe = file_work(encode(image, ".png"));
    probe.steps.clear();
    probe.probe = true;
    probe.sink = dips::Sink::kPixelFile;
    probe.output_ext.clear();
    probe.output_path = (dir / ".dips-tmp-pixels").string();
    const dips::ResultItem decoded = dips::execute_item(received(probe));
    REQUIRE(decoded.error.empty());
    CHECK(decoded.pixels.empty());  // nothing travels back...
    CHECK(decoded.written == fs::file_size(probe.output_path));  // ...but the file's size
    CHECK(decoded.written == 32 + image.total() * 3);
    CHECK(decoded.width == 9);
    CHECK(decoded.height == 20);
    dips::WorkItem band;
    band.source = dips::Source::kPixelFile;
    band.path = probe.output_path;
    band.band = true;
    band.rows = dips::PieceRows{6, 12, 5, 13};
    REQUIRE(dips::parse_pipeline("blur=3", &band.steps).ok());
    const dips::ResultItem result = dips::execute_item(received(band));
    REQUIRE(result.error.empty());
    CHECK(identical(result.pixels, blurred.rowRange(6, 12)));
    band.rows = dips::PieceRows{15, 20, 14, 21};  // beyond the image's rows: the file says so
    CHECK_THAT(dips::execute_item(received(band)).error, Contains("rows 14..21 are outside its 20 rows"));
    fs::remove(probe.output_path);
    CHECK_THAT(dips::execute_item(received(band)).error, Contains("No such file or directory"));
    // A pixel file that cannot be written (here: its folder is missing; a full disk alike): the decoded
    // image comes back with the result instead, for rank 0 to hand out.
    probe.output_path = (dir / "missing/.dips-tmp-pixels").string();
    const dips::ResultItem relayed = dips::execute_item(received(probe));
    REQUIRE(relayed.error.empty());
    CHECK(relayed.written == 0);
    CHECK(identical(relayed.pixels, image));
  }
  SECTION("a band without steps: its own rows, as they are") {
    dips::WorkItem band = band_work();
    band.steps.clear();
    const dips::ResultItem result = dips::execute_item(received(band));
    REQUIRE(result.error.empty());
    CHECK(identical(result.pixels, band.pixels.rowRange(1, 3)));
  }
  SECTION("a file sink reports the bytes it wrote, and the input as it read it") {
    TempDir dir;
    write_bytes(dir / "in.png", encode(image, ".png"));
    work.source = dips::Source::kPath;
    work.path = (dir / "in.png").string();
    work.file = dips::Bytes();
    work.sink = dips::Sink::kWriteFile;
    work.output_path = (dir / "out.png").string();
    const dips::ResultItem result = dips::execute_item(received(work));
    REQUIRE(result.error.empty());
    CHECK(result.written > 0);
    CHECK(result.written == fs::file_size(dir / "out.png"));
    CHECK(result.input_size == static_cast<int64_t>(fs::file_size(dir / "in.png")));  // what --resume compares
    CHECK(result.input_mtime_ns > 0);
    CHECK(identical(read_output(dir / "out.png"), blurred));
  }
}
