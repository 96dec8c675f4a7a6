// Every operation, run by dips on the whole image (run_pipeline_whole and apply_step), equals the plain
// OpenCV 4.6 call of docs/operations.md written out here, independently of dips' own operation code; the
// registry and parse_param accept the parameters docs/operations.md gives. read_qr_code: test_operation_qr.cpp.
#include <catch2/catch.hpp>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "test_images.h"

using namespace dips;
using dips::testing::identical;
using Catch::Matchers::Contains;

namespace {

struct Sample {
  std::string label;
  cv::Mat image;
};

// Synthetic images of every kind, including degenerate sizes.
const std::vector<Sample>& samples() {
  static const std::vector<Sample> all = [] {
    namespace t = dips::testing;
    return std::vector<Sample>{
        {"photo 1x1", t::photo_like(1, 1, 1)},
        {"noise 1x1", t::noise(1, 1, 2)},
        {"photo 1x37", t::photo_like(1, 37, 3)},
        {"noise 1x40", t::noise(1, 40, 4)},
        {"photo 41x1", t::photo_like(41, 1, 5)},
        {"noise 33x1", t::noise(33, 1, 6)},
        {"photo 2x2", t::photo_like(2, 2, 7)},
        {"photo 7x13", t::photo_like(7, 13, 8)},
        {"noise 7x13", t::noise(7, 13, 9)},
        {"gray 7x13", t::gray_as_colour(7, 13, 10)},
        {"photo 64x48", t::photo_like(64, 48, 11)},
        {"noise 50x61", t::noise(50, 61, 12)},
        {"gray 90x70", t::gray_as_colour(90, 70, 13)},
        {"photo 131x173", t::photo_like(131, 173, 14)},
        {"photo 240x320", t::photo_like(240, 320, 15)},
        {"gray 201x157", t::gray_as_colour(201, 157, 16)},
    };
  }();
  return all;
}

using Direct = std::function<cv::Mat(const cv::Mat&)>;

// dips' run_pipeline_whole of `text` and, for a single step, apply_step equal direct(image) on every sample.
// Returns how many samples the operation changed (to check that the comparison is not vacuous).
int expect_matches_direct(const std::string& text, const Direct& direct) {
  Pipeline pipeline;
  const Status parsed = parse_pipeline(text, &pipeline);
  INFO("pipeline " << text << ": " << parsed.message());
  REQUIRE(parsed.ok());
  int changed = 0;
  for (const Sample& sample : samples()) {
    INFO(text << " on " << sample.label);
    const cv::Mat before = sample.image.clone();
    const cv::Mat expected = direct(sample.image);
    OpResult whole;
    const Status status = run_pipeline_whole(sample.image, pipeline, &whole);
    INFO(status.message());
    REQUIRE(status.ok());
    CHECK(identical(whole.image, expected));
    CHECK(whole.decoded.empty());
    if (pipeline.size() == 1) {
      OpResult applied;
      REQUIRE(apply_step(pipeline[0], sample.image, &applied).ok());
      CHECK(identical(applied.image, expected));
    }
    CHECK(identical(sample.image, before));  // the input is left alone
    if (!identical(expected, sample.image)) ++changed;
  }
  return changed;
}

int odd(int k) { return k % 2 == 0 ? k - 1 : k; }

const Operation& op(const char* name) {
  const Operation* found = find_operation(name);
  REQUIRE(found != nullptr);
  return *found;
}

}  // namespace

TEST_CASE("operations: edge_detection is cv::Canny(bgr, 100, 200)", "[operations]") {
  const int changed = expect_matches_direct("edge_detection", [](const cv::Mat& bgr) {
    cv::Mat edges;
    cv::Canny(bgr, edges, 100, 200);
    return edges;
  });
  CHECK(changed > 0);
  // Not vacuous: a photo has edges, and some of them are weak pixels that only hysteresis keeps.
  const cv::Mat photo = testing::photo_like(240, 320, 15);
  cv::Mat edges, strong;
  cv::Canny(photo, edges, 100, 200);
  cv::Canny(photo, strong, 200, 200);
  CHECK(cv::countNonZero(edges) > cv::countNonZero(strong));
}

