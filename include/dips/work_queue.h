#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace dips {

// A queue shared by threads: producers push, consumers pop or wait. Every thread hand-off in dips (rank 0's
// file I/O, a worker's compute threads, the in-process worker of a single-rank run) goes through this type.
// close() wakes every waiter; a closed queue accepts nothing and pops what is left, then nothing.
template <typename T>
class WorkQueue {
 public:
  // Adds an item and wakes one waiter. Returns false (and drops the item) once the queue is closed.
  bool push(T item) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) return false;
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return true;
  }

  // Takes the oldest item without waiting.
  std::optional<T> try_pop() {
    std::lock_guard<std::mutex> lock(mutex_);
    return take();
  }

  // Takes every item there is, oldest first, without waiting.
  std::vector<T> pop_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<T> all;
    all.reserve(items_.size());
    while (!items_.empty()) all.push_back(take().value());
    return all;
  }

  // Waits for an item; empty only when the queue is closed and drained.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return closed_ || !items_.empty(); });
    return take();
  }

  // Waits at most `timeout` for the queue to hold an item (or be closed); true when it does.
  template <typename Duration>
  bool wait_for(Duration timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return ready_.wait_for(lock, timeout, [this] { return closed_ || !items_.empty(); });
  }

  // Refuses further items and wakes every waiter.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

 private:
  std::optional<T> take() {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace dips
