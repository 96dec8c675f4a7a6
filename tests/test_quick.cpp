#include <catch2/catch.hpp>
#include "dips/tiling.h"
#include "test_images.h"
using namespace dips;
TEST_CASE("quick tiled equals whole") {
  for (const auto& op : operations()) {
    Pipeline p; REQUIRE(parse_pipeline(std::string(op.name), &p).ok());
    for (int seed = 0; seed < 3; ++seed) {
      cv::Mat img = testing::photo_like(97, 83, seed);
      OpResult whole, tiled; REQUIRE(run_pipeline_whole(img, p, &whole).ok());
      for (int t : {1, 2, 3, 7, 50, 200}) {
        REQUIRE(run_pipeline_tiled(img, p, t, &tiled).ok());
        INFO(op.name << " tile " << t);
        CHECK(testing::identical(whole.image, tiled.image));
      }
    }
  }
}
