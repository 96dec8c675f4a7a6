#include "dips/execute.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "dips/codec.h"
#include "dips/image_io.h"
#include "dips/pixel_file.h"
#include "dips/thumbnail.h"

namespace dips {
namespace {

// Per compute thread, the buffers a task's file bytes pass through (the input read, the encoded output
// written by the worker). They keep their capacity from task to task: fresh memory costs a page fault
// per page on first touch, which for a file of megabytes cost more than its decoding's share here, and a
// growing encode buffer copied itself at every doubling. resize() within the capacity touches warm pages.
std::vector<uint8_t>& input_buffer() {
  thread_local std::vector<uint8_t> buffer;
  return buffer;
}

std::vector<uint8_t>& output_buffer() {
  thread_local std::vector<uint8_t> buffer;
  return buffer;
}

// A decode piece's pixel file (pixel_file.h), written while the image decodes: each run of rows is
// written, made readable, and then reported, so that rank 0 starts the bands that read only those rows.
class PixelFileStream {
 public:
  PixelFileStream(const WorkItem& item, const ProgressReport& report) : item_(item), report_(report) {}

  // codec.h RowsDecoded: rows [0, rows) of image are final.
  void on_rows(const cv::Mat& image, int rows) {
    if (!report_ || failed_ || rows == image.rows) return;  // the last rows are told by the piece's result
    if (rows - writer_.rows_written() < std::max(1, image.rows / kReports)) return;
    if (!writer_.is_open()) failed_ = !writer_.open(item_.output_path, image.cols, image.rows, image.type()).ok();
    failed_ = failed_ || !writer_.write_rows(image, rows).ok() || !writer_.publish().ok();
    if (!failed_) report_(DecodeProgress{item_.piece_id, image.cols, image.rows, rows});
  }
  // Writes the rows not written yet (all of them when none were). *bytes: the file's size.
  Status finish(const cv::Mat& image, uint64_t* bytes) {
    if (failed_) return Status::Error("the pixel file could not be written");
    Status status = writer_.is_open() ? Status() : writer_.open(item_.output_path, image.cols, image.rows, image.type());
    if (status.ok()) status = writer_.write_rows(image, image.rows);
    if (status.ok()) status = writer_.close(bytes);
    return status;
  }

