#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "dips/work_queue.h"

namespace dips {

// Work rank 0 does off its main loop (reading inputs, writing outputs) so that the loop keeps answering
// its workers meanwhile. A job runs on a background thread and returns a completion, which the main loop
// runs on its own thread: all of rank 0's state is touched by the main thread only.
class Background {
 public:
  using Completion = std::function<void()>;
  using Job = std::function<Completion()>;

  explicit Background(int threads);
  // Drops queued jobs and waits for the running ones.
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  void submit(Job job);
  // Runs the completions of finished jobs on the calling thread; true when there was any.
  bool run_completions();
  // Waits at most `timeout` for a job to finish.
  void wait(std::chrono::microseconds timeout) { done_.wait_for(timeout); }
  // Jobs submitted whose completion has not run yet.
  size_t outstanding() const { return outstanding_; }

 private:
  WorkQueue<Job> jobs_;
  WorkQueue<Completion> done_;
  std::atomic<size_t> outstanding_{0};
  std::vector<std::thread> threads_;
};

}  // namespace dips
