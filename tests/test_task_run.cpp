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

// What a worker does with a work item: the message round trip, then execute_item (its progress reports
// through their own round trip to `report`), then the reply's.
ResultItem work_on(const WorkItem& item, const ProgressReport& report = {}) {
  auto sent = std::make_shared<std::vector<uint8_t>>(encode_work({item}).flatten());
  std::vector<WorkItem> received;
  REQUIRE(decode_work(sent, &received).ok());
  REQUIRE(received.size() == 1);
  const ProgressReport relay = [&report](const DecodeProgress& progress) {
    DecodeProgress back;
    REQUIRE(decode_progress(encode_progress(progress), &back).ok());
    report(back);
  };
  ResultItem result = execute_item(received.front(), report ? relay : ProgressReport());
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
  bool bands_from_file = false;  // some band decoded its own rows from the file
  bool bands_from_pixel_file = false;  // some band read its rows from the pixel file
  bool bands_encoded = false;    // some band was encoded by a worker as its part of the output
  size_t progress_reports = 0;   // from decode pieces
  size_t bands_while_decoding = 0;  // bands done from a pixel file the decode piece was still writing
};

// How drive() runs the pieces.
struct Driving {
  unsigned shuffle = 0;  // completes the ready pieces in a random order
  bool redo = false;     // computes every third piece a second time from the same item, as when it is sent
                         // again after its worker died
  bool stream = false;   // passes a decode piece's progress to the run as it comes, and does the bands it
                         // makes ready at once, from the pixel file the decode piece is still writing
};

// Runs a task to its end.
Outcome drive(const Task& task, TaskIo io, TaskShape shape, Driving how) {
  TaskRun run(task, io, shape);
  std::mt19937 random(how.shuffle);
  Outcome outcome;
  size_t count = 0;
  std::function<void(size_t, WorkItem&)> complete;
  const auto complete_ready = [&] {
    auto ready = run.take_ready();
    if (how.shuffle) std::shuffle(ready.begin(), ready.end(), random);
    for (auto& [index, item] : ready) {
      if (outcome.status.ok()) complete(index, item);
    }
  };
  complete = [&](size_t index, WorkItem& item) {
    outcome.bands_from_file |= item.band && (item.source == Source::kPath || item.source == Source::kFile);
    outcome.bands_from_pixel_file |= item.band && item.source == Source::kPixelFile;
    outcome.bands_encoded |= item.sink == Sink::kBand;
    bool decoding = true;
    const ProgressReport report = [&, index](const DecodeProgress& progress) {
      ++outcome.progress_reports;
      if (!outcome.status.ok()) return;  // a band done here failed: that is the outcome
      outcome.status = run.on_progress(index, progress);
      const size_t before = outcome.pieces;
      if (outcome.status.ok() && decoding) complete_ready();
      outcome.bands_while_decoding += outcome.pieces - before;
    };
    ResultItem result = work_on(item, how.stream ? report : ProgressReport());
    if (how.redo && ++count % 3 == 0) result = work_on(item, how.stream ? report : ProgressReport());
    decoding = false;
    ++outcome.pieces;
    if (outcome.status.ok()) outcome.status = run.on_result(index, std::move(result));
  };
  while (!run.done() && outcome.status.ok()) {
    const size_t before = outcome.pieces;
    complete_ready();
    if (outcome.status.ok()) REQUIRE(outcome.pieces > before);
  }
  if (!outcome.status.ok()) return outcome;
  if (run.output().empty()) {  // a worker wrote it
    REQUIRE(io.shared);
    outcome.image = cv::imread(task.output, cv::IMREAD_UNCHANGED);
  } else {  // rank 0 writes what the run holds: encoded bytes, or parts encoded in bands
    std::vector<uint8_t> file;
    for (const ByteRange& part : run.output()) file.insert(file.end(), part.data, part.data + part.size);
    outcome.image = cv::imdecode(file, cv::IMREAD_UNCHANGED);
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
      for (const std::string mode : {"shared files", "shared files and a pixel file", "bytes"}) {
        const bool shared = mode != "bytes";
        DYNAMIC_SECTION(text << ", tile rows " << tile_rows << ", " << mode) {
          const bool on_qr = text.find("qr") != std::string::npos;
          Task task;
          task.input = on_qr ? qr_input : input;
          REQUIRE(parse_pipeline(text, &task.pipeline).ok());
          task.output = dir / ("out" + std::to_string(case_number++) + ".png");
          TaskIo io;
          io.shared = shared;
          if (mode == "shared files and a pixel file") io.pixel_file = (dir / (".dips-tmp-pixels" + std::to_string(case_number))).string();
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
          for (const Driving how : {Driving{0, false, false}, Driving{5, true, false}, Driving{7, true, true}}) {
            TaskIo run_io = io;  // a pixel file of its own, as rank 0 makes one per task
            if (!io.pixel_file.empty()) run_io.pixel_file += "-" + std::to_string(how.shuffle);
            const Outcome outcome = drive(task, run_io, shape, how);
            INFO("shuffle " << how.shuffle << ", stream " << how.stream);
            INFO(outcome.status.message());
            REQUIRE(outcome.status.ok());
            CHECK(identical(outcome.image, expected));
            CHECK(outcome.decoded == expected_decoded);
            CHECK(outcome.width == (on_qr ? qr : photo).cols);
            CHECK(outcome.height == (on_qr ? qr : photo).rows);
            if (!shape.bands) CHECK(outcome.pieces == 1);
            // A band of the first stage reads the decoded image from the pixel file, if there is one (a
            // whole-image first stage runs in the decoding piece itself).
            const bool band_first = shape.bands && plan_stages(task.pipeline).front().kind != Tiling::kWholeImage;
            CHECK(outcome.bands_from_pixel_file == (band_first && !io.pixel_file.empty()));
            // A PNG's decode piece reports its rows as it writes them; bands of the first rows are done
            // before it is (its image's 61 rows: a report every 1, bands of 1 and 7 rows plus halo).
            const bool streams = how.stream && band_first && !io.pixel_file.empty();
            CHECK((outcome.progress_reports > 0) == streams);
            if (streams && tile_rows <= 7) CHECK(outcome.bands_while_decoding > 0);
          }
        }
      }
    }
  }
}

