#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace dips {

// A deadline for a call that may never return and cannot be interrupted: under --enable-recovery,
// MPI_Comm_spawn waits for ever for a process Open MPI cannot start (dips missing on a host), and nothing
// tells the caller. arm() before the call, disarm() after it. When the deadline passes while armed,
// `on_expiry` runs on the watchdog's own thread; the thread that armed it is taken to be stuck in the call,
// so on_expiry may use what that thread owns, and it should end the process. disarm() after an expiry
// waits for on_expiry to return, then returns false: a call that comes back late never races it.
// The watchdog's thread starts on the first arm() with a deadline.
class Watchdog {
 public:
  explicit Watchdog(std::function<void()> on_expiry) : on_expiry_(std::move(on_expiry)) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog();

  // Starts a deadline `seconds` from now; seconds <= 0 sets none.
  void arm(double seconds);
  // Ends the deadline. False when it had expired (on_expiry has then run).
  bool disarm();

 private:
  using Clock = std::chrono::steady_clock;
  void watch();

  std::function<void()> on_expiry_;
  std::mutex mutex_;
  std::condition_variable changed_;
  Clock::time_point deadline_;
  bool armed_ = false, expired_ = false, expiry_done_ = false, closing_ = false;
  std::thread thread_;
};

}  // namespace dips
