#include "dips/watchdog.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <thread>

using namespace dips;

namespace {

// Waits up to 60 s (a busy machine) for the expiry to have run.
bool fired_within_a_minute(const std::atomic<int>& fired) {
  for (int i = 0; i < 6000 && fired == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return fired > 0;
}

}  // namespace

TEST_CASE("a watchdog armed past its deadline runs its expiry once; disarm then says so", "[watchdog]") {
  std::atomic<int> fired{0};
  Watchdog watchdog([&] { ++fired; });
  watchdog.arm(0.01);
  REQUIRE(fired_within_a_minute(fired));
  CHECK_FALSE(watchdog.disarm());
  watchdog.arm(0.01);  // the process was to end: nothing more fires
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(fired == 1);
}

TEST_CASE("a watchdog disarmed before its deadline never fires, and can be armed again", "[watchdog]") {
  std::atomic<int> fired{0};
  Watchdog watchdog([&] { ++fired; });
  watchdog.arm(3600);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // time for a watchdog that fires early
  CHECK(fired == 0);
  CHECK(watchdog.disarm());
  watchdog.arm(0);  // no deadline
  CHECK(watchdog.disarm());
  watchdog.arm(3600);
  CHECK(watchdog.disarm());
  CHECK(fired == 0);
  watchdog.arm(0.01);
  REQUIRE(fired_within_a_minute(fired));
  CHECK_FALSE(watchdog.disarm());
}

TEST_CASE("disarm after an expiry waits until the expiry has finished", "[watchdog]") {
  std::atomic<bool> entered{false}, finished{false};
  Watchdog watchdog([&] {
    entered = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    finished = true;
  });
  watchdog.arm(0.001);
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK_FALSE(watchdog.disarm());
  CHECK(finished);
}

TEST_CASE("a watchdog never armed with a deadline is destroyed at once", "[watchdog]") {
  Watchdog watchdog([] { FAIL("no deadline was set"); });
  watchdog.arm(0);
  CHECK(watchdog.disarm());
}
