// Every MPI call of dips lives in this file.
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <opencv2/core.hpp>
#include <set>
#include <thread>

#include "dips/fault.h"
#include "dips/transport.h"
#include "dips/worker.h"

#ifdef DIPS_HAVE_PMIX
#include <pmix.h>
#endif

namespace dips {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

#ifdef DIPS_HAVE_PMIX
void on_job_control(pmix_status_t, pmix_info_t*, size_t, void*, pmix_release_cbfunc_t release, void* release_data) {
  if (release != nullptr) release(release_data);
}

// Asks the runtime (the PMIx server in mpirun's daemon) to kill a rank: the only way to end a stopped
// or spinning process so that mpirun can exit; measured to work with Open MPI 4.1.4 here.
void runtime_kill(int rank) {
  static bool ready = false;
  static pmix_proc_t self;
  if (!ready) {
    if (PMIx_Init(&self, nullptr, 0) != PMIX_SUCCESS) return;
    ready = true;
  }
  pmix_proc_t target;
  PMIX_PROC_CONSTRUCT(&target);
  PMIX_LOAD_PROCID(&target, self.nspace, static_cast<pmix_rank_t>(rank));
  pmix_info_t* directive;
  PMIX_INFO_CREATE(directive, 1);
  bool kill = true;
  PMIX_INFO_LOAD(&directive[0], PMIX_JOB_CTRL_KILL, &kill, PMIX_BOOL);
  // The directive and target stay allocated: the request is asynchronous and this happens rarely.
  static std::deque<pmix_proc_t> targets;
  targets.push_back(target);
  PMIx_Job_control_nb(&targets.back(), 1, directive, 1, on_job_control, nullptr);
}
#else
void runtime_kill(int) {}
#endif

struct PendingSend {
  MPI_Request request;
  Buffer data;
  int peer;
};

struct PendingRecv {
  MPI_Request request;
  Incoming message;
};

bool send_complete(PendingSend& send) {
  int done = 0;
  MPI_Test(&send.request, &done, MPI_STATUS_IGNORE);
  return done != 0;
}

// Starts receiving a probed message into a fresh buffer.
std::unique_ptr<PendingRecv> start_receive(MPI_Message* probed, const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  auto recv = std::make_unique<PendingRecv>();
  recv->message.source = status.MPI_SOURCE;
  recv->message.tag = static_cast<Tag>(status.MPI_TAG);
  recv->message.data.resize(static_cast<size_t>(count));
  MPI_Imrecv(recv->message.data.data(), count, MPI_BYTE, probed, &recv->request);
  return recv;
}

bool receive_complete(PendingRecv& recv) {
  int done = 0;
  MPI_Test(&recv.request, &done, MPI_STATUS_IGNORE);
  return done != 0;
}

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(const MpiWorld& world) {
    for (int rank = 1; rank < world.size; ++rank) workers_.push_back(rank);
  }
  std::vector<int> workers() const override { return workers_; }

  void send(int worker, Tag tag, Buffer data) override {
    if (abandoned_.count(worker)) return;
    PendingSend send{MPI_REQUEST_NULL, std::move(data), worker};
    if (send.data->size() > static_cast<size_t>(INT_MAX)) {
      std::fprintf(stderr, "dips: internal error: message of %zu bytes exceeds MPI's count limit\n", send.data->size());
      return;
    }
    MPI_Isend(send.data->data(), static_cast<int>(send.data->size()), MPI_BYTE, worker, static_cast<int>(tag), MPI_COMM_WORLD,
              &send.request);
    sends_.push_back(std::move(send));
  }

  bool poll(Incoming* message) override {
    for (auto it = sends_.begin(); it != sends_.end();) it = send_complete(*it) ? sends_.erase(it) : it + 1;
    for (auto it = receives_.begin(); it != receives_.end(); ++it) {
      if (!receive_complete(**it)) continue;
      *message = std::move((*it)->message);
      receives_.erase(it);
      return true;
    }
    while (true) {
      int found = 0;
      MPI_Message probed;
      MPI_Status status;
      MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &found, &probed, &status);
      if (!found) return false;
      std::unique_ptr<PendingRecv> recv = start_receive(&probed, status);
      if (abandoned_.count(status.MPI_SOURCE)) {  // a late word from a rank declared dead: drained, ignored
        graveyard_receives_.push_back(std::move(recv));
        continue;
      }
      if (receive_complete(*recv)) {
        *message = std::move(recv->message);
        return true;
      }
      receives_.push_back(std::move(recv));
    }
  }

  void abandon(int worker) override {
    abandoned_.insert(worker);
    // Requests to a dead rank never complete and may still touch their buffers: keep both forever.
    for (auto it = sends_.begin(); it != sends_.end();) {
      if (it->peer == worker) {
        graveyard_sends_.push_back(std::move(*it));
        it = sends_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = receives_.begin(); it != receives_.end();) {
      if ((*it)->message.source == worker) {
        graveyard_receives_.push_back(std::move(*it));
        it = receives_.erase(it);
      } else {
        ++it;
      }
    }
    runtime_kill(worker);
  }

  bool shutdown() override {
    const bool clean = abandoned_.empty();
    auto flag = std::make_shared<const std::vector<uint8_t>>(1, clean ? 1 : 0);
    for (int worker : workers_) send(worker, Tag::kStop, flag);
    // Give the stop messages a moment to leave; a worker that is gone by now is not waited for.
    const auto start = Clock::now();
    Incoming ignored;
    while (seconds_since(start) < 2.0) {
      bool pending = false;
      for (PendingSend& send : sends_) pending |= !send_complete(send);
      if (!pending) break;
      while (poll(&ignored)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return clean;
  }

 private:
  std::vector<int> workers_;
  std::set<int> abandoned_;
  std::vector<PendingSend> sends_;
  std::vector<std::unique_ptr<PendingRecv>> receives_;
  std::vector<PendingSend> graveyard_sends_;
  std::vector<std::unique_ptr<PendingRecv>> graveyard_receives_;
};

// The worker's compute thread: pieces in, results out.
class ComputeThread {
 public:
  ComputeThread() : thread_([this] { loop(); }) {}
  ~ComputeThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void push(WorkMessage work, double delay_s) {
    std::lock_guard<std::mutex> lock(mutex_);
    inbox_.push_back({std::move(work), delay_s});
    wake_.notify_all();
  }
  bool pop(ResultMessage* result) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (outbox_.empty()) return false;
    *result = std::move(outbox_.front());
    outbox_.pop_front();
    return true;
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !inbox_.empty(); });
      if (stopping_) return;
      auto [work, delay_s] = std::move(inbox_.front());
      inbox_.pop_front();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::duration<double>(delay_s));
      ResultMessage result = execute_work(work);
      lock.lock();
      outbox_.push_back(std::move(result));
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<WorkMessage, double>> inbox_;
  std::deque<ResultMessage> outbox_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

