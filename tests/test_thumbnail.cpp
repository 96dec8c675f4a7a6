// thumbnail: the report's gallery thumbnails, and the pieces that make them (execute_item with
// WorkItem::thumbnails): scaled down by area averaging to the long side asked, never up, gray or colour as
// the image is; base64 as RFC 4648 says.
#include <boost/archive/iterators/binary_from_base64.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <catch2/catch.hpp>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dips/codec.h"
#include "dips/execute.h"
#include "dips/thumbnail.h"
#include "harness.h"
#include "hostile_bytes.h"
#include "test_images.h"

using namespace dips;
using namespace dips::testing;
namespace fs = std::filesystem;

namespace {

cv::Mat decoded(const Bytes& jpeg) {
  REQUIRE_FALSE(jpeg.empty());
  return cv::imdecode(std::vector<uint8_t>(jpeg.data, jpeg.data + jpeg.size), cv::IMREAD_UNCHANGED);
}

// Mean absolute difference per channel value. JPEG (quality 95) keeps a thumbnail within a few levels of
// its image (up to about 15 on these noisy test photos at 60 pixels), far from any other image.
double mean_difference(const cv::Mat& a, const cv::Mat& b) {
  REQUIRE(a.size() == b.size());
  REQUIRE(a.type() == b.type());
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar mean = cv::mean(diff);
  return (mean[0] + mean[1] + mean[2]) / a.channels();
}

cv::Mat area_scaled(const cv::Mat& image, cv::Size size) {
  cv::Mat small;
  cv::resize(image, small, size, 0, 0, cv::INTER_AREA);
  return small;
}

}  // namespace

TEST_CASE("thumbnails: the long side as asked, the content of the image, gray stays gray", "[thumbnail]") {
  const cv::Mat wide = photo_like(300, 600, 4);
  const cv::Mat thumb = decoded(make_thumbnail(wide, 160));
  CHECK(thumb.size() == cv::Size(160, 80));
  CHECK(thumb.channels() == 3);
  CHECK(mean_difference(thumb, area_scaled(wide, {160, 80})) < 20);

  const cv::Mat tall = photo_like(500, 100, 5);
  CHECK(decoded(make_thumbnail(tall, 160)).size() == cv::Size(32, 160));

  cv::Mat gray;
  cv::cvtColor(photo_like(200, 200, 6), gray, cv::COLOR_BGR2GRAY);
  const cv::Mat gray_thumb = decoded(make_thumbnail(gray, 50));
  CHECK(gray_thumb.channels() == 1);
  CHECK(gray_thumb.size() == cv::Size(50, 50));

  SECTION("a picture of noise is not worth its bytes") {
    CHECK(make_thumbnail(noise(160, 160, 1), 160).empty());  // 160x160 of uniform noise
    CHECK(make_thumbnail(noise(40, 40, 1), 160).size <= kMaxThumbnailBytes);
    CHECK_FALSE(make_thumbnail(noise(40, 40, 1), 160).empty());
  }
  SECTION("never scaled up; nothing for nothing") {
    CHECK(decoded(make_thumbnail(photo_like(20, 30, 7), 160)).size() == cv::Size(30, 20));
    CHECK(make_thumbnail(cv::Mat(), 160).empty());
    CHECK(make_thumbnail(wide, 0).empty());
  }
}

TEST_CASE("base64 of the RFC 4648 test vectors", "[thumbnail]") {
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(Bytes::of(std::vector<uint8_t>(plain.begin(), plain.end()))) == encoded);
  }
  CHECK(base64_encode(Bytes::of({0xff, 0xfe, 0x00})) == "//4A");
}

