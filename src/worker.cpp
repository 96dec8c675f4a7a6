#include "dips/worker.h"

#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <opencv2/core.hpp>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "dips/coverage.h"
#include "dips/execute.h"
#include "dips/fault.h"
#include "dips/temp_files.h"
#include "dips/work_queue.h"

namespace dips {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What a compute thread hands the main thread to send: a piece's result, or a decode piece's progress.
using Outgoing = std::variant<ResultItem, DecodeProgress>;

// The compute threads of a worker: pieces in, results and progress out; the main thread waits on them.
class ComputePool {
 public:
  explicit ComputePool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~ComputePool() {
    inbox_.close();
    for (std::thread& thread : threads_) thread.join();
  }
  void submit(WorkItem item, double delay_s) { inbox_.push(Job{std::move(item), delay_s, Clock::now()}); }
  std::vector<Outgoing> take_outgoing() { return outbox_.pop_all(); }
  // Pieces waiting for a thread.
  size_t queued() const { return inbox_.size(); }
  // No piece waiting or running.
  bool idle() const { return running_.load(std::memory_order_relaxed) == 0 && inbox_.size() == 0; }
  // Seconds the last piece done took.
  double last_piece_seconds() const { return last_piece_s_.load(std::memory_order_relaxed); }
  // Waits at most `timeout` for something to send.
  void wait(std::chrono::microseconds timeout) { outbox_.wait_for(timeout); }
  // Drops the pieces no thread has started (rank 0 is gone or said stop).
  void abandon_queued() { inbox_.pop_all(); }

 private:
  struct Job {
    WorkItem item;
    double delay_s;
    Clock::time_point arrived;
  };
  void loop() {
    while (std::optional<Job> job = inbox_.pop()) {
      running_.fetch_add(1, std::memory_order_relaxed);
      const double queue_ms = seconds_since(job->arrived) * 1000;
      if (job->delay_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(job->delay_s));
      ResultItem result = execute_item(job->item, [this](const DecodeProgress& progress) { outbox_.push(progress); });
      result.queue_ms = queue_ms;
      last_piece_s_.store(result.compute_ms / 1000, std::memory_order_relaxed);
      outbox_.push(std::move(result));
      running_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  WorkQueue<Job> inbox_;
  WorkQueue<Outgoing> outbox_;
  std::atomic<double> last_piece_s_{1e9};  // unknown: long
  std::atomic<int> running_{0};
  std::vector<std::thread> threads_;
};

HelloReply answer_hello(const Hello& hello, int threads) {
  HelloReply reply;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  reply.host = host;
  reply.pid = ::getpid();
  reply.threads = threads;
  reply.cpus = affinity_cpus();
  std::ifstream probe(hello.probe_path, std::ios::binary);
  std::string token((std::istreambuf_iterator<char>(probe)), {});
  bool sees = !hello.probe_path.empty() && token == hello.probe_token;
  if (sees && !hello.input_path.empty()) {
    struct stat info {};
    sees = ::stat(hello.input_path.c_str(), &info) == 0 && static_cast<uint64_t>(info.st_size) == hello.input_size;
  }
  reply.sees_files = sees;
  return reply;
}

OutMessage text_message(const std::string& text) {
  OutMessage message;
  message.head.assign(text.begin(), text.end());
  return message;
}

OutMessage bytes_message(std::vector<uint8_t> bytes) {
  OutMessage message;
  message.head = std::move(bytes);
  return message;
}

class Worker {
 public:
  Worker(CoordinatorLink& link, const WorkerConfig& config) : link_(link), config_(config), pool_(config.threads) {}

  bool run() {
    auto last_heard = Clock::now();
    auto backoff = kMinBackoff;
    while (true) {
      bool busy = false;
      Incoming message;
      while (link_.poll(&message)) {
        busy = true;
        last_heard = Clock::now();
        if (message.tag == Tag::kStop) return stop(message);
        handle(message);
      }
      const bool holding = holds_results();
      std::vector<Outgoing> outgoing = holding ? std::vector<Outgoing>() : pool_.take_outgoing();
      if (!outgoing.empty()) {
        busy = true;
        send_outgoing(std::move(outgoing));
        last_sent_ = Clock::now();
      }
      if (config_.exit_when_orphaned && seconds_since(last_heard) > config_.orphan_timeout) {
        std::fprintf(stderr, "dips: worker rank %d: nothing from rank 0 for %.0f s; it is gone, exiting\n", config_.id, config_.orphan_timeout);
        std::fflush(stderr);
        remove_own_temp_files();
        flush_coverage();
        ::_exit(3);
      }
      // Wakes at once when a result is ready (unless holding them); polls for messages more and more
      // lazily while idle, and more lazily still once it has had no piece for a while (a worker standing by,
      // or waiting for a job still being listed): 14 workers standing by on 2 cores, polling every 2 ms, would
      // wake 7,000 times a second on the cores of the 2 that work (at -n 17 the job took 1.77 s so, 1.68 s now).
      if (!pool_.idle()) last_work_ = Clock::now();
      const auto longest = seconds_since(last_work_) > kLongIdleSeconds ? kMaxIdleBackoff : kMaxBackoff;
      backoff = busy ? kMinBackoff : std::min(backoff * 2, longest);
      if (busy) continue;
      if (holding) {
        std::this_thread::sleep_until(last_sent_ + kHold);
      } else {
        pool_.wait(backoff);
      }
    }
  }

 private:
  static constexpr std::chrono::microseconds kMinBackoff{50}, kMaxBackoff{2000}, kMaxIdleBackoff{20000};
  static constexpr double kLongIdleSeconds = 0.25;
  static constexpr auto kHold = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kResultHoldSeconds));