// The bands of edge_detection mark each pixel as Canny at either threshold alone sees it; the strong
// marks come from the gradient at the candidates, not from a second Canny, so they are checked against one.
TEST_CASE("operations: edge_detection's band marks are cv::Canny at the low and at the high threshold", "[operations][canny]") {
  const Operation& edge = op("edge_detection");
  REQUIRE(edge.partial != nullptr);
  const auto expect_marks = [&](const std::string& label, const cv::Mat& image) {
    INFO(label << " " << image.cols << "x" << image.rows << " channels " << image.channels());
    cv::Mat candidates, strong;
    cv::Canny(image, candidates, 100, 100);
    cv::Canny(image, strong, 200, 200);
    cv::Mat expected(image.size(), CV_8UC1);
    for (int y = 0; y < image.rows; ++y)
      for (int x = 0; x < image.cols; ++x)
        expected.at<uchar>(y, x) = strong.at<uchar>(y, x) ? kStrong : candidates.at<uchar>(y, x) ? kCandidate : kNotEdge;
    CHECK(identical(edge.partial(image, 0), expected));
    return cv::countNonZero(strong);
  };
  int strong_pixels = 0;
  for (const Sample& sample : samples()) {
    strong_pixels += expect_marks(sample.label, sample.image);
    cv::Mat gray;
    cv::cvtColor(sample.image, gray, cv::COLOR_BGR2GRAY);
    strong_pixels += expect_marks(sample.label + " (gray)", gray);
  }
  // A piece that is a view into a larger image (a band's rows, a ROI): its own edges are replicated.
  const cv::Mat photo = testing::photo_like(240, 320, 21);
  expect_marks("rows 37..150", photo.rowRange(37, 150));
  expect_marks("ROI", photo(cv::Rect(31, 17, 200, 101)));
  CHECK(strong_pixels > 1000);
}

TEST_CASE("operations: color_inversion is cv::bitwise_not", "[operations]") {
  CHECK(expect_matches_direct("color_inversion", [](const cv::Mat& bgr) {
          cv::Mat out;
          cv::bitwise_not(bgr, out);
          return out;
        }) == static_cast<int>(samples().size()));
}

TEST_CASE("operations: grayscale is cvtColor BGR2GRAY", "[operations]") {
  expect_matches_direct("grayscale", [](const cv::Mat& bgr) {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    return gray;
  });
}

TEST_CASE("operations: threshold is gray then threshold 128 binary", "[operations]") {
  expect_matches_direct("threshold", [](const cv::Mat& bgr) {
    cv::Mat gray, out;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::threshold(gray, out, 128, 255, cv::THRESH_BINARY);
    return out;
  });
  // 128 becomes 0, 129 becomes 255.
  cv::Mat edge_values(1, 4, CV_8UC3);
  edge_values.at<cv::Vec3b>(0, 0) = {127, 127, 127};
  edge_values.at<cv::Vec3b>(0, 1) = {128, 128, 128};
  edge_values.at<cv::Vec3b>(0, 2) = {129, 129, 129};
  edge_values.at<cv::Vec3b>(0, 3) = {255, 255, 255};
  Pipeline p;
  REQUIRE(parse_pipeline("threshold", &p).ok());
  OpResult r;
  REQUIRE(run_pipeline_whole(edge_values, p, &r).ok());
  REQUIRE(r.image.type() == CV_8UC1);
  CHECK(r.image.at<uchar>(0, 0) == 0);
  CHECK(r.image.at<uchar>(0, 1) == 0);
  CHECK(r.image.at<uchar>(0, 2) == 255);
  CHECK(r.image.at<uchar>(0, 3) == 255);
}

