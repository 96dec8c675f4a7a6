#include "dips/execute.h"

#include <fmt/format.h>

#include <chrono>

#include "dips/codec.h"
#include "dips/image_io.h"

namespace dips {
namespace {

// The source image: all of it, or for a band the rows in_row0..in_row1. A probe whose rows decode cheaply
// stops at the header (*done).
Status load_source(const WorkItem& item, cv::Mat* image, ResultItem* result, bool* done) {
  if (item.source == Source::kPixels) {
    *image = item.pixels;
    return Status();
  }
  std::vector<uint8_t> read;
  const uint8_t* data = item.file.data;
  size_t size = item.file.size;
  if (item.source == Source::kPath) {
    Status status = read_file(item.path, item.max_file_bytes, &read);
    if (!status.ok()) return status;
    data = read.data();
    size = read.size();
  }
  if (item.band) return decode_rows(data, size, item.max_pixels, item.rows.in_row0, item.rows.in_row1, image);
  if (item.probe) {
    ImageInfo info;
    Status status = probe_image(data, size, item.max_pixels, &info);
    if (!status.ok()) return status;
    result->width = info.width;
    result->height = info.height;
    result->cheap_rows = info.cheap_rows;
    *done = info.cheap_rows;
    if (*done) return Status();
  }
  Status status = decode_image(data, size, item.max_pixels, image);
  if (!status.ok()) return status;
  result->width = image->cols;
  result->height = image->rows;
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

Status deliver(const WorkItem& item, const cv::Mat& image, ResultItem* result) {
  if (item.sink == Sink::kPixels) {
    result->pixels = image;
    return Status();
  }
  if (item.sink == Sink::kBand) {
    Status status = encode_band(image, item.output_ext, item.image_width, item.image_height, item.rows.row0, &result->band);
    if (status.ok()) result->encoded = Bytes::of(std::move(result->band.bytes));
    return status;
  }
  std::vector<uint8_t> bytes;
  Status status = encode_image(image, item.output_ext, &bytes);
  if (!status.ok()) return status;
  if (item.sink == Sink::kEncoded) {
    result->encoded = Bytes::of(std::move(bytes));
    return Status();
  }
  status = write_file_atomic(item.output_path, bytes, item.sync);
  if (status.ok()) result->written = bytes.size();
  return status;
}

Status execute(const WorkItem& item, ResultItem* result) {
  cv::Mat image;
  bool done = false;
  Status status = load_source(item, &image, result, &done);
  if (done) return status;
  if (status.ok()) status = apply_finish(item, &image);
  if (status.ok()) status = run_steps(item, &image, result);
  if (status.ok()) status = deliver(item, image, result);
  return status;
}

}  // namespace

ResultItem execute_item(const WorkItem& item) {
  const auto start = std::chrono::steady_clock::now();
  ResultItem result;
  result.piece_id = item.piece_id;
  Status status;
  try {
    status = execute(item, &result);
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: a task error, not a dead rank
    status = Status::Error(fmt::format("worker failed: {}", e.what()));
  }
  if (!status.ok()) {
    const int width = result.width, height = result.height;
    result = ResultItem();
    result.piece_id = item.piece_id;
    result.error = status.message();
    result.width = width;
    result.height = height;
  }
  result.compute_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace dips
