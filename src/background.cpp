#include "dips/background.h"

namespace dips {

Background::Background(int threads) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      while (std::optional<Job> job = jobs_.pop()) done_.push((*job)());
    });
  }
}

Background::~Background() {
  jobs_.pop_all();
  jobs_.close();
  for (std::thread& thread : threads_) thread.join();
}

void Background::submit(Job job) {
  ++outstanding_;
  jobs_.push(std::move(job));
}

bool Background::run_completions() {
  std::vector<Completion> completions = done_.pop_all();
  for (Completion& completion : completions) {
    --outstanding_;
    completion();
  }
  return !completions.empty();
}

}  // namespace dips
