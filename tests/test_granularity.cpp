// granularity: the policy that cuts a task into pieces (whole files while tasks outnumber threads, bands
// for the large last ones) and the cost model the scheduler's flow control uses.
#include <catch2/catch.hpp>

#include "dips/granularity.h"

using namespace dips;

TEST_CASE("granularity: whole files while tasks outnumber threads, bands for the large last ones", "[granularity]") {
  ShapeInput in;
  in.width = 6000;
  in.height = 4000;  // 24 MP
  in.working_threads = 4;
  in.tasks_left = 10;
  CHECK_FALSE(choose_shape(in).bands);  // threads have other tasks to do: whole
  in.tasks_left = 3;
  TaskShape shape = choose_shape(in);
  CHECK(shape.bands);  // one of the last three of four threads: cut it
  const int bands = (in.height + shape.tile_rows - 1) / shape.tile_rows;
  CHECK(bands == 8);   // two per thread
  in.top_down = true;  // a PNG: its bands start as its rows are decoded, small ones keep threads busy
  shape = choose_shape(in);
  CHECK((in.height + shape.tile_rows - 1) / shape.tile_rows == 12);  // by size: 2 MP each (kBandPixels)
  in.width = 16000;  // 64 MP
  shape = choose_shape(in);
  CHECK((in.height + shape.tile_rows - 1) / shape.tile_rows == 4 * kTopDownBandsPerThread);
  in.width = 6000;
  in.top_down = false;
  in.width = 1000;
  in.height = 1000;    // 1 MP: never worth cutting
  CHECK_FALSE(choose_shape(in).bands);
  in.width = 6000;
  in.height = 4000;
  in.working_threads = 1;  // nobody to share with
  CHECK_FALSE(choose_shape(in).bands);
  in.working_threads = 4;
  in.band_work = 0;  // find_contours alone: nothing to cut
  CHECK_FALSE(choose_shape(in).bands);
  in.band_work = 2;  // bands doing twice the work: worth it on four threads...
  CHECK(choose_shape(in).bands);
  in.working_threads = 2;  // ...not on two, even for the last task
  in.tasks_left = 1;
  CHECK_FALSE(choose_shape(in).bands);
  in.band_work = 1;
  CHECK(choose_shape(in).bands);
  in.working_threads = 4;
  in.tasks_left = 3;
  in.band_work = 1;
  in.tile_rows_option = 500;  // the user's rows, whatever else holds
  in.tasks_left = 100;
  shape = choose_shape(in);
  CHECK(shape.bands);
  CHECK(shape.tile_rows == 500);
  in.height = 500;
  CHECK_FALSE(choose_shape(in).bands);
}

TEST_CASE("granularity: a JPEG's bands decode their own rows only while that costs less than one decode", "[granularity]") {
  ShapeInput in;
  in.width = 6000;
  in.height = 4000;
  in.working_threads = 2;
  in.tasks_left = 1;
  TaskShape shape = choose_shape(in);
  REQUIRE(shape.bands);
  CHECK(shape.rows_from_file);  // the job's tail: 4 bands on 2 threads, about 1.75 decodes shared by two
  in.working_threads = 16;
  CHECK(choose_shape(in).rows_from_file);  // 12 bands, 3.75 decodes shared by 16
  in.working_threads = 2;
  in.tile_rows_option = 1000;  // 4 bands
  CHECK(choose_shape(in).rows_from_file);
  in.tile_rows_option = 800;  // 5 bands: 2 decodes shared by two, no better than one decode
  CHECK(choose_shape(in).rows_from_file);
  in.tile_rows_option = 667;  // 6 bands
  shape = choose_shape(in);
  REQUIRE(shape.bands);
  CHECK_FALSE(shape.rows_from_file);
  in.tile_rows_option = 64;  // 63 bands: one worker decodes it for all of them
  CHECK_FALSE(choose_shape(in).rows_from_file);
  in.working_threads = 32;
  CHECK(choose_shape(in).rows_from_file);  // 63 bands on 32 threads: 16.5 decodes shared by 32
  in.tile_rows_option = 1000;
  in.working_threads = 1;  // alone, a band decoding its own rows only adds work
  shape = choose_shape(in);
  REQUIRE(shape.bands);
  CHECK_FALSE(shape.rows_from_file);
  in.working_threads = 2;
  in.tasks_left = 10;  // other tasks keep the threads busy: each decode costs the job its CPU
  shape = choose_shape(in);
  REQUIRE(shape.bands);
  CHECK_FALSE(shape.rows_from_file);
}

