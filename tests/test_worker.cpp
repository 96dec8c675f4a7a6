// worker: execute_work on messages that decode (or are built directly) but do not make sense: a
// whole-image stage sent as a band, band rows that do not match the image, an encode of nothing or to an
// unknown extension, a zero pixel limit. Each is an error in the result, never a crash.
//
// docs/bad-inputs.md tabulates what dips does with each message tried here (tag [bad_input]).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "dips/wire.h"
#include "dips/worker.h"
#include "hostile_bytes.h"

using Catch::Contains;
using namespace dips::testing;

TEST_CASE("decoded but inconsistent work is an error from execute_work, not a crash", "[bad_input][worker]") {
  SECTION("a whole-image stage sent as a band gives its whole output") {
    dips::WorkMessage work = band_work();
    REQUIRE(dips::parse_pipeline("resize=1", &work.steps).ok());
    work.rows = dips::PieceRows{1, 4, 0, 4};
    const std::vector<uint8_t> bytes = dips::encode_work(work);
    dips::WorkMessage decoded;
    REQUIRE(dips::decode_work(bytes.data(), bytes.size(), &decoded).ok());
    const dips::ResultMessage result = dips::execute_work(decoded);
    CHECK(result.piece_id == 42);
    CHECK(result.error.empty());
    CHECK(result.image.size() == cv::Size(1, 1));
  }
  SECTION("band rows that do not match the image (not through decode_work)") {
    for (const dips::PieceRows rows : {dips::PieceRows{1, 3, 0, 5}, dips::PieceRows{1000, 4000, 0, 4}, dips::PieceRows{0, 1, 0, 1}}) {
      dips::WorkMessage work = band_work();
      work.rows = rows;
      const dips::ResultMessage result = dips::execute_work(work);
      CHECK_FALSE(result.error.empty());
      CHECK(result.image.empty());
    }
  }
  SECTION("an encode of an empty image, or to an unknown extension") {
    dips::WorkMessage work;
    work.kind = dips::WorkKind::kEncode;
    work.output_ext = ".png";
    CHECK_FALSE(dips::execute_work(work).error.empty());
    work.image = cv::Mat(3, 3, CV_8UC3, cv::Scalar::all(1));
    for (const std::string& ext : std::vector<std::string>{"", ".nope", "png", "../../etc/passwd", std::string("\0.png", 5)}) {
      work.output_ext = ext;
      const dips::ResultMessage result = dips::execute_work(work);
      CHECK_FALSE(result.error.empty());
      CHECK(result.bytes.empty());
    }
  }
  SECTION("a file whose max_pixels is zero or negative") {
    for (int64_t max_pixels : {int64_t(0), int64_t(-1), INT64_MIN}) {
      const dips::ResultMessage result =
          dips::execute_work(file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(1)), ".png"), "blur=3", ".png", max_pixels));
      CHECK_THAT(result.error, Contains("over the limit"));
    }
  }
  SECTION("a valid band gives its rows") {
    const dips::WorkMessage work = band_work();
    const dips::ResultMessage result = dips::execute_work(work);
    REQUIRE(result.error.empty());
    CHECK(result.image.rows == 2);
    CHECK(result.image.cols == 5);
  }
}