TEST_CASE("operations: blur is GaussianBlur({k,k}, 0), even k taken as k-1", "[operations]") {
  for (int k : {1, 2, 3, 4, 5, 7, 15}) {
    INFO("k=" << k);
    const int changed = expect_matches_direct("blur=" + std::to_string(k), [k](const cv::Mat& bgr) {
      cv::Mat out;
      cv::GaussianBlur(bgr, out, cv::Size(odd(k), odd(k)), 0);
      return out;
    });
    if (k <= 2) CHECK(changed == 0);  // 1 and 2 are the identity
    if (k >= 3) CHECK(changed > 0);
  }
  // The default is 5.
  expect_matches_direct("blur", [](const cv::Mat& bgr) {
    cv::Mat out;
    cv::GaussianBlur(bgr, out, cv::Size(5, 5), 0);
    return out;
  });
}

TEST_CASE("operations: dilate and erode are 2 iterations of a k x k square", "[operations]") {
  for (int k : {1, 2, 3, 5, 9}) {
    INFO("k=" << k);
    const cv::Mat kernel = cv::Mat::ones(odd(k), odd(k), CV_8U);
    const int dilated = expect_matches_direct("dilate=" + std::to_string(k), [&](const cv::Mat& bgr) {
      cv::Mat out;
      cv::dilate(bgr, out, kernel, cv::Point(-1, -1), 2);
      return out;
    });
    const int eroded = expect_matches_direct("erode=" + std::to_string(k), [&](const cv::Mat& bgr) {
      cv::Mat out;
      cv::erode(bgr, out, kernel, cv::Point(-1, -1), 2);
      return out;
    });
    if (k <= 2) {
      CHECK(dilated == 0);
      CHECK(eroded == 0);
    } else {
      CHECK(dilated > 0);
      CHECK(eroded > 0);
    }
  }
  const cv::Mat five = cv::Mat::ones(5, 5, CV_8U);
  expect_matches_direct("dilate", [&](const cv::Mat& bgr) {
    cv::Mat out;
    cv::dilate(bgr, out, five, cv::Point(-1, -1), 2);
    return out;
  });
  expect_matches_direct("erode", [&](const cv::Mat& bgr) {
    cv::Mat out;
    cv::erode(bgr, out, five, cv::Point(-1, -1), 2);
    return out;
  });
  // Two iterations, not one: a single white pixel dilated by 3x3 twice is a 5x5 square.
  cv::Mat dot(11, 11, CV_8UC3, cv::Scalar::all(0));
  dot.at<cv::Vec3b>(5, 5) = {255, 255, 255};
  Pipeline p;
  REQUIRE(parse_pipeline("dilate=3", &p).ok());
  OpResult r;
  REQUIRE(run_pipeline_whole(dot, p, &r).ok());
  cv::Mat gray;
  cv::cvtColor(r.image, gray, cv::COLOR_BGR2GRAY);
  CHECK(cv::countNonZero(gray) == 25);
}

TEST_CASE("operations: resize is INTER_AREA to n x n; no n is unchanged", "[operations]") {
  for (int n : {1, 17, 64}) {
    INFO("n=" << n);
    expect_matches_direct("resize=" + std::to_string(n), [n](const cv::Mat& bgr) {
      cv::Mat out;
      cv::resize(bgr, out, cv::Size(n, n), 0, 0, cv::INTER_AREA);
      return out;
    });
  }
  CHECK(expect_matches_direct("resize", [](const cv::Mat& bgr) { return bgr.clone(); }) == 0);
}