 private:
  static constexpr int kReports = 32;  // per image: 4.7 MB of rows each for a 50 MP photo
  const WorkItem& item_;
  const ProgressReport& report_;
  PixelFileWriter writer_;
  bool failed_ = false;
};

// A band decoded from the file, asked for thumbnails: its rows of the input's thumbnail.
void band_input_thumbnail(const WorkItem& item, const cv::Mat& image, ResultItem* result) {
  if (item.thumbnails != Thumbnails::kAlways) return;
  const cv::Mat own = image.rowRange(item.rows.row0 - item.rows.in_row0, item.rows.row1 - item.rows.in_row0);
  result->thumbnail_input_rows = thumbnail_rows(own, item.rows.row0, item.image_width, item.image_height, item.thumbnail_px);
}

// The source image: all of it, or for a band the rows in_row0..in_row1. A probe whose rows decode cheaply
// stops at the header (*done); one that writes a pixel file writes it while it decodes (stream). A whole
// decoded input is also kept in *decoded (no copy) when the piece is asked for thumbnails: bands and probes
// that stop at the header never hold the whole input.
Status load_source(const WorkItem& item, PixelFileStream* stream, cv::Mat* image, ResultItem* result, bool* done,
                   cv::Mat* decoded) {
  if (item.source == Source::kPixels) {
    *image = item.pixels;
    return Status();
  }
  if (item.source == Source::kPixelFile) {
    return item.band ? read_pixel_rows(item.path, item.rows.in_row0, item.rows.in_row1, image) : read_pixel_rows(item.path, 0, -1, image);
  }
  std::vector<uint8_t>& read = input_buffer();
  const uint8_t* data = item.file.data;
  size_t size = item.file.size;
  if (item.source == Source::kPath) {
    FileIdentity identity;
    Status status = read_file(item.path, item.max_file_bytes, &read, &identity);
    result->input_size = identity.size;
    result->input_mtime_ns = identity.mtime_ns;
    if (!status.ok()) return status;
    data = read.data();
    size = read.size();
  }
  if (item.band) {
    Status status = decode_rows(data, size, item.max_pixels, item.rows.in_row0, item.rows.in_row1, image);
    if (status.ok()) band_input_thumbnail(item, *image, result);
    return status;
  }
  if (item.probe) {
    ImageInfo info;
    Status status = probe_image(data, size, item.max_pixels, &info);
    if (!status.ok()) return status;
    result->width = info.width;
    result->height = info.height;
    result->cheap_rows = info.cheap_rows && item.rows_from_file;
    *done = result->cheap_rows;
    if (*done) return Status();
  }
  Status status = stream == nullptr ? decode_image(data, size, item.max_pixels, image)
                                    : decode_image(data, size, item.max_pixels, image,
                                                   [stream](const cv::Mat& rows, int count) { stream->on_rows(rows, count); });
  if (!status.ok()) return status;
  result->width = image->cols;
  result->height = image->rows;
  if (item.thumbnails != Thumbnails::kNone) *decoded = *image;
  return Status();
}

Status apply_finish(const WorkItem& item, cv::Mat* image) {
  if (item.finish.op == nullptr) return Status();
  try {
    *image = item.finish.op->finish(*image, item.histogram);
  } catch (const std::exception& e) {
    return Status::Error(fmt::format("{} failed: {}", item.finish.op->name, e.what()));
  }
  return Status();
}

Status run_steps(const WorkItem& item, cv::Mat* image, ResultItem* result) {
  if (!item.band) {
    if (item.steps.empty()) return Status();
    OpResult output;
    Status status = run_pipeline_whole(*image, item.steps, &output);
    if (!status.ok()) return status;
    *image = output.image;
    result->decoded = std::move(output.decoded);
    return Status();
  }
  const std::vector<Stage> stages = plan_stages(item.steps);
  if (stages.empty()) {  // no steps: the band's own rows, as they are
    *image = image->rowRange(item.rows.row0 - item.rows.in_row0, item.rows.row1 - item.rows.in_row0);
    return Status();
  }
  PieceOutput output;
  Status status = run_piece(stages.front(), item.rows, *image, &output);
  if (!status.ok()) return status;
  *image = output.pixels;
  result->histogram = std::move(output.histogram);
  result->decoded = std::move(output.decoded);
  return Status();
}

Status deliver(const WorkItem& item, const cv::Mat& image, PixelFileStream* stream, ResultItem* result) {
  if (item.sink == Sink::kPixels) {
    result->pixels = image;
    return Status();
  }
  if (item.sink == Sink::kPixelFile) {
    // A pixel file that cannot be written (a full disk) costs rank 0 the relay, not the task its result.
    if (stream->finish(image, &result->written).ok()) return Status();
    result->written = 0;
    result->pixels = image;
    return Status();
  }
  if (item.sink == Sink::kBand) {
    Status status = encode_band(image, item.output_ext, item.image_width, item.image_height, item.rows.row0, &result->band);
    if (status.ok()) result->encoded = Bytes::of(std::move(result->band.bytes));
    return status;
  }
  if (item.sink == Sink::kEncoded) {  // the bytes travel with the result: a buffer of their own
    std::vector<uint8_t> bytes;
    Status status = encode_image(image, item.output_ext, &bytes);
    if (status.ok()) result->encoded = Bytes::of(std::move(bytes));
    return status;
  }
  std::vector<uint8_t>& bytes = output_buffer();
  Status status = encode_image(image, item.output_ext, &bytes);
  if (!status.ok()) return status;
  status = write_file_atomic(item.output_path, bytes, item.sync, item.replace);
  if (status.ok()) result->written = bytes.size();
  return status;
}

// `decoded` keeps the decoded input (no copy) while the piece runs, for a thumbnail made only if it fails.
Status execute(const WorkItem& item, const ProgressReport& report, ResultItem* result, cv::Mat* decoded) {
  cv::Mat image;
  bool done = false;
  std::optional<PixelFileStream> stream;
  if (item.sink == Sink::kPixelFile) stream.emplace(item, report);
  PixelFileStream* pixel_file = stream ? &*stream : nullptr;
  Status status = load_source(item, pixel_file, &image, result, &done, decoded);
  if (done) return status;
  if (status.ok() && item.thumbnails == Thumbnails::kAlways && !decoded->empty()) {
    result->thumbnail_input = make_thumbnail(*decoded, item.thumbnail_px);
    decoded->release();
  }
  if (status.ok()) status = apply_finish(item, &image);
  if (status.ok()) status = run_steps(item, &image, result);
  if (status.ok()) status = deliver(item, image, pixel_file, result);
  if (!status.ok() || item.thumbnails != Thumbnails::kAlways) return status;
  if (item.sink == Sink::kEncoded || item.sink == Sink::kWriteFile) result->thumbnail_output = make_thumbnail(image, item.thumbnail_px);
  if (item.sink == Sink::kBand) {
    result->thumbnail_output_rows = thumbnail_rows(image, item.rows.row0, item.image_width, item.image_height, item.thumbnail_px);
  }
  return status;
}

}  // namespace

ResultItem execute_item(const WorkItem& item, const ProgressReport& report) {
  const auto start = std::chrono::steady_clock::now();
  ResultItem result;
  result.piece_id = item.piece_id;
  Status status;
  cv::Mat decoded;
  try {
    status = execute(item, report, &result, &decoded);
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: a task error, not a dead rank
    status = Status::Error(fmt::format("worker failed: {}", e.what()));
  }
  if (!status.ok()) {
    const int width = result.width, height = result.height;
    Bytes thumbnail = result.thumbnail_input;
    if (thumbnail.empty() && item.thumbnails != Thumbnails::kNone) thumbnail = make_thumbnail(decoded, item.thumbnail_px);
    result = ResultItem();
    result.piece_id = item.piece_id;
    result.error = status.message();
    result.width = width;
    result.height = height;
    result.thumbnail_input = thumbnail;
  }
  result.compute_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace dips
