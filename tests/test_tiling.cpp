// Tiling: run_pipeline_tiled (row bands with halos, stitched and finished as the MPI job does) equals the
// plain OpenCV reference on the whole image, for every operation, pipelines, tile sizes and images; the
// stage and piece plans; Canny's hysteresis across tiles on adversarial images; the histogram lookup.
#include <catch2/catch.hpp>
#include <algorithm>
#include <numeric>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "test_images.h"

using namespace dips;
using dips::testing::identical;

namespace {

Pipeline parse(const std::string& text) {
  Pipeline pipeline;
  const Status status = parse_pipeline(text, &pipeline);
  INFO("pipeline '" << text << "': " << status.message());
  REQUIRE(status.ok());
  return pipeline;
}

// The tile sizes of the brief for an image of `rows` rows: small, odd, powers of two, around the height.
std::vector<int> tile_sizes(int rows) {
  std::vector<int> sizes = {1, 2, 3, 4, 5, 7, 8, 13, 31, 64, rows - 1, rows, rows + 5};
  sizes.erase(std::remove_if(sizes.begin(), sizes.end(), [](int t) { return t < 1; }), sizes.end());
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

cv::Mat gray_noise(int rows, int cols, unsigned seed) {
  cv::Mat gray, colour;
  cv::cvtColor(testing::noise(rows, cols, seed), gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(gray, colour, cv::COLOR_GRAY2BGR);
  return colour;
}

struct Sample {
  std::string label;
  cv::Mat image;
};

// Random images of both kinds, colour and gray-as-colour, several seeds and sizes, 1 row and 1 column.
const std::vector<Sample>& tiling_samples() {
  static const std::vector<Sample> all = [] {
    namespace t = dips::testing;
    return std::vector<Sample>{
        {"photo 97x83 s1", t::photo_like(97, 83, 1)},
        {"photo 120x64 s2", t::photo_like(120, 64, 2)},
        {"noise 61x47 s3", t::noise(61, 47, 3)},
        {"noise 40x29 s4", t::noise(40, 29, 4)},
        {"gray photo 73x59 s5", t::gray_as_colour(73, 59, 5)},
        {"gray noise 55x41 s6", gray_noise(55, 41, 6)},
        {"photo 1x64 s7", t::photo_like(1, 64, 7)},
        {"noise 1x50 s8", t::noise(1, 50, 8)},
        {"photo 64x1 s9", t::photo_like(64, 1, 9)},
        {"noise 45x1 s10", t::noise(45, 1, 10)},
        {"photo 2x30 s11", t::photo_like(2, 30, 11)},
        {"noise 3x17 s12", t::noise(3, 17, 12)},
        {"photo 257x190 s13", t::photo_like(257, 190, 13)},
        {"gray noise 150x96 s14", gray_noise(150, 96, 14)},
        {"noise 128x128 s15", t::noise(128, 128, 15)},
        {"gray photo 199x131 s16", t::gray_as_colour(199, 131, 16)},
    };
  }();
  return all;
}

// Tiled run of text on image with tile rows, compared with the reference; reports failures with context.
void expect_tiled_equals_reference(const std::string& text, const Pipeline& pipeline, const std::string& label,
                                   const cv::Mat& image, const cv::Mat& expected,
                                   const std::vector<std::string>& expected_decoded, int tile) {
  INFO(text << " on " << label << " (" << image.rows << "x" << image.cols << "), tile_rows " << tile);
  OpResult tiled;
  Status status;
  try {
    status = run_pipeline_tiled(image, pipeline, tile, &tiled);
  } catch (const std::exception& e) {
    FAIL_CHECK("exception escaped run_pipeline_tiled: " << e.what());
    return;
  }
  INFO("status: " << status.message());
  REQUIRE(status.ok());
  const bool same = identical(tiled.image, expected);
  const bool comparable = tiled.image.size() == expected.size() && tiled.image.type() == expected.type();
  INFO("pixels that differ: " << (comparable ? testing::count_different(tiled.image, expected) : -1));
  CHECK(same);
  CHECK(tiled.decoded == expected_decoded);
}

void expect_tiled_all_sizes(const std::string& text, const std::vector<Sample>& images) {
  const Pipeline pipeline = parse(text);
  for (const Sample& sample : images) {
    std::vector<std::string> decoded;
    const cv::Mat expected = testing::reference_pipeline(text, sample.image, &decoded);
    const cv::Mat before = sample.image.clone();
    for (int tile : tile_sizes(sample.image.rows)) {
      expect_tiled_equals_reference(text, pipeline, sample.label, sample.image, expected, decoded, tile);
    }
    CHECK(identical(sample.image, before));
  }
}

// Canny edges of an 8-bit image with the given thresholds.
cv::Mat canny(const cv::Mat& image, double low, double high) {
  cv::Mat edges;
  cv::Canny(image, edges, low, high);
  return edges;
}

int count_in(const cv::Mat& mask, const cv::Rect& area) { return cv::countNonZero(mask(area)); }

// An axis-aligned band between two points (same x or same y), `half` pixels to each side, filled.
void band(cv::Mat& image, cv::Point a, cv::Point b, int half, int value) {
  const cv::Point lo(std::min(a.x, b.x) - half, std::min(a.y, b.y) - half);
  const cv::Point hi(std::max(a.x, b.x) + half, std::max(a.y, b.y) + half);
  cv::rectangle(image, lo, hi, cv::Scalar::all(value), cv::FILLED);
}

// Gray levels: a step of 33 gives an L1 Sobel magnitude of 4*33 = 132 on a straight edge and at most
// 6*33 = 198 at a corner, so every edge pixel of such a step is weak (100 < m <= 200); a step of 100
// gives 400: strong.
constexpr int kBackgroundLevel = 60;
constexpr int kWeakLevel = kBackgroundLevel + 33;
constexpr int kStrongLevel = kBackgroundLevel + 100;

cv::Mat as_colour(const cv::Mat& gray) {
  cv::Mat colour;
  cv::cvtColor(gray, colour, cv::COLOR_GRAY2BGR);
  return colour;
}

// Runs edge_detection tiled with every tile size in `tiles` and compares with cv::Canny(image, 100, 200).
void expect_canny_tiled(const std::string& label, const cv::Mat& image, const std::vector<int>& tiles) {
  const Pipeline pipeline = parse("edge_detection");
  const cv::Mat expected = canny(image, 100, 200);
  for (int tile : tiles) {
    expect_tiled_equals_reference("edge_detection", pipeline, label, image, expected, {}, tile);
  }
}

std::vector<int> range_tiles(int lo, int hi) {
  std::vector<int> tiles(hi - lo + 1);
  std::iota(tiles.begin(), tiles.end(), lo);
  return tiles;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Plans

TEST_CASE("tiling: plan_stages fuses local steps and closes a stage on Canny, histogram, whole-image", "[tiling]") {
  const auto halo_of = [](const std::vector<Step>& steps) {
    int sum = 0;
    for (const Step& s : steps) sum += s.op->halo(s.param);
    return sum;
  };
  SECTION("pointwise steps: one stage, no halo") {
    const auto stages = plan_stages(parse("grayscale,threshold,color_inversion"));
    REQUIRE(stages.size() == 1);
    CHECK(stages[0].kind == Tiling::kPointwise);
    CHECK(stages[0].steps.size() == 3);
    CHECK(stages[0].halo == 0);
  }
  SECTION("neighbourhood steps: one stage, halos summed, each at least the reach") {
    const Pipeline p = parse("blur=3,dilate=5,color_inversion,erode=7,blur=4");
    const auto stages = plan_stages(p);
    REQUIRE(stages.size() == 1);
    CHECK(stages[0].kind == Tiling::kNeighbourhood);
    REQUIRE(stages[0].steps.size() == 5);
    for (size_t i = 0; i < p.size(); ++i) {
      CHECK(stages[0].steps[i].op == p[i].op);
      CHECK(stages[0].steps[i].param == p[i].param);
    }
    CHECK(stages[0].halo == halo_of(p));
    // Reach from operations.md: blur k/2, dilate/erode 2*(k/2), even k taken as k-1.
    CHECK(stages[0].halo >= 1 + 4 + 6 + 1);
    CHECK(p[0].op->halo(3) >= 1);
    CHECK(p[0].op->halo(15) >= 7);
    CHECK(p[0].op->halo(4) >= 1);
    CHECK(p[1].op->halo(5) >= 4);
    CHECK(p[1].op->halo(9) >= 8);
    CHECK(p[3].op->halo(7) >= 6);
    CHECK(p[3].op->halo(2) >= 0);
  }
  SECTION("local steps then Canny: one kCanny stage with the summed halo") {
    const Pipeline p = parse("blur=3,edge_detection,grayscale");
    const auto stages = plan_stages(p);
    REQUIRE(stages.size() == 2);
    CHECK(stages[0].kind == Tiling::kCanny);
    REQUIRE(stages[0].steps.size() == 2);
    CHECK(stages[0].steps[1].op->name == "edge_detection");
    CHECK(stages[0].halo == halo_of(stages[0].steps));
    CHECK(stages[0].halo >= 1 + 2);  // Sobel 1 row, non-maximum suppression 1 more
    CHECK(stages[1].kind == Tiling::kPointwise);
    REQUIRE(stages[1].steps.size() == 1);
    CHECK(stages[1].steps[0].op->name == "grayscale");
    CHECK(stages[1].halo == 0);
  }
  SECTION("local steps then histogram: one kHistogram stage") {
    const Pipeline p = parse("grayscale,blur=5,equalize_histogram");
    const auto stages = plan_stages(p);
    REQUIRE(stages.size() == 1);
    CHECK(stages[0].kind == Tiling::kHistogram);
    CHECK(stages[0].steps.size() == 3);
    CHECK(stages[0].halo == halo_of(p));
    CHECK(stages[0].halo >= 2);
  }
  SECTION("Canny and histogram steps each close their stage") {
    const auto stages = plan_stages(parse("edge_detection,edge_detection,equalize_histogram,blur=3"));
    REQUIRE(stages.size() == 4);
    CHECK(stages[0].kind == Tiling::kCanny);
    CHECK(stages[1].kind == Tiling::kCanny);
    CHECK(stages[2].kind == Tiling::kHistogram);
    CHECK(stages[3].kind == Tiling::kNeighbourhood);
    CHECK(stages[3].halo == halo_of(stages[3].steps));
    for (const Stage& s : stages) CHECK(s.steps.size() == 1);
  }
  SECTION("whole-image steps stand alone") {
    const auto stages = plan_stages(parse("blur,resize=64,blur=3,find_contours,read_qr_code,threshold"));
    REQUIRE(stages.size() == 6);
    const Tiling kinds[] = {Tiling::kNeighbourhood, Tiling::kWholeImage, Tiling::kNeighbourhood,
                            Tiling::kWholeImage, Tiling::kWholeImage, Tiling::kPointwise};
    const char* names[] = {"blur", "resize", "blur", "find_contours", "read_qr_code", "threshold"};
    for (size_t i = 0; i < stages.size(); ++i) {
      INFO("stage " << i);
      CHECK(stages[i].kind == kinds[i]);
      REQUIRE(stages[i].steps.size() == 1);
      CHECK(stages[i].steps[0].op->name == names[i]);
    }
    CHECK(stages[1].steps[0].param == 64);
    CHECK(stages[1].halo == 0);
  }
  SECTION("every step appears once, in order") {
    const Pipeline p = parse("dilate=3,grayscale,edge_detection,blur,equalize_histogram,resize,erode=9,threshold");
    std::vector<const Operation*> seen;
    for (const Stage& s : plan_stages(p)) {
      CHECK_FALSE(s.steps.empty());
      for (const Step& step : s.steps) seen.push_back(step.op);
    }
    REQUIRE(seen.size() == p.size());
    for (size_t i = 0; i < p.size(); ++i) CHECK(seen[i] == p[i].op);
  }
  SECTION("tiling kinds of the operations follow operations.md") {
    const auto kind = [](const char* name) { return find_operation(name)->tiling; };
    CHECK(kind("color_inversion") == Tiling::kPointwise);
    CHECK(kind("grayscale") == Tiling::kPointwise);
    CHECK(kind("threshold") == Tiling::kPointwise);
    CHECK(kind("blur") == Tiling::kNeighbourhood);
    CHECK(kind("dilate") == Tiling::kNeighbourhood);
    CHECK(kind("erode") == Tiling::kNeighbourhood);
    CHECK(kind("edge_detection") == Tiling::kCanny);
    CHECK(kind("equalize_histogram") == Tiling::kHistogram);
    CHECK(kind("resize") == Tiling::kWholeImage);
    CHECK(kind("find_contours") == Tiling::kWholeImage);
    CHECK(kind("read_qr_code") == Tiling::kWholeImage);
    CHECK(find_operation("edge_detection")->halo(0) >= 2);
    for (const Operation& op : operations()) {
      INFO(op.name);
      if (op.tiling == Tiling::kCanny || op.tiling == Tiling::kHistogram) {
        CHECK(op.partial != nullptr);
        CHECK(op.finish != nullptr);
      }
      if (op.tiling == Tiling::kPointwise) CHECK(op.halo(op.param.default_value) == 0);
    }
  }
}

TEST_CASE("tiling: plan_pieces covers every row exactly once with clamped halos", "[tiling]") {
  for (int halo : {0, 1, 2, 5, 13}) {
    Stage stage;
    stage.kind = Tiling::kPointwise;
    stage.halo = halo;
    for (Tiling kind : {Tiling::kPointwise, Tiling::kCanny, Tiling::kHistogram}) {
      stage.kind = kind;
      for (int rows : {1, 2, 3, 5, 17, 64, 100}) {
        for (int tile : tile_sizes(rows)) {
          INFO("halo " << halo << " rows " << rows << " tile " << tile << " kind " << tiling_name(kind));
          const std::vector<PieceRows> pieces = plan_pieces(stage, rows, tile);
          REQUIRE_FALSE(pieces.empty());
          CHECK(pieces.size() == static_cast<size_t>((rows + tile - 1) / tile));
          std::vector<int> covered(rows, 0);
          int expected_row0 = 0;
          for (size_t i = 0; i < pieces.size(); ++i) {
            const PieceRows& p = pieces[i];
            INFO("piece " << i << ": [" << p.row0 << "," << p.row1 << ") in [" << p.in_row0 << "," << p.in_row1 << ")");
            CHECK(p.row0 == expected_row0);
            CHECK(p.row1 > p.row0);
            CHECK(p.row1 <= rows);
            if (i + 1 < pieces.size()) CHECK(p.row1 - p.row0 == tile);
            CHECK(p.row1 - p.row0 <= tile);
            CHECK(p.in_row0 == std::max(0, p.row0 - halo));
            CHECK(p.in_row1 == std::min(rows, p.row1 + halo));
            for (int r = std::max(0, p.row0); r < std::min(rows, p.row1); ++r) ++covered[r];
            expected_row0 = p.row1;
          }
          CHECK(expected_row0 == rows);
          CHECK(std::all_of(covered.begin(), covered.end(), [](int c) { return c == 1; }));
        }
      }
    }
  }
  SECTION("a whole-image stage is one piece") {
    Stage whole;
    whole.kind = Tiling::kWholeImage;
    for (int rows : {1, 7, 100, 1000}) {
      for (int tile : {1, 3, 64, rows, rows + 5}) {
        const std::vector<PieceRows> pieces = plan_pieces(whole, rows, tile);
        REQUIRE(pieces.size() == 1);
        CHECK(pieces[0].row0 == 0);
        CHECK(pieces[0].row1 == rows);
        CHECK(pieces[0].in_row0 == 0);
        CHECK(pieces[0].in_row1 == rows);
      }
    }
    for (const char* name : {"resize=17", "find_contours", "read_qr_code"}) {
      const auto stages = plan_stages(parse(name));
      REQUIRE(stages.size() == 1);
      CHECK(plan_pieces(stages[0], 300, 7).size() == 1);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Tiled equals whole

TEST_CASE("tiling: every operation tiled equals the reference", "[tiling]") {
  const std::vector<std::string> variants = {
      "edge_detection", "color_inversion", "grayscale", "threshold", "blur=1",  "blur=2",
      "blur=3",         "blur=4",          "blur=5",    "blur=7",    "blur=15", "dilate=1",
      "dilate=2",       "dilate=3",        "dilate=5",  "dilate=9",  "erode=1", "erode=2",
      "erode=3",        "erode=5",         "erode=9",   "resize",    "resize=17", "equalize_histogram",
      "find_contours",  "read_qr_code",
  };
  for (const std::string& text : variants) {
    SECTION(text) { expect_tiled_all_sizes(text, tiling_samples()); }
  }
}

TEST_CASE("tiling: a larger image, every operation, a few tile sizes", "[tiling]") {
  const cv::Mat image = testing::photo_like(300, 256, 99);
  const std::vector<std::string> variants = {"edge_detection", "blur=15", "dilate=9", "erode=5",
                                             "equalize_histogram", "threshold", "blur=3,edge_detection"};
  for (const std::string& text : variants) {
    const Pipeline pipeline = parse(text);
    std::vector<std::string> decoded;
    const cv::Mat expected = testing::reference_pipeline(text, image, &decoded);
    for (int tile : {1, 7, 37, 64, 299}) {
      expect_tiled_equals_reference(text, pipeline, "photo 300x256", image, expected, decoded, tile);
    }
  }
}

TEST_CASE("tiling: pipelines tiled equal the reference", "[tiling]") {
  const std::vector<std::string> pipelines = {
      "grayscale,threshold",
      "blur=3,edge_detection",
      "blur=15,edge_detection",
      "grayscale,blur=5,equalize_histogram",
      "grayscale,find_contours",
      "color_inversion,read_qr_code",
      "dilate=5,erode=3,blur=7,edge_detection",
      "dilate=9,erode=9",
      "blur=7,blur=7,blur=7",
      "edge_detection,dilate=3,edge_detection",
      "equalize_histogram,blur=5,edge_detection",
      "grayscale,dilate=3,equalize_histogram,threshold",
      "resize=64,blur=5,edge_detection",
      "erode=5,resize=17,dilate=3",
      "threshold,erode=3,find_contours",
  };
  std::vector<Sample> images = {
      {"photo 97x83", testing::photo_like(97, 83, 21)},
      {"noise 50x37", testing::noise(50, 37, 22)},
      {"gray 61x40", testing::gray_as_colour(61, 40, 23)},
      {"photo 1x40", testing::photo_like(1, 40, 24)},
      {"noise 40x1", testing::noise(40, 1, 25)},
  };
  for (const std::string& text : pipelines) {
    SECTION(text) { expect_tiled_all_sizes(text, images); }
  }
}

TEST_CASE("tiling: random pipelines tiled equal the reference", "[tiling]") {
  const std::vector<std::string> steps = {
      "edge_detection", "color_inversion", "grayscale", "threshold",          "blur=3",        "blur=4",
      "blur=9",         "dilate=3",        "dilate=6",  "erode=3",            "erode=7",       "resize",
      "resize=40",      "equalize_histogram", "find_contours", "blur", "dilate", "erode",
  };
  std::mt19937 rng(20240601);
  for (int i = 0; i < 60; ++i) {
    const int length = 1 + static_cast<int>(rng() % 4);
    std::string text;
    for (int j = 0; j < length; ++j) text += (j ? "," : "") + steps[rng() % steps.size()];
    const Pipeline pipeline = parse(text);
    const unsigned seed = static_cast<unsigned>(rng());
    const int rows = 20 + static_cast<int>(rng() % 60), cols = 10 + static_cast<int>(rng() % 50);
    const cv::Mat image = (i % 3 == 0)   ? testing::noise(rows, cols, seed)
                          : (i % 3 == 1) ? testing::photo_like(rows, cols, seed)
                                         : testing::gray_as_colour(rows, cols, seed);
    std::vector<std::string> decoded;
    const cv::Mat expected = testing::reference_pipeline(text, image, &decoded);
    for (int tile : {1, 2, 3, 5, 8, 13, rows - 1}) {
      expect_tiled_equals_reference(text, pipeline, "random " + std::to_string(i), image, expected, decoded, tile);
    }
  }
}

TEST_CASE("tiling: pieces can be assembled in any order", "[tiling]") {
  const cv::Mat image = testing::photo_like(83, 61, 31);
  for (const char* text : {"blur=3,edge_detection", "grayscale,dilate=3,equalize_histogram", "dilate=5,color_inversion",
                           "erode=3,resize=20", "edge_detection,find_contours"}) {
    INFO(text);
    std::vector<std::string> expected_decoded;
    const cv::Mat expected = testing::reference_pipeline(text, image, &expected_decoded);
    for (int order = 0; order < 3; ++order) {
      INFO("order " << order);
      std::mt19937 rng(order);
      cv::Mat current = image;
      for (const Stage& stage : plan_stages(parse(text))) {
        std::vector<PieceRows> pieces = plan_pieces(stage, current.rows, 6);
        if (order == 1) std::reverse(pieces.begin(), pieces.end());
        if (order == 2) std::shuffle(pieces.begin(), pieces.end(), rng);
        StageAssembler assembler(stage, current.rows, pieces.size());
        for (size_t i = 0; i < pieces.size(); ++i) {
          CHECK_FALSE(assembler.complete());
          PieceOutput output;
          const cv::Mat input = current.rowRange(pieces[i].in_row0, pieces[i].in_row1).clone();
          Status status;
          try {
            status = run_piece(stage, pieces[i], input, &output);
          } catch (const std::exception& e) {
            FAIL("exception escaped run_piece: " << e.what());
          }
          REQUIRE(status.ok());
          // A local, Canny or histogram piece gives back its own rows (a whole-image stage may change the size).
          if (stage.kind != Tiling::kWholeImage) CHECK(output.pixels.rows == pieces[i].row1 - pieces[i].row0);
          if (stage.kind == Tiling::kHistogram) {
            CHECK(output.histogram.size() == 256);
            CHECK(std::accumulate(output.histogram.begin(), output.histogram.end(), 0.0) ==
                  static_cast<double>(output.pixels.total()));
          }
          REQUIRE(assembler.add(pieces[i], std::move(output)).ok());
        }
        CHECK(assembler.complete());
        OpResult result;
        REQUIRE(assembler.finish(&result).ok());
        current = result.image;
      }
      CHECK(identical(current, expected));
    }
  }
}

TEST_CASE("tiling: misuse of run_piece and StageAssembler is an error, not a crash", "[tiling]") {
  const cv::Mat image = testing::photo_like(40, 30, 41);
  const std::vector<Stage> stages = plan_stages(parse("blur=3,edge_detection"));
  REQUIRE(stages.size() == 1);
  const std::vector<PieceRows> pieces = plan_pieces(stages[0], image.rows, 10);
  REQUIRE(pieces.size() == 4);
  SECTION("input with the wrong number of rows") {
    PieceOutput output;
    const Status status = run_piece(stages[0], pieces[1], image.rowRange(0, 3).clone(), &output);
    CHECK_FALSE(status.ok());
    CHECK_FALSE(status.message().empty());
  }
  SECTION("finish before every piece arrived") {
    StageAssembler assembler(stages[0], image.rows, pieces.size());
    PieceOutput output;
    REQUIRE(run_piece(stages[0], pieces[0], image.rowRange(pieces[0].in_row0, pieces[0].in_row1).clone(), &output).ok());
    REQUIRE(assembler.add(pieces[0], std::move(output)).ok());
    CHECK_FALSE(assembler.complete());
    OpResult result;
    CHECK_FALSE(assembler.finish(&result).ok());
  }
  SECTION("a piece of the wrong width") {
    StageAssembler assembler(stages[0], image.rows, pieces.size());
    PieceOutput first, wrong;
    REQUIRE(run_piece(stages[0], pieces[0], image.rowRange(pieces[0].in_row0, pieces[0].in_row1).clone(), &first).ok());
    REQUIRE(assembler.add(pieces[0], std::move(first)).ok());
    const cv::Mat narrow = image.colRange(0, 20);
    REQUIRE(run_piece(stages[0], pieces[1], narrow.rowRange(pieces[1].in_row0, pieces[1].in_row1).clone(), &wrong).ok());
    CHECK_FALSE(assembler.add(pieces[1], std::move(wrong)).ok());
  }
  SECTION("a piece with rows missing") {
    StageAssembler assembler(stages[0], image.rows, pieces.size());
    PieceOutput output;
    REQUIRE(run_piece(stages[0], pieces[1], image.rowRange(pieces[1].in_row0, pieces[1].in_row1).clone(), &output).ok());
    output.pixels = output.pixels.rowRange(0, output.pixels.rows - 1).clone();
    const Status status = assembler.add(pieces[1], std::move(output));
    CHECK_FALSE(status.ok());
    CHECK(status.message().find("does not fit") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Canny across tiles

TEST_CASE("tiling: Canny on an edge that snakes through every tile", "[tiling][canny]") {
  SECTION("zigzag") {
    // A 3-pixel weak band zigzagging down through all rows; a strong blob only at its far end.
    cv::Mat gray(96, 72, CV_8UC1, cv::Scalar(kBackgroundLevel));
    int y = 4;
    bool right = true;
    while (y + 7 < 84) {
      band(gray, {6, y}, {65, y}, 1, kWeakLevel);
      const int x = right ? 65 : 6;
      band(gray, {x, y}, {x, y + 7}, 1, kWeakLevel);
      y += 7;
      right = !right;
    }
    band(gray, {6, y}, {65, y}, 1, kWeakLevel);
    cv::rectangle(gray, {right ? 62 : 3, y - 1}, {right ? 70 : 11, 92}, cv::Scalar(kStrongLevel), cv::FILLED);
    const cv::Mat image = as_colour(gray);
    // The property that makes the test meaningful, on the direct cv::Canny.
    const cv::Rect far(0, 0, gray.cols, 60);
    REQUIRE(count_in(canny(image, 200, 200), far) == 0);
    REQUIRE(count_in(canny(image, 100, 200), far) > 300);
    expect_canny_tiled("zigzag", image, range_tiles(1, 8));
    expect_canny_tiled("zigzag", image, {9, 13, 31, 64, 95, 96, 101});
  }
  SECTION("spiral") {
    // A rectangular spiral from the outside in, strong only at its centre.
    cv::Mat gray(81, 81, CV_8UC1, cv::Scalar(kBackgroundLevel));
    int left = 4, top = 4, right = 76, bottom = 76;
    cv::Point at(left, top);
    const int step = 6;
    while (right - left > 2 * step && bottom - top > 2 * step) {
      band(gray, at, {right, top}, 1, kWeakLevel);
      band(gray, {right, top}, {right, bottom}, 1, kWeakLevel);
      band(gray, {right, bottom}, {left, bottom}, 1, kWeakLevel);
      top += step;
      band(gray, {left, bottom}, {left, top}, 1, kWeakLevel);
      at = {left, top};
      left += step;
      right -= step;
      bottom -= step;
    }
    band(gray, at, {left + 3, top}, 1, kWeakLevel);
    cv::rectangle(gray, {left + 2, top - 3}, {left + 8, top + 3}, cv::Scalar(kStrongLevel), cv::FILLED);
    const cv::Mat image = as_colour(gray);
    const cv::Rect outer_ring(0, 0, gray.cols, 12);
    REQUIRE(count_in(canny(image, 200, 200), outer_ring) == 0);
    REQUIRE(count_in(canny(image, 100, 200), outer_ring) > 100);
    // Everything but the central blob is weak, and it is all kept.
    cv::Mat strong_mask = canny(image, 200, 200);
    CHECK(cv::countNonZero(canny(image, 100, 200)) > 10 * cv::countNonZero(strong_mask));
    expect_canny_tiled("spiral", image, range_tiles(1, 8));
    expect_canny_tiled("spiral", image, {10, 16, 40, 80, 81});
  }
}

TEST_CASE("tiling: Canny with an edge lying exactly on a tile border row", "[tiling][canny]") {
  for (int tile = 1; tile <= 8; ++tile) {
    for (int k : {3, 4}) {
      for (int offset : {-1, 0, 1}) {
        // A weak horizontal step whose Canny edge row is k*tile + offset - 1 or so; strong only at its right end.
        const int r = k * tile + offset;
        if (r < 3) continue;
        cv::Mat gray(k * tile + 3 * tile + 12, 90, CV_8UC1, cv::Scalar(kBackgroundLevel));
        cv::rectangle(gray, {4, r}, {70, gray.rows - 4}, cv::Scalar(kWeakLevel), cv::FILLED);
        cv::rectangle(gray, {70, r}, {85, gray.rows - 4}, cv::Scalar(kStrongLevel), cv::FILLED);
        const cv::Mat image = as_colour(gray);
        const cv::Mat edges = canny(image, 100, 200);
        INFO("tile " << tile << " step at row " << r);
        // The weak edge on row r-1 (the background side of the step) is in the result but not strong.
        REQUIRE(count_in(edges, cv::Rect(10, r - 1, 50, 1)) == 50);
        REQUIRE(count_in(canny(image, 200, 200), cv::Rect(0, 0, 66, gray.rows)) == 0);
        expect_canny_tiled("border row", image, {tile});
      }
    }
  }
  // Vertical and horizontal weak edges meeting the strong blob across a border, seen with every tile size.
  cv::Mat gray(64, 64, CV_8UC1, cv::Scalar(kBackgroundLevel));
  for (int r = 8; r < 56; r += 8) cv::rectangle(gray, {4, r}, {40, r + 3}, cv::Scalar(kWeakLevel), cv::FILLED);
  cv::rectangle(gray, {40, 4}, {44, 60}, cv::Scalar(kWeakLevel), cv::FILLED);
  cv::rectangle(gray, {44, 56}, {60, 60}, cv::Scalar(kStrongLevel), cv::FILLED);
  expect_canny_tiled("comb", as_colour(gray), range_tiles(1, 12));
}

TEST_CASE("tiling: Canny keeps a weak line reaching a strong blob only in a far tile", "[tiling][canny]") {
  // A long weak vertical band through many tiles; it touches a strong blob only at the very bottom.
  // Beside it, a weak rectangle connected to nothing: it must vanish.
  cv::Mat gray(200, 48, CV_8UC1, cv::Scalar(kBackgroundLevel));
  cv::rectangle(gray, {8, 3}, {12, 185}, cv::Scalar(kWeakLevel), cv::FILLED);
  cv::rectangle(gray, {4, 185}, {20, 195}, cv::Scalar(kStrongLevel), cv::FILLED);
  cv::rectangle(gray, {28, 20}, {42, 150}, cv::Scalar(kWeakLevel), cv::FILLED);
  const cv::Mat image = as_colour(gray);
  const cv::Mat edges = canny(image, 100, 200);
  const cv::Rect line_area(0, 0, 24, 170), lonely_area(24, 0, 24, 200);
  REQUIRE(count_in(canny(image, 200, 200), line_area) == 0);     // nothing strong up there
  REQUIRE(count_in(edges, line_area) > 300);                      // yet the whole line is kept
  REQUIRE(count_in(canny(image, 100, 100), lonely_area) > 200);   // the lonely rectangle is a candidate
  REQUIRE(count_in(edges, lonely_area) == 0);                     // but vanishes
  expect_canny_tiled("far strong", image, range_tiles(1, 8));
  expect_canny_tiled("far strong", image, {13, 31, 64, 100, 199, 200, 205});

  SECTION("diagonal line") {
    cv::Mat diagonal(160, 160, CV_8UC1, cv::Scalar(kBackgroundLevel));
    cv::line(diagonal, {10, 5}, {140, 135}, cv::Scalar(kWeakLevel), 4);
    cv::circle(diagonal, {143, 138}, 8, cv::Scalar(kStrongLevel), cv::FILLED);
    const cv::Mat colour = as_colour(diagonal);
    const cv::Rect top(0, 0, 160, 100);
    REQUIRE(count_in(canny(colour, 200, 200), top) == 0);
    REQUIRE(count_in(canny(colour, 100, 200), top) > 100);
    expect_canny_tiled("diagonal", colour, range_tiles(1, 8));
  }
  SECTION("the same through a blur stage") {
    const Pipeline p = parse("blur=3,edge_detection");
    const cv::Mat expected = testing::reference_pipeline("blur=3,edge_detection", image);
    for (int tile : {1, 2, 3, 5, 8, 31}) expect_tiled_equals_reference("blur=3,edge_detection", p, "far strong", image, expected, {}, tile);
  }
}

TEST_CASE("tiling: canny_hysteresis keeps candidates 8-connected to a strong pixel", "[tiling][canny]") {
  SECTION("hand-made map") {
    const uchar data[5][7] = {
        {2, 1, 1, 0, 0, 0, 1},
        {0, 0, 0, 1, 0, 0, 1},
        {0, 0, 0, 0, 1, 0, 0},
        {1, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 1, 1, 2},
    };
    const uchar want[5][7] = {
        {255, 255, 255, 0, 0, 0, 0},
        {0, 0, 0, 255, 0, 0, 0},
        {0, 0, 0, 0, 255, 0, 0},
        {0, 0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, 255, 255, 255},
    };
    const cv::Mat marks = cv::Mat(5, 7, CV_8UC1, const_cast<uchar*>(&data[0][0])).clone();
    const cv::Mat expected = cv::Mat(5, 7, CV_8UC1, const_cast<uchar*>(&want[0][0])).clone();
    CHECK(identical(canny_hysteresis(marks), expected));
  }
  SECTION("random maps against connected components") {
    std::mt19937 rng(7);
    for (const cv::Size& size : {cv::Size(1, 1), cv::Size(40, 1), cv::Size(1, 40), cv::Size(33, 29), cv::Size(120, 90)}) {
      for (int density = 30; density <= 70; density += 20) {
        cv::Mat marks(size, CV_8UC1);
        for (int y = 0; y < size.height; ++y)
          for (int x = 0; x < size.width; ++x) {
            const int v = static_cast<int>(rng() % 100);
            marks.at<uchar>(y, x) = v < density ? (v < 3 ? kStrong : kCandidate) : kNotEdge;
          }
        cv::Mat labels;
        const int n = cv::connectedComponents(marks > 0, labels, 8, CV_32S);
        std::vector<bool> keep(n, false);
        for (int y = 0; y < size.height; ++y)
          for (int x = 0; x < size.width; ++x)
            if (marks.at<uchar>(y, x) == kStrong) keep[labels.at<int>(y, x)] = true;
        cv::Mat expected(size, CV_8UC1, cv::Scalar(0));
        for (int y = 0; y < size.height; ++y)
          for (int x = 0; x < size.width; ++x)
            if (marks.at<uchar>(y, x) && keep[labels.at<int>(y, x)]) expected.at<uchar>(y, x) = 255;
        INFO(size << " density " << density);
        CHECK(identical(canny_hysteresis(marks), expected));
      }
    }
  }
  SECTION("on whole-image marks it reproduces cv::Canny(100, 200)") {
    for (const Sample& sample : tiling_samples()) {
      INFO(sample.label);
      const cv::Mat candidates = canny(sample.image, 100, 100), strong = canny(sample.image, 200, 200);
      cv::Mat marks(sample.image.size(), CV_8UC1, cv::Scalar(kNotEdge));
      marks.setTo(kCandidate, candidates);
      marks.setTo(kStrong, strong);
      CHECK(identical(canny_hysteresis(marks), canny(sample.image, 100, 200)));
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Histogram

TEST_CASE("tiling: gray_histogram and equalize_lut reproduce cv::equalizeHist", "[tiling][histogram]") {
  const auto check_gray = [](const cv::Mat& gray, const std::string& label) {
    INFO(label);
    const std::vector<double> histogram = gray_histogram(gray);
    REQUIRE(histogram.size() == 256);
    CHECK(std::accumulate(histogram.begin(), histogram.end(), 0.0) == static_cast<double>(gray.total()));
    cv::Mat expected;
    cv::equalizeHist(gray, expected);
    const cv::Mat lut = equalize_lut(histogram);
    REQUIRE_FALSE(lut.empty());
    CHECK(lut.type() == CV_8UC1);
    CHECK(lut.total() == 256);
    cv::Mat out;
    cv::LUT(gray, lut, out);
    CHECK(identical(out, expected));
  };
  SECTION("images of every kind") {
    for (const Sample& sample : tiling_samples()) {
      cv::Mat gray;
      cv::cvtColor(sample.image, gray, cv::COLOR_BGR2GRAY);
      check_gray(gray, sample.label);
    }
  }
  SECTION("constant images") {
    for (int v : {0, 1, 77, 254, 255}) {
      check_gray(cv::Mat(13, 17, CV_8UC1, cv::Scalar(v)), "constant " + std::to_string(v));
      check_gray(cv::Mat(1, 1, CV_8UC1, cv::Scalar(v)), "1 pixel " + std::to_string(v));
    }
  }
  SECTION("two-valued images") {
    for (auto [a, b] : {std::pair{10, 200}, std::pair{0, 255}, std::pair{254, 255}, std::pair{0, 1}, std::pair{128, 3}}) {
      for (int share : {1, 50, 199}) {
        cv::Mat gray(10, 20, CV_8UC1, cv::Scalar(a));
        gray.reshape(1, 1).colRange(0, share).setTo(b);
        check_gray(gray, "values " + std::to_string(a) + "," + std::to_string(b) + " share " + std::to_string(share));
        cv::Mat out;
        cv::LUT(gray, equalize_lut(gray_histogram(gray)), out);
        CHECK(out.at<uchar>(0, 0) == (b > a ? 255 : 0));
      }
    }
  }
  SECTION("skewed and large images") {
    cv::RNG rng(5);
    cv::Mat big(1500, 1400, CV_8UC1);
    rng.fill(big, cv::RNG::NORMAL, 40, 9);
    check_gray(big, "1500x1400 normal");
    cv::Mat mostly_zero(300, 300, CV_8UC1, cv::Scalar(0));
    mostly_zero(cv::Rect(0, 0, 30, 7)).setTo(3);
    mostly_zero(cv::Rect(100, 100, 3, 3)).setTo(250);
    check_gray(mostly_zero, "mostly zero");
  }
  SECTION("the sum of band histograms gives the whole image's table") {
    cv::Mat gray;
    cv::cvtColor(testing::photo_like(101, 77, 3), gray, cv::COLOR_BGR2GRAY);
    std::vector<double> sum(256, 0.0);
    for (int r = 0; r < gray.rows; r += 9) {
      const std::vector<double> part = gray_histogram(gray.rowRange(r, std::min(gray.rows, r + 9)));
      for (int i = 0; i < 256; ++i) sum[i] += part[i];
    }
    CHECK(sum == gray_histogram(gray));
    CHECK(identical(equalize_lut(sum), equalize_lut(gray_histogram(gray))));
  }
  SECTION("an empty histogram gives an empty table") {
    CHECK(equalize_lut(std::vector<double>(256, 0.0)).empty());
  }
}

TEST_CASE("band work: what cutting a pipeline into bands costs against the whole image", "[tiling]") {
  CHECK(band_work(plan_stages(parse("blur=5,grayscale"))) == 1.0);
  CHECK(band_work(plan_stages(parse("grayscale,edge_detection"))) == 1.2);  // Canny once, then hysteresis
  CHECK(band_work(plan_stages(parse("find_contours"))) == 0.0);             // nothing can be cut
  CHECK(band_work(plan_stages(parse("resize=64,blur=3"))) == 1.0);          // the blur can
}