TEST_CASE("cost model: a first guess, then what pieces measured", "[granularity]") {
  CostModel costs;
  const double guess = costs.estimate("file:blur=5.png", 1e6);
  CHECK(guess > 0);
  for (int i = 0; i < 50; ++i) costs.observe("file:blur=5.png", 1e6, 0.002);
  CHECK(costs.estimate("file:blur=5.png", 1e6) == Approx(0.002).epsilon(0.01));
  CHECK(costs.estimate("file:blur=5.png", 2e6) == Approx(0.004).epsilon(0.01));
  CHECK(costs.estimate("other", 1e6) == guess);
}

TEST_CASE("granularity: the boundaries of the cut", "[granularity]") {
  ShapeInput in;
  in.width = 6000;
  in.height = 4000;
  in.working_threads = 4;
  in.tasks_left = 4;  // one task per thread: none waits, nothing to cut
  CHECK_FALSE(choose_shape(in).bands);
  in.tasks_left = 3;
  CHECK(choose_shape(in).bands);
  SECTION("many threads: bands of about kBandPixels, not two per thread") {
    in.working_threads = 16;
    const TaskShape shape = choose_shape(in);
    REQUIRE(shape.bands);
    CHECK((in.height + shape.tile_rows - 1) / shape.tile_rows == 12);  // 24 MP / 2 MP
  }
  SECTION("rows that do not divide: the bands round up, so that there are not more of them") {
    in.height = 4001;
    const TaskShape shape = choose_shape(in);
    REQUIRE(shape.bands);
    CHECK(shape.tile_rows == 501);
    CHECK((in.height + shape.tile_rows - 1) / shape.tile_rows == 8);
  }
}

TEST_CASE("granularity: a file is worth reading for its size only when it can be cut", "[granularity]") {
  const auto smallest = static_cast<uint64_t>(kMinBandPixels * 0.05);  // kMinBytesPerPixel
  CHECK_FALSE(may_cut(100, 0));
  CHECK_FALSE(may_cut(smallest - 1, 0));
  CHECK(may_cut(smallest, 0));
  CHECK(may_cut(100, 50));  // --tile-rows: the user cuts whatever the size
}

TEST_CASE("cost model: learns gradually and ignores measures of nothing", "[granularity]") {
  CostModel costs;
  const double guess = costs.estimate("k", 1e6);
  costs.observe("k", 0, 1.0);    // no units: no rate
  costs.observe("k", 1e6, -1);   // a clock that went backwards
  CHECK(costs.estimate("k", 1e6) == guess);
  costs.observe("k", 1e6, 0.002);
  CHECK(costs.estimate("k", 1e6) == Approx(0.002));  // the first measure replaces the guess
  costs.observe("k", 1e6, 0.004);
  CHECK(costs.estimate("k", 1e6) == Approx(0.0024));  // later ones move it a fifth of the way
}

TEST_CASE("granularity: bands that add work are cut only while threads are free to share them", "[granularity]") {
  ShapeInput in;
  in.width = 8700;
  in.height = 5800;  // 50 MP
  in.working_threads = 2;
  in.tasks_left = 1;
  in.band_work = 1.2;  // edge_detection
  in.other_tasks = 0;  // the job's only image: both threads share its bands
  CHECK(choose_shape(in).bands);
  in.other_tasks = 1;  // the last image, while the other thread still works on an earlier one: whole
  CHECK_FALSE(choose_shape(in).bands);
  in.band_work = 1;  // bands without extra work: the busy thread joins them when it is done
  CHECK(choose_shape(in).bands);
  in.band_work = 1.2;
  in.working_threads = 4;  // three threads free of other tasks share it
  CHECK(choose_shape(in).bands);
  in.other_tasks = 3;
  CHECK_FALSE(choose_shape(in).bands);
}
