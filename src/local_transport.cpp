// The transport of a single-rank run: the worker loop runs on a thread of this process and messages are
// buffers handed over through queues, so that a single rank exercises exactly the code of a real worker.
#include <optional>
#include <thread>

#include "dips/transport.h"
#include "dips/work_queue.h"
#include "dips/worker.h"

namespace dips {
namespace {

Incoming as_incoming(int source, Tag tag, const OutMessage& message) {
  Incoming incoming;
  incoming.source = source;
  incoming.tag = tag;
  *incoming.data = message.flatten();
  return incoming;
}

class LocalLink : public CoordinatorLink {
 public:
  LocalLink(WorkQueue<Incoming>& to_worker, WorkQueue<Incoming>& to_coordinator) : inbox_(to_worker), outbox_(to_coordinator) {}
  bool poll(Incoming* message) override {
    std::optional<Incoming> next = inbox_.try_pop();
    if (!next) return false;
    *message = std::move(*next);
    return true;
  }
  void send(Tag tag, OutMessage message) override { outbox_.push(as_incoming(0, tag, message)); }
  bool flush(double) override { return true; }

 private:
  WorkQueue<Incoming>& inbox_;
  WorkQueue<Incoming>& outbox_;
};

class LocalTransport : public Transport {
 public:
  explicit LocalTransport(int threads) : link_(to_worker_, to_coordinator_) {
    WorkerConfig config;
    config.threads = threads;
    config.exit_when_orphaned = false;
    thread_ = std::thread([this, config] { run_worker(link_, config); });
  }
  ~LocalTransport() override {
    shutdown(false);
    thread_.join();
  }
  std::vector<int> workers() const override { return {0}; }
  void send(int, Tag tag, OutMessage message) override { to_worker_.push(as_incoming(0, tag, message)); }
  bool poll(Incoming* message) override {
    std::optional<Incoming> next = to_coordinator_.try_pop();
    if (!next) return false;
    *message = std::move(*next);
    return true;
  }
  void abandon(int) override {}
  bool shutdown(bool interrupted) override {
    if (shut_down_) return *shut_down_;
    OutMessage stop;
    stop.head = {static_cast<uint8_t>(interrupted ? 0 : 1)};
    send(0, Tag::kStop, std::move(stop));
    shut_down_ = !interrupted;
    return *shut_down_;
  }

 private:
  WorkQueue<Incoming> to_worker_, to_coordinator_;
  LocalLink link_;
  std::thread thread_;
  std::optional<bool> shut_down_;  // shutdown's answer, once the worker was told to stop
};

}  // namespace

std::unique_ptr<Transport> make_local_transport(int threads) { return std::make_unique<LocalTransport>(threads); }

}  // namespace dips
