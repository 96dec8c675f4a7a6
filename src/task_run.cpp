#include "dips/task_run.h"

#include <fmt/format.h>

namespace dips {
namespace {

constexpr size_t kNoBand = static_cast<size_t>(-1);

std::string output_ext(const std::filesystem::path& output) {
  std::string ext = output.extension().string();
  return ext.empty() ? ".png" : ext;
}

}  // namespace

TaskRun::TaskRun(const Task& task, TaskIo io, TaskShape shape) : task_(task), io_(std::move(io)), shape_(shape) {
  if (!shape_.bands) {  // the whole file, one piece
    WorkItem item = file_source();
    item.steps = task_.pipeline;
    set_final_sink(&item);
    add(std::move(item), "file");
    return;
  }
  stages_ = plan_stages(task_.pipeline);
  // Stage 1's input is decoded by one worker; a whole-image first stage runs in the same piece.
  WorkItem decode = file_source();
  const bool whole_first = stages_.front().kind == Tiling::kWholeImage;
  if (whole_first) decode.steps = stages_.front().steps;
  if (whole_first && last_stage()) set_final_sink(&decode);
  add(std::move(decode), whole_first ? "whole" : "decode");
}

WorkItem TaskRun::file_source() const {
  WorkItem item;
  if (io_.shared) {
    item.source = Source::kPath;
    item.path = task_.input.string();
  } else {
    item.source = Source::kFile;
    item.file = io_.file;
  }
  item.max_pixels = io_.max_pixels;
  item.max_file_bytes = io_.max_file_bytes;
  return item;
}

void TaskRun::set_final_sink(WorkItem* item) const {
  item->output_ext = output_ext(task_.output);
  if (io_.shared) {
    item->sink = Sink::kWriteFile;
    item->output_path = task_.output.string();
    item->sync = io_.sync;
  } else {
    item->sink = Sink::kEncoded;
  }
}

size_t TaskRun::add(WorkItem item, std::string kind, int row0, int row1) {
  const size_t index = records_.size();
  PieceRecord record;
  record.kind = std::move(kind);
  record.stage = static_cast<int>(stage_);
  record.row0 = row0;
  record.row1 = row1;
  records_.push_back(std::move(record));
  band_of_piece_.push_back(kNoBand);
  delivers_.push_back(item.sink != Sink::kPixels);
  ready_.emplace_back(index, std::move(item));
  return index;
}

std::vector<std::pair<size_t, WorkItem>> TaskRun::take_ready() { return std::move(ready_); }

Status TaskRun::on_result(size_t piece, ResultItem result) {
  if (!result.error.empty()) return Status::Error(result.error);
  if (result.width > 0) {
    width_ = result.width;
    height_ = result.height;
  }
  records_.at(piece).ok = true;
  const std::string& kind = records_.at(piece).kind;
  if (kind != "band") {
    for (auto& text : result.decoded) decoded_.push_back(std::move(text));
    if (delivers_.at(piece)) {
      output_ = std::move(result.encoded);
      current_.release();
      done_ = true;
      return Status();
    }
    if (result.pixels.empty()) return Status::Error(fmt::format("a {} piece returned no image", kind));
    current_ = result.pixels;
    if (kind != "decode") ++stage_;  // a whole-image stage or a stage's finish: the next stage starts
    start_stage();
    return Status();
  }
  // A band of the current stage.
  const size_t band = band_of_piece_.at(piece);
  if (band == kNoBand || !assembler_) return Status::Error("a band result for no band");
  PieceOutput output{std::move(result.pixels), std::move(result.histogram), std::move(result.decoded)};
  Status status = assembler_->add(bands_[band], std::move(output));
  if (!status.ok()) return status;
  if (assembler_->complete()) stage_finished();
  return Status();
}

void TaskRun::start_stage() {
  const Stage& stage = stages_[stage_];
  if (stage.kind == Tiling::kWholeImage) {
    WorkItem item;
    item.source = Source::kPixels;
    item.pixels = current_;
    item.steps = stage.steps;
    if (last_stage()) set_final_sink(&item);
    add(std::move(item), "whole");
    return;
  }
  bands_ = plan_pieces(stage, current_.rows, shape_.tile_rows);
  assembler_ = std::make_unique<StageAssembler>(stage, current_.rows, bands_.size());
  for (size_t b = 0; b < bands_.size(); ++b) {
    const PieceRows& rows = bands_[b];
    WorkItem item;
    item.source = Source::kPixels;
    item.pixels = current_.rowRange(rows.in_row0, rows.in_row1);
    item.band = true;
    item.rows = rows;
    item.steps = stage.steps;
    const size_t index = add(std::move(item), "band", rows.row0, rows.row1);
    band_of_piece_[index] = b;
  }
}

void TaskRun::stage_finished() {
  const Stage& stage = stages_[stage_];
  cv::Mat stitched;
  std::vector<double> histogram;
  std::vector<std::string> decoded;
  assembler_->take(&stitched, &histogram, &decoded);
  assembler_.reset();
  for (auto& text : decoded) decoded_.push_back(std::move(text));
  if (stage.kind == Tiling::kCanny || stage.kind == Tiling::kHistogram) {
    // The global step (hysteresis over the whole map, the histogram's lookup table) runs on a worker.
    WorkItem item;
    item.source = Source::kPixels;
    item.pixels = stitched;
    item.finish = stage.steps.back();
    item.histogram = std::move(histogram);
    if (last_stage()) set_final_sink(&item);
    add(std::move(item), "finish");
    return;
  }
  current_ = stitched;
  if (!last_stage()) {
    ++stage_;
    start_stage();
    return;
  }
  WorkItem encode;
  encode.source = Source::kPixels;
  encode.pixels = current_;
  set_final_sink(&encode);
  add(std::move(encode), "encode");
}

}  // namespace dips