TEST_CASE("base64 of any bytes (every value in each place of a group) reads back through Boost's decoder", "[thumbnail]") {
  using namespace boost::archive::iterators;
  using Decoder = transform_width<binary_from_base64<std::string::const_iterator>, 8, 6>;
  std::mt19937 rng(20261203);
  for (size_t size = 0; size < 700; ++size) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(size < 256 * 3 && i < 3 ? (size + i) % 256 : rng());
    const std::string text = base64_encode(Bytes::of(bytes));
    INFO("size " << size);
    REQUIRE(text.size() == (size + 2) / 3 * 4);
    REQUIRE(text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == std::string::npos);
    std::string digits = text;
    while (!digits.empty() && digits.back() == '=') digits.pop_back();
    REQUIRE(text.size() - digits.size() == (3 - size % 3) % 3);
    REQUIRE(std::vector<uint8_t>(Decoder(digits.cbegin()), Decoder(digits.cend())) == bytes);
  }
}

TEST_CASE("pieces make the thumbnails they are asked for", "[thumbnail][worker]") {
  const cv::Mat input = photo_like(120, 240, 8);
  WorkItem work = file_work(encode(input, ".png"), "color_inversion");
  work.thumbnail_px = 60;
  constexpr double kClose = 20;
  REQUIRE(mean_difference(area_scaled(input, {60, 30}), area_scaled(photo_like(120, 240, 9), {60, 30})) > 2 * kClose);  // a different photo

  SECTION("kAlways: the decoded input's and the output's") {
    work.thumbnails = Thumbnails::kAlways;
    const ResultItem result = execute_item(work);
    REQUIRE(result.error.empty());
    CHECK(mean_difference(decoded(result.thumbnail_input), area_scaled(input, {60, 30})) < kClose);
    cv::Mat inverted;
    cv::bitwise_not(input, inverted);
    CHECK(mean_difference(decoded(result.thumbnail_output), area_scaled(inverted, {60, 30})) < kClose);
  }
  SECTION("kOnError: nothing when the piece succeeds") {
    work.thumbnails = Thumbnails::kOnError;
    const ResultItem result = execute_item(work);
    REQUIRE(result.error.empty());
    CHECK(result.thumbnail_input.empty());
    CHECK(result.thumbnail_output.empty());
  }
  SECTION("kOnError and kAlways: the input's when the piece fails after decoding it") {
    for (Thumbnails mode : {Thumbnails::kOnError, Thumbnails::kAlways}) {
      TempDir dir;
      WorkItem failing = work;
      failing.thumbnails = mode;
      failing.sink = Sink::kWriteFile;
      failing.output_path = (dir / "missing-folder/out.png").string();  // the write fails
      const ResultItem result = execute_item(failing);
      CHECK_FALSE(result.error.empty());
      CHECK(mean_difference(decoded(result.thumbnail_input), area_scaled(input, {60, 30})) < kClose);
      CHECK(result.thumbnail_output.empty());
    }
  }
  SECTION("kNone, or an input that does not decode: no thumbnails") {
    work.thumbnails = Thumbnails::kNone;
    work.thumbnail_px = 0;
    ResultItem result = execute_item(work);
    CHECK(result.thumbnail_input.empty());
    CHECK(result.thumbnail_output.empty());
    WorkItem broken = file_work(truncated(encode(input, ".png"), 40));
    broken.thumbnails = Thumbnails::kAlways;
    broken.thumbnail_px = 60;
    result = execute_item(broken);
    CHECK_FALSE(result.error.empty());
    CHECK(result.thumbnail_input.empty());
  }
  SECTION("bands make their shares of the thumbnails, never a thumbnail of their own rows") {
    const cv::Mat photo = photo_like(64, 48, 10);
    const std::vector<uint8_t> jpeg = encode(photo, ".jpg");
    WorkItem probe = file_work(encode(input, ".png"));  // a PNG's probe decodes the whole image
    probe.probe = true;
    probe.steps.clear();
    probe.sink = Sink::kPixels;
    probe.thumbnails = Thumbnails::kAlways;
    probe.thumbnail_px = 60;
    ResultItem result = execute_item(probe);
    REQUIRE(result.error.empty());
    CHECK(mean_difference(decoded(result.thumbnail_input), area_scaled(input, {60, 30})) < kClose);
    probe.file = Bytes::of(jpeg);  // a JPEG's probe stops at the header: its bands decode their own rows
    result = execute_item(probe);
    REQUIRE(result.error.empty());
    REQUIRE(result.cheap_rows);
    CHECK(result.thumbnail_input.empty());

    // Rows 16..32 of the 64x48 file, inverted and encoded as their part of the output: thumbnail rows
    // 8..16 of 32 (32x24 at 32 px), of the input and of the output.
    WorkItem band = file_work(jpeg, "color_inversion");
    band.band = true;
    band.rows = PieceRows{16, 32, 16, 32};
    band.sink = Sink::kBand;
    band.output_ext = ".jpg";
    band.image_width = 48;
    band.image_height = 64;
    band.thumbnails = Thumbnails::kAlways;
    band.thumbnail_px = 32;
    result = execute_item(band);
    REQUIRE(result.error.empty());
    CHECK_FALSE(result.encoded.empty());
    CHECK(result.thumbnail_input.empty());
    CHECK(result.thumbnail_output.empty());
    cv::Mat whole;
    REQUIRE(decode_image(jpeg, int64_t{1} << 30, &whole).ok());
    const cv::Mat expected_input = area_scaled(whole.rowRange(16, 32), {24, 8});
    CHECK(identical(result.thumbnail_input_rows, expected_input));
    cv::Mat inverted;
    cv::bitwise_not(whole.rowRange(16, 32), inverted);
    CHECK(identical(result.thumbnail_output_rows, area_scaled(inverted, {24, 8})));
    band.thumbnails = Thumbnails::kOnError;
    result = execute_item(band);
    CHECK(result.thumbnail_input_rows.empty());
    CHECK(result.thumbnail_output_rows.empty());
  }
}

