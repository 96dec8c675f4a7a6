#include "dips/watchdog.h"

namespace dips {

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::arm(double seconds) {
  if (seconds <= 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    armed_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { watch(); });
  }
  changed_.notify_all();
}

bool Watchdog::disarm() {
  std::unique_lock<std::mutex> lock(mutex_);
  armed_ = false;
  if (!expired_) return true;
  changed_.wait(lock, [this] { return expiry_done_; });
  return false;
}

void Watchdog::watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!closing_) {
    if (!armed_) {
      changed_.wait(lock);
      continue;
    }
    if (Clock::now() < deadline_) {
      changed_.wait_until(lock, deadline_);
      continue;
    }
    expired_ = true;
    armed_ = false;
    lock.unlock();
    on_expiry_();
    lock.lock();
    expiry_done_ = true;
    changed_.notify_all();
    return;
  }
}

}  // namespace dips
