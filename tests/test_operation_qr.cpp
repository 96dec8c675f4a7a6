// read_qr_code: QR codes made with cv::QRCodeEncoder are decoded to the exact strings, and the annotation
// equals, pixel for pixel, the drawing rules of docs/operations.md re-implemented in the tests
// (testing::reference_read_qr: zbar::ImageScanner with every symbology enabled, then the rectangle and text).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstdlib>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "test_images.h"

using namespace dips;
using dips::testing::identical;

namespace {

const Step& qr_step() {
  static const Step step{find_operation("read_qr_code"), 0};
  REQUIRE(step.op != nullptr);
  return step;
}

// Runs read_qr_code through run_pipeline_whole and apply_step; both must agree.
OpResult read_codes(const cv::Mat& image) {
  const cv::Mat before = image.clone();
  OpResult whole, applied;
  const Status status = run_pipeline_whole(image, Pipeline{qr_step()}, &whole);
  INFO(status.message());
  REQUIRE(status.ok());
  REQUIRE(apply_step(qr_step(), image, &applied).ok());
  CHECK(identical(whole.image, applied.image));
  CHECK(whole.decoded == applied.decoded);
  CHECK(identical(image, before));  // the input is not drawn on
  REQUIRE(whole.image.type() == CV_8UC3);
  CHECK(whole.image.size() == image.size());
  return whole;
}

// The annotated image and the strings equal the reference re-implementation.
OpResult expect_reference(const cv::Mat& image) {
  std::vector<std::string> expected_decoded;
  const cv::Mat expected = testing::reference_read_qr(image, &expected_decoded);
  OpResult result = read_codes(image);
  CHECK(result.decoded == expected_decoded);
  const bool same = identical(result.image, expected);
  INFO("pixels that differ from the reference: " << testing::count_different(result.image, expected));
  CHECK(same);
  return result;
}

int green_pixels(const cv::Mat& bgr) {
  cv::Mat mask;
  cv::inRange(bgr, cv::Scalar(0, 255, 0), cv::Scalar(0, 255, 0), mask);
  return cv::countNonZero(mask);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("qr: one code decodes to the exact string", "[qr]") {
  const cv::Mat image = testing::qr_image({"hello dips"});
  const OpResult result = expect_reference(image);
  CHECK(result.decoded == std::vector<std::string>{"hello dips"});
  CHECK(green_pixels(image) == 0);
  CHECK(green_pixels(result.image) > 100);  // a rectangle and text were drawn
  // The reference's box is where the code is (qr_image puts it at (40, 40), the encoder adds 2 modules).
  const auto symbols = testing::zbar_symbols(image);
  REQUIRE(symbols.size() == 1);
  CHECK(symbols[0].type == "QR-Code");
  CHECK(std::abs(symbols[0].box.x - 48) <= 2);
  CHECK(std::abs(symbols[0].box.y - 48) <= 2);
  CHECK(std::abs(symbols[0].box.width - 21 * 4) <= 3);
}

TEST_CASE("qr: several codes in one image are all decoded", "[qr]") {
  const std::vector<std::string> texts = {"alpha", "beta 2", "gamma-3", "https://example.org/dips?q=4"};
  const cv::Mat image = testing::qr_image(texts, 3);
  const OpResult result = expect_reference(image);
  // ZBar's order is its own: check that every string is there exactly once.
  CHECK(sorted(result.decoded) == sorted(texts));
  // Each code gets its own green rectangle: the annotation differs under every code.
  for (const auto& symbol : testing::zbar_symbols(image)) {
    CHECK(green_pixels(result.image(cv::Rect(symbol.box.x - 2, symbol.box.y - 2, 5, symbol.box.height))) > 0);
  }
}

TEST_CASE("qr: an image without codes is a success with no strings and no drawing", "[qr]") {
  for (const cv::Mat& image :
       {testing::qr_image({}), cv::Mat(50, 60, CV_8UC3, cv::Scalar::all(255)), testing::noise(64, 64, 3),
        testing::photo_like(1, 1, 1), testing::photo_like(1, 30, 2), testing::photo_like(30, 1, 3)}) {
    INFO(image.size());
    const OpResult result = read_codes(image);
    CHECK(result.decoded.empty());
    CHECK(identical(result.image, image));
  }
}

TEST_CASE("qr: long strings", "[qr]") {
  SECTION("more than 100 characters") {
    std::string text;
    for (int i = 0; text.size() < 150; ++i) text += "dips-" + std::to_string(i) + " ";
    REQUIRE(text.size() > 100);
    const OpResult result = expect_reference(testing::qr_image({text}, 3));
    CHECK(result.decoded == std::vector<std::string>{text});
  }
  SECTION("more than 1000 characters: the font scale 1000/length is below 1") {
    std::string text;
    for (int i = 0; text.size() < 1200; ++i) text += static_cast<char>('A' + i % 26);
    const OpResult result = expect_reference(testing::qr_image({text}, 2));
    CHECK(result.decoded == std::vector<std::string>{text});
  }
}

TEST_CASE("qr: non-ASCII UTF-8 text", "[qr]") {
  const std::vector<std::string> texts = {"Grüße aus Köln", "über", "東京都 データ", "naïve café ✓ €5"};
  for (const std::string& text : texts) {
    INFO(text);
    const OpResult result = expect_reference(testing::qr_image({text}, 3));
    CHECK(result.decoded == std::vector<std::string>{text});
  }
}

TEST_CASE("qr: text that would overflow the right edge is moved left", "[qr]") {
  const std::string text = "right edge text is long";
  const cv::Mat code = testing::qr_code(text, 3);
  SECTION("code near the right border: x' = width - tw - 10") {
    const int cols = 700, rows = code.rows + 80;
    const cv::Mat image = testing::qr_on_canvas(rows, cols, {text}, {{cols - code.cols - 5, 10}}, 3);
    const auto symbols = testing::zbar_symbols(image);
    REQUIRE(symbols.size() == 1);
    int baseline = 0;
    const cv::Size tw = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 1.0, 1, &baseline);
    // The rule is really exercised, and the moved text still starts inside the image.
    REQUIRE(symbols[0].box.x + tw.width > cols);
    REQUIRE(cols - tw.width - 10 > 0);
    REQUIRE(cols - tw.width - 10 < symbols[0].box.x);
    const OpResult result = expect_reference(image);
    CHECK(result.decoded == std::vector<std::string>{text});
    // Text pixels appear left of the code, where they could not be without the rule.
    const int text_y = symbols[0].box.y + symbols[0].box.height + 10;
    CHECK(green_pixels(result.image(cv::Rect(cols - tw.width - 10, text_y, 20, tw.height + 2))) > 0);
  }
  SECTION("code near the left border: the text starts at the box") {
    const cv::Mat image = testing::qr_on_canvas(code.rows + 80, 700, {text}, {{15, 10}}, 3);
    const auto symbols = testing::zbar_symbols(image);
    REQUIRE(symbols.size() == 1);
    const OpResult result = expect_reference(image);
    CHECK(result.decoded == std::vector<std::string>{text});
  }
  SECTION("text wider than the image: x' is negative") {
    const cv::Mat image = testing::qr_on_canvas(code.rows + 60, code.cols + 30, {text}, {{15, 10}}, 3);
    const OpResult result = expect_reference(image);
    CHECK(result.decoded == std::vector<std::string>{text});
  }
  SECTION("code in the bottom-right corner: text below the image is clipped") {
    const int cols = 500, rows = code.rows + 20;
    const cv::Mat image = testing::qr_on_canvas(rows, cols, {text}, {{cols - code.cols - 4, rows - code.rows - 4}}, 3);
    const OpResult result = expect_reference(image);
    CHECK(result.decoded == std::vector<std::string>{text});
  }
  SECTION("two codes, the second drawn on the image left by the first") {
    const cv::Mat first = testing::qr_code("first code", 3);
    const int cols = 600;
    const cv::Mat image = testing::qr_on_canvas(first.rows + 120, cols, {"first code", text},
                                                 {{cols - 2 * first.cols - 40, 10}, {cols - code.cols - 5, 60}}, 3);
    const OpResult result = expect_reference(image);
    CHECK(sorted(result.decoded) == sorted({"first code", text}));
  }
}

TEST_CASE("qr: a 1-channel (gray) input is expanded to BGR and annotated in colour", "[qr]") {
  cv::Mat gray;
  cv::cvtColor(testing::qr_image({"gray input"}), gray, cv::COLOR_BGR2GRAY);
  cv::Mat expanded;
  cv::cvtColor(gray, expanded, cv::COLOR_GRAY2BGR);
  std::vector<std::string> expected_decoded;
  const cv::Mat expected = testing::reference_read_qr(expanded, &expected_decoded);
  const OpResult result = read_codes(gray);
  CHECK(result.decoded == std::vector<std::string>{"gray input"});
  CHECK(result.decoded == expected_decoded);
  CHECK(identical(result.image, expected));
}

TEST_CASE("qr: other symbologies are decoded too (EAN-13)", "[qr]") {
  const cv::Mat image = testing::ean13_image("4006381333931");
  const auto symbols = testing::zbar_symbols(image);
  REQUIRE(symbols.size() == 1);
  CHECK(symbols[0].type == "EAN-13");
  const OpResult result = expect_reference(image);
  CHECK(result.decoded == std::vector<std::string>{"4006381333931"});
}

TEST_CASE("qr: ZBar's default configuration: a UPC-A-compatible code is reported as EAN-13", "[qr]") {
  const cv::Mat image = testing::ean13_image("0036000291452");
  const auto symbols = testing::zbar_symbols(image);
  REQUIRE(symbols.size() == 1);
  CHECK(symbols[0].type == "EAN-13");
  CHECK(expect_reference(image).decoded == std::vector<std::string>{"0036000291452"});
}

TEST_CASE("qr: tiled runs decode the same strings and draw the same image", "[qr]") {
  const std::vector<std::string> texts = {"tile one", "tile two"};
  const cv::Mat image = testing::qr_image(texts, 3);
  std::vector<std::string> expected_decoded;
  const cv::Mat expected = testing::reference_read_qr(image, &expected_decoded);
  REQUIRE(sorted(expected_decoded) == sorted(texts));
  for (const char* text : {"read_qr_code", "grayscale,read_qr_code", "blur=3,read_qr_code",
                           "read_qr_code,read_qr_code", "read_qr_code,threshold", "color_inversion,read_qr_code"}) {
    Pipeline pipeline;
    REQUIRE(parse_pipeline(text, &pipeline).ok());
    std::vector<std::string> want;
    const cv::Mat want_image = testing::reference_pipeline(text, image, &want);
    for (int tile : {1, 7, 64, image.rows}) {
      INFO(text << " tile_rows " << tile);
      OpResult tiled;
      REQUIRE(run_pipeline_tiled(image, pipeline, tile, &tiled).ok());
      CHECK(tiled.decoded == want);
      CHECK(identical(tiled.image, want_image));
    }
    OpResult whole;
    REQUIRE(run_pipeline_whole(image, pipeline, &whole).ok());
    CHECK(whole.decoded == want);
    CHECK(identical(whole.image, want_image));
    if (std::string(text) == "read_qr_code,read_qr_code") {
      CHECK(want.size() >= 2);  // every step's strings are appended, in order
    }
  }
}

// ========================================================= without the module (ctest module_missing)

TEST_CASE("without libdips_qr.so, read_qr_code fails its task and says where dips looked", "[.module_missing]") {
  const char* configured = std::getenv("DIPS_QR_MODULE");
  REQUIRE(configured != nullptr);
  const cv::Mat image = testing::qr_image({"hello dips"});
  for (int attempt = 0; attempt < 2; ++attempt) {  // the second scan looks again, and fails the same way
    OpResult result;
    const Status status = apply_step(qr_step(), image, &result);
    REQUIRE_FALSE(status.ok());
    INFO(status.message());
    CHECK(status.message().find("read_qr_code failed: ZBar is not available") != std::string::npos);
    CHECK(status.message().find(configured) != std::string::npos);
    CHECK(status.message().find("libdips_qr.so") != std::string::npos);
    CHECK(status.message().find("DIPS_QR_MODULE") != std::string::npos);
  }
  // The other operations need no module.
  OpResult gray;
  REQUIRE(apply_step(Step{find_operation("grayscale"), 0}, image, &gray).ok());
}