TEST_CASE("thumbnails of an image in bands: the bands' shares stack into the whole one", "[thumbnail]") {
  const cv::Mat photo = photo_like(250, 180, 12);  // thumbnail 115x160 at 160 px
  const std::vector<int> edges = {0, 7, 65, 66, 130, 250};  // bands of 7, 58, 1, 64 and 120 rows
  std::vector<cv::Mat> shares;
  int rows = 0;
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    const cv::Mat share = thumbnail_rows(photo.rowRange(edges[i], edges[i + 1]), edges[i], 180, 250, 160);
    if (share.empty()) continue;  // a band thinner than a thumbnail row
    CHECK(share.cols == 115);
    rows += share.rows;
    shares.push_back(share);
  }
  CHECK(rows == 160);
  CHECK(shares.size() == 4);  // the 1-row band covers no thumbnail row
  const cv::Mat stacked = decoded(stack_thumbnail_rows(shares));
  const cv::Mat whole = decoded(make_thumbnail(photo, 160));
  REQUIRE(stacked.size() == whole.size());
  CHECK(mean_difference(stacked, area_scaled(photo, whole.size())) < 20);

  SECTION("shares that do not fit their image, or do not stack, give nothing") {
    CHECK(thumbnail_rows(photo.rowRange(200, 250), 220, 180, 250, 160).empty());  // past the last row
    CHECK(thumbnail_rows(photo.rowRange(0, 10), 0, 100, 250, 160).empty());      // not the image's width
    CHECK(thumbnail_rows(photo.rowRange(0, 10), 0, 180, 250, 0).empty());
    CHECK(stack_thumbnail_rows({}).empty());
    CHECK(stack_thumbnail_rows({shares[0], cv::Mat(3, 20, CV_8UC3)}).empty());
    cv::Mat gray;
    cv::cvtColor(shares[1], gray, cv::COLOR_BGR2GRAY);
    CHECK(stack_thumbnail_rows({shares[0], gray}).empty());
  }
}
