// The per-task state machine of rank 0 (task_run.h), driven without MPI: every piece goes through the wire
// format and execute_item as on a worker, in orders a real job can produce (results out of order, a piece
// sent again after its worker died), and the output must equal the whole-image reference exactly.
#include <catch2/catch.hpp>
#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <random>

#include "dips/execute.h"
#include "dips/task_run.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

// What a worker does with a work item: the message round trip, then execute_item, then the reply's.
ResultItem work_on(const WorkItem& item) {
  auto sent = std::make_shared<std::vector<uint8_t>>(encode_work({item}).flatten());
  std::vector<WorkItem> received;
  REQUIRE(decode_work(sent, &received).ok());
  REQUIRE(received.size() == 1);
  ResultItem result = execute_item(received.front());
  auto reply = std::make_shared<std::vector<uint8_t>>(encode_result({result}).flatten());
  std::vector<ResultItem> back;
  REQUIRE(decode_result(reply, &back).ok());
  return back.front();
}

struct Outcome {
  Status status;
  cv::Mat image;  // the output, decoded
  std::vector<std::string> decoded;
  size_t pieces = 0;
  int width = 0, height = 0;  // what the task measured of its input
};

// Runs a task to its end. `shuffle` completes the ready pieces in a random order; `redo` computes every
// third piece a second time from the same item, as when it is sent again after its worker died.
Outcome drive(const Task& task, TaskIo io, TaskShape shape, unsigned shuffle, bool redo) {
  TaskRun run(task, io, shape);
  std::mt19937 random(shuffle);
  Outcome outcome;
  size_t count = 0;
  while (!run.done()) {
    auto ready = run.take_ready();
    REQUIRE(!ready.empty());
    if (shuffle) std::shuffle(ready.begin(), ready.end(), random);
    for (auto& [index, item] : ready) {
      ResultItem result = work_on(item);
      if (redo && ++count % 3 == 0) result = work_on(item);
      ++outcome.pieces;
      outcome.status = run.on_result(index, std::move(result));
      if (!outcome.status.ok()) return outcome;
    }
  }
  if (io.shared) {
    outcome.image = cv::imread(task.output.string(), cv::IMREAD_UNCHANGED);
  } else {
    const Bytes& bytes = run.output_bytes();
    outcome.image = cv::imdecode(std::vector<uint8_t>(bytes.data, bytes.data + bytes.size), cv::IMREAD_UNCHANGED);
  }
  outcome.decoded = run.decoded();
  outcome.width = run.width();
  outcome.height = run.height();
  CHECK(run.records().size() == outcome.pieces);
  return outcome;
}

}  // namespace

TEST_CASE("a task gives the whole-image result in every shape, order and file path", "[task_run]") {
  TempDir dir;
  const cv::Mat photo = photo_like(97, 61, 11);
  const fs::path input = dir / "in.png";
  REQUIRE(cv::imwrite(input.string(), photo));
  const cv::Mat qr = qr_image({"task", "run"}, 3);
  const fs::path qr_input = dir / "qr.png";
  REQUIRE(cv::imwrite(qr_input.string(), qr));
  const std::vector<std::string> pipelines = {"blur=5", "edge_detection", "grayscale,threshold", "equalize_histogram",
                                              "blur=3,edge_detection,dilate=3", "resize=40,blur=3", "blur=3,read_qr_code,erode=3",
                                              "dilate=3,find_contours", "equalize_histogram,edge_detection"};
  int case_number = 0;
  for (const std::string& text : pipelines) {
    for (int tile_rows : {0, 1, 7, 40}) {
      for (bool shared : {true, false}) {
        DYNAMIC_SECTION(text << ", tile rows " << tile_rows << (shared ? ", shared files" : ", bytes")) {
          const bool on_qr = text.find("qr") != std::string::npos;
          Task task;
          task.input = on_qr ? qr_input : input;
          REQUIRE(parse_pipeline(text, &task.pipeline).ok());
          task.output = dir / ("out" + std::to_string(case_number++) + ".png");
          TaskIo io;
          io.shared = shared;
          if (!shared) {
            std::vector<uint8_t> bytes;
            REQUIRE(cv::imencode(".png", on_qr ? qr : photo, bytes));
            io.file = Bytes::of(bytes);
          }
          io.max_pixels = 1 << 30;
          io.max_file_bytes = 1 << 30;
          TaskShape shape;
          shape.bands = tile_rows > 0;
          shape.tile_rows = tile_rows;
          std::vector<std::string> expected_decoded;
          const cv::Mat expected = reference_pipeline(text, on_qr ? qr : photo, &expected_decoded);
          for (unsigned shuffle : {0u, 5u}) {
            const Outcome outcome = drive(task, io, shape, shuffle, shuffle != 0);
            INFO("shuffle " << shuffle);
            INFO(outcome.status.message());
            REQUIRE(outcome.status.ok());
            CHECK(identical(outcome.image, expected));
            CHECK(outcome.decoded == expected_decoded);
            CHECK(outcome.width == (on_qr ? qr : photo).cols);
            CHECK(outcome.height == (on_qr ? qr : photo).rows);
            if (!shape.bands) CHECK(outcome.pieces == 1);
          }
        }
      }
    }
  }
}

TEST_CASE("a failing piece fails the task with the worker's message", "[task_run]") {
  TempDir dir;
  Task task;
  task.input = dir / "missing.png";
  REQUIRE(parse_pipeline("blur", &task.pipeline).ok());
  task.output = dir / "out.png";
  TaskIo io;
  io.max_pixels = 1 << 30;
  io.max_file_bytes = 1 << 30;
  for (bool bands : {false, true}) {
    TaskRun run(task, io, TaskShape{bands, 8});
    auto ready = run.take_ready();
    REQUIRE(ready.size() == 1);
    const Status status = run.on_result(ready[0].first, work_on(ready[0].second));
    REQUIRE_FALSE(status.ok());
    CHECK(status.message().find("missing.png") != std::string::npos);
    CHECK_FALSE(run.done());
  }
}

TEST_CASE("a band result that does not fit its stage fails the task", "[task_run]") {
  TempDir dir;
  Task task;
  task.input = dir / "in.png";
  REQUIRE(cv::imwrite(task.input.string(), photo_like(40, 30, 3)));
  REQUIRE(parse_pipeline("blur=3", &task.pipeline).ok());
  task.output = dir / "out.png";
  TaskIo io;
  io.max_pixels = 1 << 30;
  io.max_file_bytes = 1 << 30;
  TaskRun run(task, io, TaskShape{true, 10});
  auto ready = run.take_ready();
  REQUIRE(ready.size() == 1);  // the decode
  REQUIRE(run.on_result(ready[0].first, work_on(ready[0].second)).ok());
  ready = run.take_ready();
  REQUIRE(ready.size() == 4);  // the bands
  REQUIRE(run.on_result(ready[0].first, work_on(ready[0].second)).ok());
  ResultItem narrow = work_on(ready[1].second);
  narrow.pixels = narrow.pixels.colRange(0, narrow.pixels.cols - 1).clone();
  const Status status = run.on_result(ready[1].first, std::move(narrow));
  CHECK_FALSE(status.ok());
  CHECK(status.message().find("does not fit") != std::string::npos);
  CHECK_FALSE(run.done());
}
