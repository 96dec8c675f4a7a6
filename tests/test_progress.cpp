// progress: the progress line's text, and what the display writes to stderr when it is not a terminal
// (a batch log): a line per interval, the final state once, messages on their own lines, nothing when quiet.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "dips/progress.h"
#include "harness.h"

using namespace dips;
using namespace dips::testing;

namespace {

// What `body` writes to stderr, which is a file meanwhile (not a terminal).
std::string stderr_of(const std::function<void()>& body) {
  TempDir dir;
  const std::string path = (dir / "stderr").string();
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(file >= 0);
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  body();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  return read_text(dir / "stderr");
}

ProgressState at(double elapsed_s, size_t done) { return ProgressState{done, 0, 4, 2.0 * done, elapsed_s, 2, 2}; }

}  // namespace

TEST_CASE("progress line", "[progress]") {
  ProgressState state{8, 2, 20, 30.0, 10.0, 2, 3};
  CHECK(progress_line(state) == "10/20 tasks (0 pieces), 2 failed, 3.0 MP/s, ETA 0:10, workers 2/3");
  state.pieces_done = 57;
  CHECK(progress_line(state) == "10/20 tasks (57 pieces), 2 failed, 3.0 MP/s, ETA 0:10, workers 2/3");
  CHECK(progress_line(ProgressState{0, 0, 5, 0, 0, 1, 1}) == "0/5 tasks (0 pieces), 0 failed, 0.0 MP/s, ETA -, workers 1/1");
  CHECK(progress_line(ProgressState{1, 0, 200, 1, 2.0, 1, 1}) == "1/200 tasks (0 pieces), 0 failed, 0.5 MP/s, ETA 6:38, workers 1/1");
  CHECK(progress_line(ProgressState{3, 1, 4, 8, 4.0, 0, 2}) == "4/4 tasks (0 pieces), 1 failed, 2.0 MP/s, ETA -, workers 0/2");
}

TEST_CASE("progress display in a batch log: a line per interval, the final state once", "[progress]") {
  const std::string log = stderr_of([] {
    ProgressDisplay display(false, 5.0);
    display.update(at(0, 0));
    display.update(at(1, 1));        // within the interval: not shown
    display.update(at(6, 2));
    display.message("dips: worker 2 lost");
    display.update(at(7, 3), true);  // forced: shown at once
    display.update(at(7, 3), true);  // the same final state again: not repeated
    display.finish();
  });
  CHECK(log == "[dips 0s] 0/4 tasks (0 pieces), 0 failed, 0.0 MP/s, ETA -, workers 2/2\n"
               "[dips 6s] 2/4 tasks (0 pieces), 0 failed, 0.7 MP/s, ETA 0:06, workers 2/2\n"
               "dips: worker 2 lost\n"
               "[dips 7s] 3/4 tasks (0 pieces), 0 failed, 0.9 MP/s, ETA 0:02, workers 2/2\n");
}

TEST_CASE("progress display when quiet: nothing", "[progress]") {
  const std::string log = stderr_of([] {
    ProgressDisplay display(true, 0);
    display.update(at(0, 0), true);
    display.update(at(9, 4), true);
    display.finish();
  });
  CHECK(log.empty());
}