TEST_CASE("operations: equalize_histogram is gray then equalizeHist", "[operations]") {
  expect_matches_direct("equalize_histogram", [](const cv::Mat& bgr) {
    cv::Mat gray, out;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(gray, out);
    return out;
  });
  // Constant and two-valued images.
  Pipeline p;
  REQUIRE(parse_pipeline("equalize_histogram", &p).ok());
  for (const cv::Scalar& value : {cv::Scalar::all(0), cv::Scalar::all(77), cv::Scalar::all(255)}) {
    const cv::Mat flat(9, 7, CV_8UC3, value);
    cv::Mat gray, expected;
    cv::cvtColor(flat, gray, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(gray, expected);
    OpResult r;
    REQUIRE(run_pipeline_whole(flat, p, &r).ok());
    CHECK(identical(r.image, expected));
  }
}

TEST_CASE("operations: find_contours draws the external contours of Canny(gray, 30, 100)", "[operations]") {
  const int changed = expect_matches_direct("find_contours", [](const cv::Mat& bgr) {
    cv::Mat gray, edges;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::Canny(gray, edges, 30, 100);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(edges, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    cv::Mat out = bgr.clone();
    cv::drawContours(out, contours, -1, cv::Scalar(0, 255, 0), 1);
    return out;
  });
  CHECK(changed > 0);
}

TEST_CASE("operations: read_qr_code on images without codes leaves them unchanged", "[operations]") {
  expect_matches_direct("read_qr_code", [](const cv::Mat& bgr) { return testing::reference_read_qr(bgr); });
  for (const Sample& sample : samples()) {
    INFO(sample.label);
    CHECK(testing::zbar_symbols(sample.image).empty());
  }
}

TEST_CASE("operations: apply_step turns an OpenCV failure into an error naming the step", "[operations]") {
  for (const char* name : {"blur", "dilate", "erode"}) {
    INFO(name);
    const Step step{find_operation(name), find_operation(name)->param.default_value};
    OpResult result;
    const Status status = apply_step(step, cv::Mat(), &result);  // an empty image: OpenCV asserts
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Catch::Matchers::Contains(name));
  }
  // So does the pipeline runner.
  Pipeline p;
  REQUIRE(parse_pipeline("grayscale,blur=3", &p).ok());
  OpResult result;
  CHECK_FALSE(run_pipeline_whole(cv::Mat(), p, &result).ok());
}

TEST_CASE("operations: pipelines equal the reference applied step by step", "[operations]") {
  // The convention for a 1-channel intermediate (the gray image): grayscale, threshold and
  // equalize_histogram use it as its own gray; find_contours and read_qr_code expand it with GRAY2BGR;
  // the other operations run on it as it is (testing::reference_step).
  const std::vector<std::string> pipelines = {
      "grayscale,threshold",
      "blur=3,edge_detection",
      "grayscale,blur=5,equalize_histogram",
      "color_inversion,read_qr_code",
      "grayscale,find_contours",
      "grayscale,edge_detection",
      "grayscale,grayscale",
      "threshold,dilate=3,erode=3",
      "equalize_histogram,threshold",
      "equalize_histogram,equalize_histogram",
      "edge_detection,find_contours",
      "edge_detection,blur=3,threshold",
      "grayscale,color_inversion,equalize_histogram",
      "resize=64,blur=3,edge_detection",
      "resize=17,grayscale,resize",
      "grayscale,resize=33,read_qr_code",
      "dilate=3,erode=5,blur=7,color_inversion",
      "find_contours,edge_detection",
      "read_qr_code,grayscale",
      "grayscale,dilate=9,equalize_histogram,find_contours",
  };
  std::vector<Sample> images = samples();
  images.push_back({"qr", testing::qr_image({"dips pipeline"}, 3)});
  for (const std::string& text : pipelines) {
    Pipeline pipeline;
    REQUIRE(parse_pipeline(text, &pipeline).ok());
    for (const Sample& sample : images) {
      INFO(text << " on " << sample.label);
      std::vector<std::string> expected_decoded;
      const cv::Mat expected = testing::reference_pipeline(text, sample.image, &expected_decoded);
      OpResult whole;
      const Status status = run_pipeline_whole(sample.image, pipeline, &whole);
      INFO(status.message());
      REQUIRE(status.ok());
      CHECK(identical(whole.image, expected));
      CHECK(whole.decoded == expected_decoded);
      // run_pipeline_whole is apply_step chained.
      cv::Mat chained = sample.image;
      for (const Step& step : pipeline) {
        OpResult r;
        REQUIRE(apply_step(step, chained, &r).ok());
        chained = r.image;
      }
      CHECK(identical(chained, expected));
    }
  }
}

TEST_CASE("operations: 1-channel inputs follow the gray-image convention", "[operations]") {
  const cv::Mat colour = testing::photo_like(57, 45, 21);
  cv::Mat gray;
  cv::cvtColor(colour, gray, cv::COLOR_BGR2GRAY);
  cv::Mat expanded;
  cv::cvtColor(gray, expanded, cv::COLOR_GRAY2BGR);
  for (const Operation& op : operations()) {
    INFO(op.name);
    const Step step{&op, op.param.default_value};
    OpResult from_gray;
    REQUIRE(apply_step(step, gray, &from_gray).ok());
    CHECK(identical(from_gray.image, testing::reference_step(std::string(op.name), -1, gray)));
  }
  // grayscale of a gray image is itself; BGR2GRAY of an expanded gray image is the gray image too.
  cv::Mat again;
  cv::cvtColor(expanded, again, cv::COLOR_BGR2GRAY);
  CHECK(identical(again, gray));
}

TEST_CASE("params: every documented operation is registered", "[params]") {
  const std::vector<std::string> names = {"edge_detection", "color_inversion", "grayscale", "threshold",
                                          "blur",           "dilate",          "erode",     "resize",
                                          "equalize_histogram", "find_contours", "read_qr_code"};
  CHECK(operations().size() == names.size());
  for (const std::string& name : names) {
    INFO(name);
    const Operation* found = find_operation(name);
    REQUIRE(found != nullptr);
    CHECK(found->name == name);
    CHECK_FALSE(found->description.empty());
    CHECK(found->apply != nullptr);
    CHECK(found->halo != nullptr);
  }
  CHECK(find_operation("nosuchop") == nullptr);
  CHECK(find_operation("") == nullptr);
  CHECK(find_operation("Blur") == nullptr);
  CHECK(find_operation("blur=3") == nullptr);
}

TEST_CASE("params: parameter specs match operations.md", "[params]") {
  for (const char* name : {"blur", "dilate", "erode"}) {
    INFO(name);
    CHECK(op(name).param.accepted);
    CHECK(op(name).param.default_value == 5);
    CHECK(op(name).param.min == 1);
  }
  CHECK(op("resize").param.accepted);
  CHECK(op("resize").param.min == 1);
  for (const char* name : {"edge_detection", "color_inversion", "grayscale", "threshold", "equalize_histogram",
                           "find_contours", "read_qr_code"}) {
    INFO(name);
    CHECK_FALSE(op(name).param.accepted);
  }
}

TEST_CASE("params: parse_param directly", "[params]") {
  int param = -42;
  SECTION("missing parameter gives the default") {
    REQUIRE(parse_param(op("blur"), "", false, &param).ok());
    CHECK(param == 5);
    REQUIRE(parse_param(op("erode"), "", false, &param).ok());
    CHECK(param == 5);
    REQUIRE(parse_param(op("resize"), "", false, &param).ok());
    CHECK(param == 0);  // "no n: unchanged"
    REQUIRE(parse_param(op("grayscale"), "", false, &param).ok());
  }
  SECTION("range ends") {
    REQUIRE(parse_param(op("blur"), "1", true, &param).ok());
    CHECK(param == 1);
    REQUIRE(parse_param(op("blur"), "255", true, &param).ok());
    CHECK(param == 255);
    REQUIRE(parse_param(op("dilate"), "007", true, &param).ok());
    CHECK(param == 7);
    REQUIRE(parse_param(op("resize"), "32768", true, &param).ok());
    CHECK(param == 32768);
    CHECK_FALSE(parse_param(op("resize"), "32769", true, &param).ok());
    CHECK_FALSE(parse_param(op("blur"), "256", true, &param).ok());
    CHECK_FALSE(parse_param(op("blur"), "+3", true, &param).ok());
  }
  SECTION("given but empty") {
    const Status status = parse_param(op("blur"), "", true, &param);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("blur"));
    CHECK_THAT(status.message(), Contains("1..255"));
    const Status none = parse_param(op("threshold"), "", true, &param);
    REQUIRE_FALSE(none.ok());
    CHECK_THAT(none.message(), Contains("threshold"));
  }
  SECTION("rejected text names op and range") {
    const Status status = parse_param(op("erode"), "-3", true, &param);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("erode"));
    CHECK_THAT(status.message(), Contains("1..255"));
    CHECK_THAT(status.message(), Contains("-3"));
  }
}