// What a user of OpenCV alone would get in the file: the reference pipeline's image, encoded, decoded.
cv::Mat as_written(const cv::Mat& image, const std::string& ext) {
  std::vector<uint8_t> bytes;
  REQUIRE(cv::imencode(ext, image, bytes));
  return cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
}

TEST_CASE("bands decoded from a JPEG's rows and encoded by the workers as parts of the output", "[task_run]") {
  // A JPEG input: the decode piece only probes it, each band decodes its own rows (or, where the bands are
  // too many for that, rows_from_file false, the decode piece decodes it for all of them); JPEG and PNG
  // outputs: the last bands (or, after a finish, bands of the final image) are encoded by the workers and
  // assembled on rank 0 without touching pixels. Sizes that are not multiples of a JPEG MCU.
  TempDir dir;
  const cv::Mat photo = photo_like(203, 77, 21);
  const fs::path input = dir / "in.jpg";
  REQUIRE(cv::imwrite(input.string(), photo));
  const cv::Mat decoded_input = cv::imread(input.string(), cv::IMREAD_COLOR);
  int case_number = 0;
  for (const std::string ext : {".jpg", ".png"}) {
    for (const std::string text : {"blur=5", "grayscale,threshold", "edge_detection", "equalize_histogram,blur=3", "dilate=3,read_qr_code"}) {
      for (int tile_rows : {1, 16, 40, 150}) {
        for (bool shared : {true, false}) {
          const bool own_rows = tile_rows != 16;
          DYNAMIC_SECTION(text << " to " << ext << ", tile rows " << tile_rows << (shared ? ", shared files" : ", bytes")
                               << (own_rows ? "" : ", decoded once")) {
            Task task;
            task.input = input;
            REQUIRE(parse_pipeline(text, &task.pipeline).ok());
            task.output = dir / ("band" + std::to_string(case_number++) + ext);
            TaskIo io;
            io.shared = shared;
            if (!shared) {
              const std::string text_bytes = read_text(input);
              io.file = Bytes::of(std::vector<uint8_t>(text_bytes.begin(), text_bytes.end()));
            }
            io.max_pixels = 1 << 30;
            io.max_file_bytes = 1 << 30;
            if (shared && !own_rows) io.pixel_file = (dir / ("pixels" + std::to_string(case_number))).string();
            std::vector<std::string> expected_decoded;
            const cv::Mat expected = as_written(reference_pipeline(text, decoded_input, &expected_decoded), ext);
            for (unsigned shuffle : {0u, 9u}) {
              const Outcome outcome = drive(task, io, TaskShape{true, tile_rows, own_rows}, Driving{shuffle, shuffle != 0, false});
              INFO("shuffle " << shuffle << ": " << outcome.status.message());
              REQUIRE(outcome.status.ok());
              CHECK(identical(outcome.image, expected));
              CHECK(outcome.decoded == expected_decoded);
              CHECK(outcome.bands_from_file == own_rows);  // a JPEG without rotation: no worker decoded it whole
              CHECK(outcome.bands_from_pixel_file == (shared && !own_rows));
              CHECK(outcome.bands_encoded == (text != "dilate=3,read_qr_code"));  // a whole-image last stage writes it whole
            }
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
  REQUIRE(cv::imwrite(task.input, photo_like(40, 30, 3)));
  // A Canny stage: its bands come back as pixels to stitch (a last stage of local steps would be encoded).
  REQUIRE(parse_pipeline("blur=3,edge_detection", &task.pipeline).ok());
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

TEST_CASE("a result the task cannot use fails it with a message, and does not count", "[task_run]") {
  // The scheduler passes each piece's result once; these are the results a broken or confused worker could
  // still send: a decode without its image, an encoded band without its description, a band's result twice.
  TempDir dir;
  const cv::Mat photo = photo_like(40, 30, 7);
  Task task;
  REQUIRE(parse_pipeline("blur=3", &task.pipeline).ok());
  TaskIo io;
  io.max_pixels = 1 << 30;
  io.max_file_bytes = 1 << 30;
  SECTION("a decode piece that returns no image") {
    task.input = dir / "in.png";
    REQUIRE(cv::imwrite(task.input, photo));
    task.output = dir / "out.png";
    TaskRun run(task, io, TaskShape{true, 10});
    auto ready = run.take_ready();
    REQUIRE(ready.size() == 1);
    ResultItem result = work_on(ready[0].second);
    REQUIRE_FALSE(result.cheap_rows);
    result.pixels.release();
    const Status status = run.on_result(ready[0].first, std::move(result));
    CHECK_THAT(status.message(), Catch::Contains("a decode piece returned no image"));
    CHECK(run.take_ready().empty());
  }
  task.input = dir / "in.jpg";
  REQUIRE(cv::imwrite(task.input, photo));
  task.output = dir / "out.jpg";
  TaskRun run(task, io, TaskShape{true, 16});
  auto ready = run.take_ready();
  REQUIRE(ready.size() == 1);  // the probe
  REQUIRE(run.on_result(ready[0].first, work_on(ready[0].second)).ok());
  ready = run.take_ready();
  REQUIRE(ready.size() == 3);  // bands of 16 rows, encoded by the workers
  REQUIRE(ready[0].second.sink == Sink::kBand);
  SECTION("an encoded band without its description") {
    ResultItem result = work_on(ready[0].second);
    result.band = EncodedBand();
    const Status status = run.on_result(ready[0].first, std::move(result));
    CHECK_THAT(status.message(), Catch::Contains("an encoded band without its description"));
  }
  SECTION("the same encoded band twice") {
    REQUIRE(run.on_result(ready[0].first, work_on(ready[0].second)).ok());
    REQUIRE(run.on_result(ready[1].first, work_on(ready[1].second)).ok());
    const Status status = run.on_result(ready[1].first, work_on(ready[1].second));
    CHECK_THAT(status.message(), Catch::Contains("an encoded band for no band"));
    CHECK_FALSE(run.done());
  }
  CHECK_FALSE(run.done());
  CHECK(run.output().empty());
}