  bool holds_results() const {
    return dips::holds_results(seconds_since(last_sent_), pool_.queued(), pool_.last_piece_seconds());
  }

  void handle(const Incoming& message) {
    switch (message.tag) {
      case Tag::kPing:
        link_.send(Tag::kPong, bytes_message(*message.data));
        return;
      case Tag::kHello: {
        last_work_ = Clock::now();  // pieces follow the greeting: poll for them briskly
        Hello hello;
        Status status = decode_hello(*message.data, &hello);
        if (!status.ok()) return link_.send(Tag::kProtocolError, text_message(status.message()));
        link_.send(Tag::kHelloReply, bytes_message(encode_hello_reply(answer_hello(hello, config_.threads))));
        return;
      }
      case Tag::kWork:
        return accept_work(message);
      case Tag::kFault:
        return arm(std::string(message.data->begin(), message.data->end()));
      default:
        link_.send(Tag::kProtocolError, text_message("unexpected tag " + std::to_string(static_cast<int>(message.tag))));
    }
  }

  void accept_work(const Incoming& message) {
    // An armed fault strikes now, while this worker holds the pieces of this message: a death strands
    // them, so that the coordinator must notice it, whatever the timing of the rest of the job.
    const std::string fault = std::exchange(armed_fault_, std::string());
    const bool later = fault == "killdone" || fault == "killprogress";
    if (!fault.empty() && !later) inject_fault(config_.id, fault);  // slow returns: its pieces are delayed below
    std::vector<WorkItem> items;
    Status status = decode_work(message.data, &items);
    if (status.ok()) {
      for (WorkItem& item : items) {
        if (fault == "killdone") kill_when_done_.insert(item.piece_id);
        if (fault == "killprogress") kill_on_progress_.insert(item.piece_id);
        pool_.submit(std::move(item), fault == "slow" ? kSlowFaultSeconds : 0.0);
      }
      return;
    }
    // Fail exactly the pieces the message names, so that none stays in flight forever.
    std::vector<ResultItem> failed;
    for (uint64_t id : readable_piece_ids(*message.data)) {
      ResultItem result;
      result.piece_id = id;
      result.error = "worker received a malformed work message: " + status.message();
      failed.push_back(std::move(result));
    }
    if (failed.empty()) return link_.send(Tag::kProtocolError, text_message(status.message()));
    send_results(std::move(failed));
  }

