// parse_pipeline and pipeline_text: what is accepted, what is rejected and what the error says.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "test_images.h"

using namespace dips;
using Catch::Matchers::Contains;

namespace {

const Operation& op(const char* name) {
  const Operation* found = find_operation(name);
  REQUIRE(found != nullptr);
  return *found;
}

// Parses text that must be valid and returns the pipeline.
Pipeline parse_ok(const std::string& text) {
  Pipeline pipeline;
  const Status status = parse_pipeline(text, &pipeline);
  INFO("pipeline '" << text << "': " << status.message());
  REQUIRE(status.ok());
  CHECK(status.message().empty());
  return pipeline;
}

// Parses text that must be rejected and returns the error message.
std::string parse_error(const std::string& text) {
  Pipeline pipeline;
  const Status status = parse_pipeline(text, &pipeline);
  INFO("pipeline '" << text << "'");
  REQUIRE_FALSE(status.ok());
  REQUIRE_FALSE(status.message().empty());
  return status.message();
}

}  // namespace

TEST_CASE("params: valid pipelines", "[params]") {
  SECTION("a name alone takes the default") {
    const Pipeline p = parse_ok("blur");
    REQUIRE(p.size() == 1);
    CHECK(p[0].op == &op("blur"));
    CHECK(p[0].param == 5);
    CHECK(parse_ok("dilate")[0].param == 5);
    CHECK(parse_ok("erode")[0].param == 5);
  }
  SECTION("an explicit parameter") {
    CHECK(parse_ok("blur=7")[0].param == 7);
    CHECK(parse_ok("blur=1")[0].param == 1);
    CHECK(parse_ok("blur=255")[0].param == 255);
    CHECK(parse_ok("dilate=9")[0].param == 9);
    CHECK(parse_ok("erode=3")[0].param == 3);
    CHECK(parse_ok("resize=64")[0].param == 64);
    CHECK(parse_ok("resize=1")[0].param == 1);
  }
  SECTION("blur=2 is accepted (and is the identity)") {
    const Pipeline p = parse_ok("blur=2");
    REQUIRE(p.size() == 1);
    CHECK(p[0].param == 2);
    const cv::Mat image = testing::noise(23, 31, 4);
    for (const char* text : {"blur=2", "dilate=2", "erode=2", "blur=1", "resize"}) {
      INFO(text);
      OpResult result;
      REQUIRE(run_pipeline_whole(image, parse_ok(text), &result).ok());
      CHECK(testing::identical(result.image, image));
    }
  }
  SECTION("resize without a parameter is accepted (unchanged image)") {
    const Pipeline p = parse_ok("resize");
    REQUIRE(p.size() == 1);
    CHECK(p[0].op == &op("resize"));
  }
  SECTION("several steps, in order") {
    const Pipeline p = parse_ok("grayscale,threshold");
    REQUIRE(p.size() == 2);
    CHECK(p[0].op == &op("grayscale"));
    CHECK(p[1].op == &op("threshold"));
    const Pipeline q = parse_ok("blur=3,edge_detection,dilate,resize=17,read_qr_code");
    REQUIRE(q.size() == 5);
    CHECK(q[0].op == &op("blur"));
    CHECK(q[0].param == 3);
    CHECK(q[1].op == &op("edge_detection"));
    CHECK(q[2].op == &op("dilate"));
    CHECK(q[2].param == 5);
    CHECK(q[3].op == &op("resize"));
    CHECK(q[3].param == 17);
    CHECK(q[4].op == &op("read_qr_code"));
  }
  SECTION("the same operation twice") {
    const Pipeline p = parse_ok("blur=3,blur=9");
    REQUIRE(p.size() == 2);
    CHECK(p[0].param == 3);
    CHECK(p[1].param == 9);
  }
  SECTION("every operation by name") {
    for (const Operation& o : operations()) {
      const Pipeline p = parse_ok(std::string(o.name));
      REQUIRE(p.size() == 1);
      CHECK(p[0].op == &o);
    }
  }
  SECTION("a previous content of the output pipeline is replaced") {
    Pipeline p = parse_ok("blur,blur,blur");
    REQUIRE(parse_pipeline("grayscale", &p).ok());
    REQUIRE(p.size() == 1);
    CHECK(p[0].op == &op("grayscale"));
  }
}

