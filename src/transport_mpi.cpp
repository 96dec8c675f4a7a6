// Every MPI call of dips lives in this file.
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <deque>
#include <set>
#include <thread>

#include "dips/coverage.h"
#include "dips/transport.h"

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
  MPI_Request request = MPI_REQUEST_NULL;
  OutMessage message;  // its parts must outlive the request
  std::vector<uint8_t> packed;  // or the message in one buffer
  int peer = -1;
};

struct PendingRecv {
  MPI_Request request = MPI_REQUEST_NULL;
  Incoming message;
};

bool complete(MPI_Request* request) {
  int done = 0;
  MPI_Test(request, &done, MPI_STATUS_IGNORE);
  return done != 0;
}

constexpr size_t kPackFromBytes = size_t(1) << 20;

// Starts sending head and parts as one message: below kPackFromBytes without copying the parts (an
// hindexed datatype over their addresses), above it packed into one buffer.
PendingSend start_send(int peer, Tag tag, OutMessage message) {
  PendingSend send;
  send.peer = peer;
  send.message = std::move(message);
  const OutMessage& m = send.message;
  if (m.size() > static_cast<size_t>(INT_MAX)) {
    std::fprintf(stderr, "dips: internal error: a message of %zu bytes exceeds MPI's count limit; not sent\n", m.size());
    return send;
  }
  if (m.parts.empty()) {
    MPI_Isend(m.head.data(), static_cast<int>(m.head.size()), MPI_BYTE, peer, static_cast<int>(tag), MPI_COMM_WORLD, &send.request);
    return send;
  }
  // A large message goes out as one contiguous buffer: Open MPI's shared-memory transport copies a
  // contiguous message in one go (CMA), but pipes a derived datatype through 32 KB fragments, each
  // waiting for the receiver's next poll: a 44 MB decoded image took 1.05 s that way, 0.1 s packed.
  if (m.size() >= kPackFromBytes) {
    send.packed = m.flatten();
    MPI_Isend(send.packed.data(), static_cast<int>(send.packed.size()), MPI_BYTE, peer, static_cast<int>(tag), MPI_COMM_WORLD, &send.request);
    return send;
  }
  std::vector<int> lengths;
  std::vector<MPI_Aint> addresses;
  const auto add = [&](const void* data, size_t size) {
    if (size == 0) return;
    MPI_Aint address;
    MPI_Get_address(data, &address);
    lengths.push_back(static_cast<int>(size));
    addresses.push_back(address);
  };
  add(m.head.data(), m.head.size());
  for (const Bytes& part : m.parts) add(part.data, part.size);
  MPI_Datatype type;
  MPI_Type_create_hindexed(static_cast<int>(lengths.size()), lengths.data(), addresses.data(), MPI_BYTE, &type);
  MPI_Type_commit(&type);
  MPI_Isend(MPI_BOTTOM, 1, type, peer, static_cast<int>(tag), MPI_COMM_WORLD, &send.request);
  MPI_Type_free(&type);  // freed once the send no longer needs it
  return send;
}

// Starts receiving a probed message into a fresh buffer.
std::unique_ptr<PendingRecv> start_receive(MPI_Message* probed, const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  auto recv = std::make_unique<PendingRecv>();
  recv->message.source = status.MPI_SOURCE;
  recv->message.tag = static_cast<Tag>(status.MPI_TAG);
  recv->message.data->resize(static_cast<size_t>(count));
  MPI_Imrecv(recv->message.data->data(), count, MPI_BYTE, probed, &recv->request);
  return recv;
}

