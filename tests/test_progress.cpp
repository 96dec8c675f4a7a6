// progress: the progress line's text.
#include <catch2/catch.hpp>

#include "dips/progress.h"

using namespace dips;

TEST_CASE("progress line", "[progress]") {
  ProgressState state{8, 2, 20, 30.0, 10.0, 2, 3};
  CHECK(progress_line(state) == "10/20 tasks (0 pieces), 2 failed, 3.0 MP/s, ETA 0:10, workers 2/3");
  state.pieces_done = 57;
  CHECK(progress_line(state) == "10/20 tasks (57 pieces), 2 failed, 3.0 MP/s, ETA 0:10, workers 2/3");
}
