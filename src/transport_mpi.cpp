// Every MPI call of dips lives in this file.
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <sstream>
#include <set>
#include <string>
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
  std::vector<uint8_t> packed;  // the message in one buffer (a head alone moved in, parts copied and released)
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

// Starts sending head and parts as one message to `peer` of `comm` (worker `id`), in one contiguous
// buffer. Open MPI's shared-memory transport copies a contiguous message beyond its eager limit (4 kB) in
// one go, as soon as the receiver matches it (CMA). A derived datatype over the parts (no copy) goes
// through 4-32 kB fragments instead, each waiting for the next poll of one side or the other, and both
// sides sleep between polls while they wait: a 44 MB decoded image took 1.05 s that way against 0.1 s
// packed, and a result carrying two thumbnails (10-20 kB) 8 ms against 1 ms (124 photos, read_qr_code:
// 0.5 s of a 7.5 s job). The copy costs 0.1 ms per MB.
PendingSend start_send(MPI_Comm comm, int peer, int id, Tag tag, OutMessage message) {
  PendingSend send;
  send.peer = id;
  if (message.size() > static_cast<size_t>(INT_MAX)) {
    std::fprintf(stderr, "dips: internal error: a message of %zu bytes exceeds MPI's count limit; not sent\n", message.size());
    return send;
  }
  // A head alone is moved in; parts are copied after it and released (a worker's decoded image need not
  // live as long as the send).
  send.packed = message.parts.empty() ? std::move(message.head) : message.flatten();
  MPI_Isend(send.packed.data(), static_cast<int>(send.packed.size()), MPI_BYTE, peer, static_cast<int>(tag), comm, &send.request);
  return send;
}

// Starts receiving a probed message into a fresh buffer.
std::unique_ptr<PendingRecv> start_receive(MPI_Message* probed, const MPI_Status& status, int source) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  auto recv = std::make_unique<PendingRecv>();
  recv->message.source = source;
  recv->message.tag = static_cast<Tag>(status.MPI_TAG);
  recv->message.data->resize(static_cast<size_t>(count));
  MPI_Imrecv(recv->message.data->data(), count, MPI_BYTE, probed, &recv->request);
  return recv;
}

// Where messages come from: a communicator and the rank to probe there (MPI_ANY_SOURCE for all); `id`
// names the sender (-1: its rank in `comm` is its id).
struct Channel {
  MPI_Comm comm = MPI_COMM_NULL;
  int source = MPI_ANY_SOURCE;
  int id = -1;
};