  // Progress goes at once, in its own message; the results together, after it.
  void send_outgoing(std::vector<Outgoing> outgoing) {
    std::vector<ResultItem> results;
    for (Outgoing& each : outgoing) {
      if (auto* progress = std::get_if<DecodeProgress>(&each)) {
        link_.send(Tag::kProgress, bytes_message(encode_progress(*progress)));
        const bool half_written = progress->rows * 2 >= progress->height;
        if (half_written && kill_on_progress_.count(progress->piece_id) != 0) {  // its report goes out before the death
          link_.flush(2.0);
          inject_fault(config_.id, "killprogress");
        }
      } else {
        results.push_back(std::move(std::get<ResultItem>(each)));
      }
    }
    if (results.empty()) return;
    if (kill_when_done_armed(results)) inject_fault(config_.id, "killdone");
    send_results(std::move(results));
  }

  void send_results(std::vector<ResultItem> results) {
    OutMessage message = encode_result(results);
    if (garble_next_) {  // the injected fault: an unknown tag, then a result cut in half
      garble_next_ = false;
      link_.send(static_cast<Tag>(99), bytes_message(std::vector<uint8_t>(3, 0xEE)));
      std::vector<uint8_t> torn = message.flatten();
      torn.resize(torn.size() / 2);
      return link_.send(Tag::kResult, bytes_message(std::move(torn)));
    }
    link_.send(Tag::kResult, std::move(message));
  }

  bool kill_when_done_armed(const std::vector<ResultItem>& results) const {
    for (const ResultItem& result : results) {
      if (kill_when_done_.count(result.piece_id) != 0) return true;
    }
    return false;
  }

  // A fault strikes at the next work message (garble: the next results; killdone: once one of its
  // pieces is done).
  void arm(const std::string& kind) {
    if (kind == "garble") {
      inject_fault(config_.id, kind);
      garble_next_ = true;
      return;
    }
    armed_fault_ = kind;
  }

  bool stop(const Incoming& message) {
    const bool clean = !message.data->empty() && (*message.data)[0] == 1;
    pool_.abandon_queued();
    if (!clean) remove_own_temp_files();  // this process exits without waiting for its compute threads
    link_.flush(2.0);
    return clean;
  }

  CoordinatorLink& link_;
  WorkerConfig config_;
  ComputePool pool_;
  Clock::time_point last_sent_;  // when results last went to rank 0
  Clock::time_point last_work_ = Clock::now();  // when it last held a piece, or was greeted for a job
  std::string armed_fault_;
  std::set<uint64_t> kill_when_done_;  // the pieces of a message armed with killdone
  std::set<uint64_t> kill_on_progress_;  // the pieces of a message armed with killprogress
  bool garble_next_ = false;
};

}  // namespace

std::vector<int> affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// Sent as each was done, thumbnails of 0.15 ms went one or two to a message whenever the main thread was
// woken at once for each, and rank 0 answered each with a message of one or two files; the messages then
// took the compute threads' cores. A job started on a machine that had been idle stayed in that mode to its
// end: 20,000 thumbnails took 2.9-4.1 s instead of 1.6-2.0 (docs/benchmarks.md). A band, a photo, a
// decode's progress still go at once.
bool holds_results(double since_last_send_s, size_t queued_pieces, double last_piece_s) {
  constexpr double kCover = 8;
  return since_last_send_s < kResultHoldSeconds && last_piece_s < kResultHoldSeconds &&
         static_cast<double>(queued_pieces) * last_piece_s >= kCover * kResultHoldSeconds;
}

bool run_worker(CoordinatorLink& link, const WorkerConfig& config) {
  cv::setNumThreads(1);  // one OpenCV thread per compute thread: ranks and threads are the parallelism
  auto worker = std::make_unique<Worker>(link, config);
  const bool clean = worker->run();
  // After an unclean stop the process exits at once (mpi_end): a compute thread may be in the middle of
  // a long piece nobody wants any more, so it is not joined.
  if (!clean) worker.release();
  return clean;
}

}  // namespace dips
