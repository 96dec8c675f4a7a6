#include "dips/worker.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "dips/image_io.h"
#include "dips/transport.h"

namespace dips {
namespace {

Status execute_file(const WorkMessage& work, ResultMessage* result) {
  cv::Mat image;
  Status status = decode_image(work.bytes, work.max_pixels, &image);
  if (!status.ok()) return status;
  result->width = image.cols;
  result->height = image.rows;
  OpResult output;
  status = run_pipeline_whole(image, work.steps, &output);
  if (!status.ok()) return status;
  result->decoded = std::move(output.decoded);
  return encode_image(output.image, work.output_ext, &result->bytes);
}

Status execute_band(const WorkMessage& work, ResultMessage* result) {
  const std::vector<Stage> stages = plan_stages(work.steps);
  if (stages.size() != 1) return Status::Error("band steps are not one stage");
  PieceOutput output;
  Status status = run_piece(stages.front(), work.rows, work.image, &output);
  if (!status.ok()) return status;
  result->image = std::move(output.pixels);
  result->histogram = std::move(output.histogram);
  result->decoded = std::move(output.decoded);
  return Status();
}

}  // namespace

ResultMessage execute_work(const WorkMessage& work) {
  const auto start = std::chrono::steady_clock::now();
  ResultMessage result;
  result.piece_id = work.piece_id;
  Status status;
  try {
    switch (work.kind) {
      case WorkKind::kFile: status = execute_file(work, &result); break;
      case WorkKind::kBand: status = execute_band(work, &result); break;
      case WorkKind::kEncode: status = encode_image(work.image, work.output_ext, &result.bytes); break;
    }
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: a task error, not a dead rank
    status = Status::Error(fmt::format("worker failed: {}", e.what()));
  }
  if (!status.ok()) {
    result = ResultMessage();
    result.piece_id = work.piece_id;
    result.error = status.message();
  }
  result.compute_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

// Rank 0's own worker thread, for runs with a single rank.
class LocalTransport : public Transport {
 public:
  LocalTransport() : thread_([this] { loop(); }) {}
  ~LocalTransport() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  std::vector<int> workers() const override { return {0}; }
  void send(int, Tag tag, Buffer data) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (tag == Tag::kPing) {
      outbox_.push_back(Incoming{0, Tag::kPong, *data});
      return;
    }
    if (tag == Tag::kWork) inbox_.push_back(std::move(data));
    wake_.notify_all();
  }
  bool poll(Incoming* message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (outbox_.empty()) return false;
    *message = std::move(outbox_.front());
    outbox_.pop_front();
    return true;
  }
  void abandon(int) override {}
  bool shutdown() override { return true; }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stopping_ || !inbox_.empty(); });
      if (stopping_) return;
      Buffer data = std::move(inbox_.front());
      inbox_.pop_front();
      lock.unlock();
      WorkMessage work;
      Incoming reply{0, Tag::kResult, {}};
      Status status = decode_work(data->data(), data->size(), &work);
      if (status.ok()) {
        reply.data = encode_result(execute_work(work));
      } else {
        reply.tag = Tag::kProtocolError;
        reply.data.assign(status.message().begin(), status.message().end());
      }
      lock.lock();
      outbox_.push_back(std::move(reply));
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Buffer> inbox_;
  std::deque<Incoming> outbox_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Transport> make_local_transport() { return std::make_unique<LocalTransport>(); }

}  // namespace dips