// Receives from a set of channels: completed messages in the order they completed.
class Receiver {
 public:
  void listen(Channel channel) { channels_.push_back(channel); }
  // Stops probing the channel of this sender (a worker spawned alone: nothing else arrives there).
  void forget(int id) {
    channels_.erase(std::remove_if(channels_.begin(), channels_.end(), [id](const Channel& c) { return c.id == id; }), channels_.end());
  }
  // The next complete message; `ignore(source)` true drains and drops what comes from that source.
  template <typename Ignore>
  bool poll(Incoming* message, Ignore ignore) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (!complete(&(*it)->request)) continue;
      *message = std::move((*it)->message);
      pending_.erase(it);
      return true;
    }
    for (const Channel& channel : channels_) {
      while (true) {
        int found = 0;
        MPI_Message probed;
        MPI_Status status;
        MPI_Improbe(channel.source, MPI_ANY_TAG, channel.comm, &found, &probed, &status);
        if (!found) break;
        const int source = channel.id >= 0 ? channel.id : status.MPI_SOURCE;
        std::unique_ptr<PendingRecv> recv = start_receive(&probed, status, source);
        if (ignore(source)) {  // a late word from a worker declared dead: drained, ignored
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
    return false;
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
  std::vector<Channel> channels_;
  std::vector<std::unique_ptr<PendingRecv>> pending_, graveyard_;
};

// An Open MPI setting as mpirun passes it to its processes (--mca NAME VALUE), or "".
std::string mca_setting(const char* name) {
  const char* value = std::getenv((std::string("OMPI_MCA_") + name).c_str());
  return value == nullptr ? std::string() : std::string(value);
}

// Processes started by MPI_Comm_spawn reach rank 0 over TCP only: with a BTL list without tcp they
// abort ("Unreachable"), measured with Open MPI 4.1.4.
bool btl_allows_tcp() {
  const std::string btl = mca_setting("btl");
  if (btl.empty()) return true;
  const bool excluding = btl[0] == '^';
  std::stringstream list(excluding ? btl.substr(1) : btl);
  bool named = false;
  for (std::string item; std::getline(list, item, ',');) named |= item == "tcp";
  return excluding ? !named : named;
}

class MpiTransport : public Transport {
 public:
  MpiTransport(const MpiWorld& world, SpawnCommand command) : command_(std::move(command)), next_id_(world.size) {
    for (int rank = 1; rank < world.size; ++rank) {
      workers_.push_back(rank);
      peers_[rank] = Peer{MPI_COMM_WORLD, rank};
    }
    if (world.size > 1) receiver_.listen(Channel{MPI_COMM_WORLD, MPI_ANY_SOURCE, -1});
  }
  std::vector<int> workers() const override { return workers_; }

  void send(int worker, Tag tag, OutMessage message) override {
    auto peer = peers_.find(worker);
    if (peer == peers_.end() || abandoned_.count(worker) || retired_.count(worker)) return;
    sends_.push_back(start_send(peer->second.comm, peer->second.rank, worker, tag, std::move(message)));
  }

  bool poll(Incoming* message) override {
    for (auto it = sends_.begin(); it != sends_.end();) it = complete(&it->request) ? sends_.erase(it) : it + 1;
    return receiver_.poll(message, [this](int source) { return abandoned_.count(source) > 0; });
  }

  void abandon(int worker) override {
    drop(worker);
    // A spawned worker is rank 0 of its own job, which this PMIx handle does not name; only world ranks
    // can be killed through the runtime.
    if (peers_.count(worker) && peers_[worker].comm == MPI_COMM_WORLD) runtime_kill(worker);
  }

  bool survives_lost_workers() const override { return mca_setting("orte_enable_recovery") == "1"; }

  void retire(int worker) override {
    OutMessage stop;
    stop.head = {0};
    send(worker, Tag::kStop, std::move(stop));
    retired_.insert(worker);
    receiver_.forget(worker);
  }

  std::string spawn_refusal(const Place& place) const override {
    if (!btl_allows_tcp()) return "the BTL list (--mca btl " + mca_setting("btl") + ") lacks tcp, which started workers need to reach rank 0";
    const std::string tree = mca_setting("plm_rsh_no_tree_spawn");
    if (place.add_host && tree != "1" && tree != "true") {
      return "adding host " + place.host + " needs mpirun --mca plm_rsh_no_tree_spawn 1 (else a second added host never connects)";
    }
    return "";
  }

  std::string spawn_program() const override { return command_.program; }

  Status spawn(const Place& place, int* worker) override {
    const std::string refusal = spawn_refusal(place);
    if (!refusal.empty()) return Status::Error(refusal);
    const int id = next_id_;
    std::vector<std::string> args = command_.args;
    args.push_back("--worker-id");
    args.push_back(std::to_string(id));
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    MPI_Info info;
    MPI_Info_create(&info);
    // dips counts slots itself (placement.h): mpirun must not refuse a process for lack of them, since
    // a failed spawn leaves it unable to exit.
    MPI_Info_set(info, "map_by", "slot:OVERSUBSCRIBE");
    // mpirun's --bind-to none does not reach spawned jobs: a 1-process job is bound to core 0 otherwise
    // (measured), so every worker started on a machine would share one core.
    MPI_Info_set(info, "bind_to", "none");
    if (!place.host.empty()) MPI_Info_set(info, "host", place.host.c_str());
    if (place.add_host) MPI_Info_set(info, "add-host", (place.host + ":" + std::to_string(place.host_slots)).c_str());
    MPI_Comm inter = MPI_COMM_NULL;
    int error = MPI_SUCCESS;
    const int code = MPI_Comm_spawn(command_.program.c_str(), argv.data(), 1, info, 0, MPI_COMM_SELF, &inter, &error);
    MPI_Info_free(&info);
    if (code != MPI_SUCCESS || error != MPI_SUCCESS || inter == MPI_COMM_NULL) {
      return Status::Error("MPI_Comm_spawn failed on " + (place.host.empty() ? std::string("this machine") : place.host));
    }
    MPI_Comm_set_errhandler(inter, MPI_ERRORS_RETURN);
    ++next_id_;
    ++spawned_;
    peers_[id] = Peer{inter, 0};
    workers_.push_back(id);
    receiver_.listen(Channel{inter, 0, id});
    *worker = id;
    return Status();
  }

  bool shutdown(bool interrupted) override {
    if (shut_down_) return *shut_down_;
    const bool clean = abandoned_.empty() && spawned_ == 0 && !interrupted;
    shut_down_ = clean;
    for (int worker : workers_) {
      if (retired_.count(worker)) continue;
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
  struct Peer {
    MPI_Comm comm = MPI_COMM_NULL;
    int rank = 0;
  };

  // Nothing more to or from this worker. Requests to a dead process never complete and may still touch
  // their buffers: both are kept forever.
  void drop(int worker) {
    abandoned_.insert(worker);
    for (auto it = sends_.begin(); it != sends_.end();) {
      if (it->peer == worker) {
        graveyard_.push_back(std::move(*it));
        it = sends_.erase(it);
      } else {
        ++it;
      }
    }
    receiver_.bury(worker);
    receiver_.forget(worker);
  }

  SpawnCommand command_;
  int next_id_;
  int spawned_ = 0;
  std::vector<int> workers_;
  std::map<int, Peer> peers_;
  std::set<int> abandoned_, retired_;
  std::vector<PendingSend> sends_, graveyard_;
  Receiver receiver_;
  std::optional<bool> shut_down_;  // shutdown's answer, once the workers were told to stop
};

class MpiCoordinatorLink : public CoordinatorLink {
 public:
  explicit MpiCoordinatorLink(MPI_Comm comm) : comm_(comm) { receiver_.listen(Channel{comm, 0, 0}); }
  bool poll(Incoming* message) override {
    for (auto it = sends_.begin(); it != sends_.end();) it = complete(&it->request) ? sends_.erase(it) : it + 1;
    return receiver_.poll(message, [](int) { return false; });
  }
  void send(Tag tag, OutMessage message) override { sends_.push_back(start_send(comm_, 0, 0, tag, std::move(message))); }
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
  MPI_Comm comm_;
  std::deque<PendingSend> sends_;
  Receiver receiver_;
};

}  // namespace

MpiWorld mpi_start(int* argc, char*** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);  // spawns: a failure must come back, not abort
  MpiWorld world;
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  MPI_Comm parent = MPI_COMM_NULL;
  MPI_Comm_get_parent(&parent);
  world.spawned = parent != MPI_COMM_NULL;
  if (world.spawned) MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
  return world;
}

std::unique_ptr<Transport> make_mpi_transport(const MpiWorld& world, SpawnCommand command) {
  return std::make_unique<MpiTransport>(world, std::move(command));
}

std::unique_ptr<CoordinatorLink> make_mpi_coordinator_link(const MpiWorld& world) {
  MPI_Comm comm = MPI_COMM_WORLD;
  if (world.spawned) MPI_Comm_get_parent(&comm);
  return std::make_unique<MpiCoordinatorLink>(comm);
}

namespace {

// Whether mpirun lets a rank end without MPI_Finalize (dips-run asks it to: --mca
// orte_allowed_exit_without_sync 1, which mpirun passes on to the ranks as an environment variable).
bool exit_without_finalize_allowed() {
  const char* value = std::getenv("OMPI_MCA_orte_allowed_exit_without_sync");
  if (value == nullptr) return false;
  const std::string text = value;
  return text == "1" || text == "true" || text == "yes";
}

}  // namespace

void mpi_end(bool clean, int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  // MPI_Finalize is the slowest part of a job's end (an MPI program that does nothing else ended 0.06-0.09 s
  // sooner at 3 ranks without it, 0.25-0.35 s at 17). Where mpirun allows it, a clean end goes without it:
  // by now every message has been delivered (rank 0 has every result; the workers' stop has left) and every
  // file written is closed.
  if (clean && !exit_without_finalize_allowed()) {
    MPI_Finalize();
    return;
  }
  flush_coverage();
  ::_exit(code);
}

}  // namespace dips