// Receives from `source` (MPI_ANY_SOURCE for all): completed messages in the order they completed.
class Receiver {
 public:
  explicit Receiver(int source) : source_(source) {}
  // The next complete message; `ignore(source)` true drains and drops what comes from that source.
  template <typename Ignore>
  bool poll(Incoming* message, Ignore ignore) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (!complete(&(*it)->request)) continue;
      *message = std::move((*it)->message);
      pending_.erase(it);
      return true;
    }
    while (true) {
      int found = 0;
      MPI_Message probed;
      MPI_Status status;
      MPI_Improbe(source_, MPI_ANY_TAG, MPI_COMM_WORLD, &found, &probed, &status);
      if (!found) return false;
      std::unique_ptr<PendingRecv> recv = start_receive(&probed, status);
      if (ignore(status.MPI_SOURCE)) {  // a late word from a rank declared dead: drained, ignored
        graveyard_.push_back(std::move(recv));
        continue;
      }
      if (complete(&recv->request)) {
        *message = std::move(recv->message);
        return true;
      }
      pending_.push_back(std::move(recv));
    }
  }
  // Requests from a dead rank may never complete and still write their buffers: kept forever.
  void bury(int source) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if ((*it)->message.source == source) {
        graveyard_.push_back(std::move(*it));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  int source_;
  std::vector<std::unique_ptr<PendingRecv>> pending_, graveyard_;
};

class MpiTransport : public Transport {
 public:
  explicit MpiTransport(const MpiWorld& world) {
    for (int rank = 1; rank < world.size; ++rank) workers_.push_back(rank);
  }
  std::vector<int> workers() const override { return workers_; }

  void send(int worker, Tag tag, OutMessage message) override {
    if (abandoned_.count(worker)) return;
    sends_.push_back(start_send(worker, tag, std::move(message)));
  }

  bool poll(Incoming* message) override {
    for (auto it = sends_.begin(); it != sends_.end();) it = complete(&it->request) ? sends_.erase(it) : it + 1;
    return receiver_.poll(message, [this](int source) { return abandoned_.count(source) > 0; });
  }

  void abandon(int worker) override {
    abandoned_.insert(worker);
    // Requests to a dead rank never complete and may still touch their buffers: keep both forever.
    for (auto it = sends_.begin(); it != sends_.end();) {
      if (it->peer == worker) {
        graveyard_.push_back(std::move(*it));
        it = sends_.erase(it);
      } else {
        ++it;
      }
    }
    receiver_.bury(worker);
    runtime_kill(worker);
  }

  bool shutdown(bool interrupted) override {
    const bool clean = abandoned_.empty() && !interrupted;
    for (int worker : workers_) {
      OutMessage stop;
      stop.head = {static_cast<uint8_t>(clean ? 1 : 0)};
      send(worker, Tag::kStop, std::move(stop));
    }
    // Give the stop messages a moment to leave; a worker that is gone by now is not waited for.
    const auto start = Clock::now();
    Incoming ignored;
    while (seconds_since(start) < 2.0) {
      bool pending = false;
      for (PendingSend& send : sends_) pending |= !complete(&send.request);
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
  std::vector<PendingSend> sends_, graveyard_;
  Receiver receiver_{MPI_ANY_SOURCE};
};

class MpiCoordinatorLink : public CoordinatorLink {
 public:
  bool poll(Incoming* message) override {
    for (auto it = sends_.begin(); it != sends_.end();) it = complete(&it->request) ? sends_.erase(it) : it + 1;
    return receiver_.poll(message, [](int) { return false; });
  }
  void send(Tag tag, OutMessage message) override { sends_.push_back(start_send(0, tag, std::move(message))); }
  bool flush(double timeout_s) override {
    const auto start = Clock::now();
    while (seconds_since(start) < timeout_s) {
      bool pending = false;
      for (PendingSend& send : sends_) pending |= !complete(&send.request);
      if (!pending) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

 private:
  std::deque<PendingSend> sends_;
  Receiver receiver_{0};
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

std::unique_ptr<CoordinatorLink> make_mpi_coordinator_link() { return std::make_unique<MpiCoordinatorLink>(); }

void mpi_end(bool clean, int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (clean) {
    MPI_Finalize();
    return;
  }
  flush_coverage();
  ::_exit(code);
}

}  // namespace dips