MpiWorld mpi_start(int* argc, char*** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MpiWorld world;
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  return world;
}

std::unique_ptr<Transport> make_mpi_transport(const MpiWorld& world) { return std::make_unique<MpiTransport>(world); }

bool run_mpi_worker(int rank, double orphan_timeout_s) {
  cv::setNumThreads(1);  // one compute thread per rank: ranks are the parallelism
  const FaultPlan fault = fault_plan_for_rank(rank);
  int fault_count = 0;
  ComputeThread compute;
  std::vector<PendingSend> sends;
  const auto send = [&](Tag tag, std::vector<uint8_t> data) {
    PendingSend pending{MPI_REQUEST_NULL, std::make_shared<const std::vector<uint8_t>>(std::move(data)), 0};
    MPI_Isend(pending.data->data(), static_cast<int>(pending.data->size()), MPI_BYTE, 0, static_cast<int>(tag), MPI_COMM_WORLD,
              &pending.request);
    sends.push_back(std::move(pending));
  };
  auto last_heard = Clock::now();
  int idle_rounds = 0;
  while (true) {
    bool busy = false;
    int found = 0;
    MPI_Message probed;
    MPI_Status status;
    MPI_Improbe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &found, &probed, &status);
    if (found) {
      busy = true;
      std::unique_ptr<PendingRecv> recv = start_receive(&probed, status);
      while (!receive_complete(*recv)) {
        if (seconds_since(last_heard) > orphan_timeout_s) {
          std::fprintf(stderr, "dips: worker rank %d: rank 0 stopped sending mid-message; exiting\n", rank);
          ::_exit(3);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      last_heard = Clock::now();
      Incoming& message = recv->message;
      switch (message.tag) {
        case Tag::kPing:
          send(Tag::kPong, std::move(message.data));
          break;
        case Tag::kWork: {
          const FaultAction action = fault_tick(fault, &fault_count);
          const double delay_s = action == FaultAction::kSlow ? kSlowFaultSeconds : 0.0;
          WorkMessage work;
          Status decoded = decode_work(message.data.data(), message.data.size(), &work);
          if (action == FaultAction::kGarble) {
            send(static_cast<Tag>(99), std::vector<uint8_t>(3, 0xEE));
            std::vector<uint8_t> torn = encode_result(execute_work(work));
            torn.resize(torn.size() / 2);
            send(Tag::kResult, std::move(torn));
          } else if (decoded.ok()) {
            compute.push(std::move(work), delay_s);
          } else if (message.data.size() >= 12) {  // the piece id is readable: fail just that piece
            ResultMessage result;
            std::memcpy(&result.piece_id, message.data.data() + 4, sizeof(result.piece_id));
            result.error = "worker received a malformed work message: " + decoded.message();
            send(Tag::kResult, encode_result(result));
          } else {
            send(Tag::kProtocolError, std::vector<uint8_t>(decoded.message().begin(), decoded.message().end()));
          }
          break;
        }
        case Tag::kStop: {
          const bool clean = !message.data.empty() && message.data[0] == 1;
          const auto start = Clock::now();
          for (PendingSend& pending : sends) {
            while (!send_complete(pending) && seconds_since(start) < 2.0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          return clean;
        }
        default: {
          const std::string text = "unexpected tag " + std::to_string(static_cast<int>(message.tag));
          send(Tag::kProtocolError, std::vector<uint8_t>(text.begin(), text.end()));
        }
      }
    }
    ResultMessage result;
    while (compute.pop(&result)) {
      busy = true;
      send(Tag::kResult, encode_result(result));
    }
    for (auto it = sends.begin(); it != sends.end();) it = send_complete(*it) ? sends.erase(it) : it + 1;
    if (seconds_since(last_heard) > orphan_timeout_s) {
      std::fprintf(stderr, "dips: worker rank %d: nothing from rank 0 for %.0f s; it is gone, exiting\n", rank, orphan_timeout_s);
      std::fflush(stderr);
      ::_exit(3);
    }
    // Poll fast while work flows, then back off so an idle worker costs next to no CPU.
    idle_rounds = busy ? 0 : idle_rounds + 1;
    if (!busy) std::this_thread::sleep_for(std::chrono::microseconds(idle_rounds < 100 ? 200 : 2000));
  }
}

void mpi_end(bool clean, int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (clean) {
    MPI_Finalize();
    return;
  }
  ::_exit(code);
}

}  // namespace dips