TEST_CASE("params: rejected pipelines name the operation and the range", "[params]") {
  SECTION("not an integer") {
    for (const char* text : {"blur=abc", "blur=", "blur=3x", "blur=3.5", "blur= 3", "blur=3 ", "blur=0x3",
                             "blur=3=4"}) {
      const std::string message = parse_error(text);
      INFO("'" << text << "' -> " << message);
      CHECK_THAT(message, Contains("blur"));
      CHECK_THAT(message, Contains("1..255"));
    }
  }
  SECTION("zero, negative or too large") {
    for (const char* text : {"blur=-3", "blur=0", "blur=256", "blur=99999999999999999999", "blur=-99999999999999"}) {
      const std::string message = parse_error(text);
      INFO("'" << text << "' -> " << message);
      CHECK_THAT(message, Contains("blur"));
      CHECK_THAT(message, Contains("1..255"));
    }
    for (const char* text : {"dilate=100000", "dilate=0", "dilate=-1"}) {
      const std::string message = parse_error(text);
      INFO("'" << text << "' -> " << message);
      CHECK_THAT(message, Contains("dilate"));
      CHECK_THAT(message, Contains("1..255"));
    }
    for (const char* text : {"erode=1000", "erode=0"}) {
      const std::string message = parse_error(text);
      INFO("'" << text << "' -> " << message);
      CHECK_THAT(message, Contains("erode"));
      CHECK_THAT(message, Contains("1..255"));
    }
    for (const char* text : {"resize=0", "resize=-5", "resize=abc", "resize=", "resize=1000000"}) {
      const std::string message = parse_error(text);
      INFO("'" << text << "' -> " << message);
      CHECK_THAT(message, Contains("resize"));
      CHECK_THAT(message, Contains("1.."));
    }
  }
  SECTION("the bad step is named inside a longer pipeline") {
    const std::string message = parse_error("grayscale,blur=abc,threshold");
    CHECK_THAT(message, Contains("blur"));
    CHECK_THAT(message, Contains("abc"));
    CHECK_THAT(message, Contains("1..255"));
    CHECK_THAT(parse_error("grayscale,dilate=100000"), Contains("dilate"));
  }
  SECTION("an operation that takes no parameter") {
    for (const char* name : {"color_inversion", "edge_detection", "grayscale", "threshold", "equalize_histogram",
                             "find_contours", "read_qr_code"}) {
      for (const char* suffix : {"=3", "=", "=abc"}) {
        const std::string text = std::string(name) + suffix;
        const std::string message = parse_error(text);
        INFO("'" << text << "' -> " << message);
        CHECK_THAT(message, Contains(name));
        CHECK_THAT(message, Contains("no parameter"));
      }
    }
  }
  SECTION("an unknown operation") {
    for (const char* text : {"nosuchop", "nosuchop=3", "Blur", "blur3", "grayscale,nosuchop", " blur"}) {
      const std::string message = parse_error(text);
      INFO("'" << text << "' -> " << message);
      CHECK_THAT(message, Contains("unknown operation"));
    }
    CHECK_THAT(parse_error("nosuchop"), Contains("nosuchop"));
    CHECK_THAT(parse_error("grayscale,nosuchop=3"), Contains("nosuchop"));
    CHECK_THAT(parse_error("=3"), Contains("unknown operation"));
  }
  SECTION("empty pipeline and empty steps") {
    CHECK_THAT(parse_error(""), Contains("empty"));
    CHECK_THAT(parse_error("blur,,grayscale"), Contains("empty"));
    CHECK_THAT(parse_error("blur,"), Contains("empty"));
    CHECK_THAT(parse_error(",blur"), Contains("empty"));
    CHECK_THAT(parse_error(","), Contains("empty"));
    CHECK_THAT(parse_error("grayscale,threshold,"), Contains("empty"));
  }
}

TEST_CASE("params: pipeline_text round-trips", "[params]") {
  for (const char* text : {"blur", "blur=7", "grayscale,threshold", "blur=3,edge_detection", "resize", "resize=64",
                           "dilate,erode=9,color_inversion", "grayscale,blur=5,equalize_histogram",
                           "color_inversion,read_qr_code", "grayscale,find_contours"}) {
    INFO(text);
    const Pipeline p = parse_ok(text);
    const std::string canonical = pipeline_text(p);
    const Pipeline q = parse_ok(canonical);
    REQUIRE(q.size() == p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      CHECK(q[i].op == p[i].op);
      CHECK(q[i].param == p[i].param);
    }
    CHECK(pipeline_text(q) == canonical);
  }
  CHECK(pipeline_text(parse_ok("blur")) == "blur=5");
  CHECK(pipeline_text(parse_ok("blur=3,edge_detection")) == "blur=3,edge_detection");
  CHECK(pipeline_text(parse_ok("resize=64")) == "resize=64");
}
