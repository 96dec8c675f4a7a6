#include "dips/task_run.h"

#include <fmt/format.h>

namespace dips {
namespace {

std::string output_ext_of(std::string_view output) {
  const std::string_view ext = path_extension(output);
  return ext.empty() ? ".png" : std::string(ext);
}

}  // namespace

TaskRun::TaskRun(const Task& task, TaskIo io, TaskShape shape)
    : task_(task), io_(std::move(io)), shape_(shape), output_ext_(output_ext_of(task.output)) {
  if (!shape_.bands) {  // the whole file, one piece
    WorkItem item = file_source();
    item.steps = task_.pipeline;
    set_final_sink(&item);
    add(std::move(item), Role::kWhole, "file");
    return;
  }
  stages_ = plan_stages(task_.pipeline);
  const Tiling last = stages_.back().kind;
  encode_in_bands_ = last != Tiling::kWholeImage && can_encode_bands(output_ext_, output_channels(task_.pipeline, 3));
  WorkItem decode = file_source();
  if (stages_.front().kind == Tiling::kWholeImage) {  // a whole-image first stage runs in the decoding piece
    decode.steps = stages_.front().steps;
    if (last_stage()) set_final_sink(&decode);
    add(std::move(decode), Role::kWholeStage, "whole");
    return;
  }
  decode.probe = true;
  decode.rows_from_file = shape_.rows_from_file;
  if (!io_.pixel_file.empty()) {
    decode.sink = Sink::kPixelFile;
    decode.output_path = io_.pixel_file;
  }
  add(std::move(decode), Role::kProbe, "decode");
}

WorkItem TaskRun::file_source() const {
  WorkItem item;
  if (io_.shared) {
    item.source = Source::kPath;
    item.path = task_.input;
  } else {
    item.source = Source::kFile;
    item.file = io_.file;
  }
  item.max_pixels = io_.max_pixels;
  item.max_file_bytes = io_.max_file_bytes;
  return item;
}

void TaskRun::set_final_sink(WorkItem* item) const {
  item->output_ext = output_ext_;
  if (io_.shared) {
    item->sink = Sink::kWriteFile;
    item->output_path = task_.output;
    item->sync = io_.sync;
    item->replace = io_.replace;
  } else {
    item->sink = Sink::kEncoded;
  }
}

size_t TaskRun::add(WorkItem item, Role role, std::string kind, int row0, int row1, size_t band) {
  const size_t index = records_.size();
  PieceRecord record;
  record.kind = std::move(kind);
  record.stage = static_cast<int>(stage_);
  record.row0 = row0;
  record.row1 = row1;
  records_.push_back(std::move(record));
  roles_.push_back(PieceRole{role, band});
  ready_.emplace_back(index, std::move(item));
  return index;
}

std::vector<std::pair<size_t, WorkItem>> TaskRun::take_ready() { return std::move(ready_); }

// Rows per band: the shape's, rounded up so that bands the workers encode start where the format can
// cut the file (a JPEG MCU row).
int TaskRun::band_rows(bool encoded) const {
  if (!encoded) return shape_.tile_rows;
  const int multiple = std::max(1, band_row_multiple(output_ext_, output_channels(task_.pipeline, 3)));
  return (shape_.tile_rows + multiple - 1) / multiple * multiple;
}

Status TaskRun::on_result(size_t piece, ResultItem&& result) {
  if (!result.error.empty()) return Status::Error(result.error);
  records_.at(piece).ok = true;
  if (result.width > 0) {
    width_ = result.width;
    height_ = result.height;
  }
  for (auto& text : result.decoded) decoded_.push_back(std::move(text));
  switch (roles_.at(piece).role) {
    case Role::kBand:
      return on_band(roles_[piece].band, result);
    case Role::kEncodeBand:
      return on_encoded_band(roles_[piece].band, result);
    case Role::kProbe:
      return on_decoded(result);
    case Role::kWhole:
    case Role::kWholeStage:
    case Role::kFinish:
    case Role::kEncode:
      break;
  }
  if (result.pixels.empty()) {  // the piece wrote or encoded the output
    written_ = result.written;
    finish_with(std::move(result.encoded));
    return Status();
  }
  current_ = result.pixels;
  rows_ = current_.rows;
  cols_ = current_.cols;
  if (roles_[piece].role == Role::kFinish && last_stage()) {
    start_band_encoding();
    return Status();
  }
  ++stage_;  // a whole-image stage or a stage's finish: the next stage starts
  start_stage();
  return Status();
}

Status TaskRun::on_progress(size_t piece, const DecodeProgress& progress) {
  if (piece >= roles_.size() || roles_[piece].role != Role::kProbe || records_[piece].ok || io_.pixel_file.empty()) return Status();
  if (!streaming_) {
    streaming_ = true;
    first_rows_ = FirstRows::kPixelFile;
    rows_ = progress.height;
    cols_ = progress.width;
    plan_bands();
  } else if (progress.width != cols_ || progress.height != rows_) {
    return Status::Error(fmt::format("the decode piece reported a {}x{} image after a {}x{} one", progress.width, progress.height, cols_, rows_));
  }
  release_bands(progress.rows);
  return Status();
}

// The decode piece's result: stage 1's bands read the input file, the pixel file or the pixels sent back
// (where the pixel file could not be written, the bands released before still read the rows written).
Status TaskRun::on_decoded(ResultItem& result) {
  first_rows_ = result.cheap_rows ? FirstRows::kInputFile : result.written > 0 ? FirstRows::kPixelFile : FirstRows::kPixels;
  if (first_rows_ == FirstRows::kPixels && result.pixels.empty()) return Status::Error("a decode piece returned no image");
  if (streaming_ && (result.width != cols_ || result.height != rows_)) {
    return Status::Error(fmt::format("the decode piece decoded a {}x{} image after reporting a {}x{} one", result.width, result.height, cols_, rows_));
  }
  current_ = result.pixels;
  rows_ = result.height;
  cols_ = result.width;
  if (!streaming_) plan_bands();
  release_bands(rows_);
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
    add(std::move(item), Role::kWholeStage, "whole");
    return;
  }
  plan_bands();
  release_bands(rows_);
}

// Cuts the current stage's input (rows_ x cols_) into bands; none is handed out yet.
void TaskRun::plan_bands() {
  const Stage& stage = stages_[stage_];
  encoded_bands_ = last_stage() && encode_in_bands_ && stage.kind != Tiling::kCanny && stage.kind != Tiling::kHistogram;
  bands_ = plan_pieces(stage, rows_, band_rows(encoded_bands_));
  released_ = 0;
  if (encoded_bands_) {
    encoded_.assign(bands_.size(), EncodedBand());
    encoded_count_ = 0;
  } else {
    assembler_ = std::make_unique<StageAssembler>(stage, rows_, bands_.size());
  }
}

// Hands out the planned bands, from the top, whose rows (halo included) lie within the input's first
// `available` rows.
void TaskRun::release_bands(int available) {
  const Stage& stage = stages_[stage_];
  const FirstRows rows_from = stage_ == 0 ? first_rows_ : FirstRows::kPixels;
  for (; released_ < bands_.size() && bands_[released_].in_row1 <= available; ++released_) {
    const size_t b = released_;
    const PieceRows& rows = bands_[b];
    WorkItem item = rows_from == FirstRows::kInputFile ? file_source() : WorkItem();
    if (rows_from == FirstRows::kPixelFile) {
      item.source = Source::kPixelFile;
      item.path = io_.pixel_file;
    } else if (rows_from == FirstRows::kPixels) {
      item.source = Source::kPixels;
      item.pixels = current_.rowRange(rows.in_row0, rows.in_row1);
    }
    item.band = true;
    item.rows = rows;
    item.steps = stage.steps;
    item.image_width = cols_;  // the whole image's size: a band's share of its thumbnails (thumbnail.h)
    item.image_height = rows_;
    if (encoded_bands_) {
      item.sink = Sink::kBand;
      item.output_ext = output_ext_;
    }
    add(std::move(item), encoded_bands_ ? Role::kEncodeBand : Role::kBand, "band", rows.row0, rows.row1, b);
  }
}

Status TaskRun::on_band(size_t band, ResultItem& result) {
  if (!assembler_ || band >= bands_.size()) return Status::Error("a band result for no band");
  PieceOutput output{std::move(result.pixels), std::move(result.histogram), {}};
  Status status = assembler_->add(bands_[band], std::move(output));
  if (!status.ok()) return status;
  if (assembler_->complete()) stage_finished();
  return Status();
}

void TaskRun::stage_finished() {
  const Stage& stage = stages_[stage_];
  cv::Mat stitched;
  std::vector<double> histogram;
  std::vector<std::string> decoded;
  assembler_->take(&stitched, &histogram, &decoded);
  assembler_.reset();
  if (stage.kind == Tiling::kCanny || stage.kind == Tiling::kHistogram) {
    // The global step (hysteresis over the whole map, the histogram's lookup table) runs on a worker.
    WorkItem item;
    item.source = Source::kPixels;
    item.pixels = stitched;
    item.finish = stage.steps.back();
    item.histogram = std::move(histogram);
    if (last_stage() && !encode_in_bands_) set_final_sink(&item);
    add(std::move(item), Role::kFinish, "finish");
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
  add(std::move(encode), Role::kEncode, "encode");
}

// The final image is on rank 0 (after a finish): the workers encode it in bands.
void TaskRun::start_band_encoding() {
  const Stage copy_rows{{}, Tiling::kPointwise, 0};
  bands_ = plan_pieces(copy_rows, rows_, band_rows(true));
  encoded_.assign(bands_.size(), EncodedBand());
  encoded_count_ = 0;
  for (size_t b = 0; b < bands_.size(); ++b) {
    const PieceRows& rows = bands_[b];
    WorkItem item;
    item.source = Source::kPixels;
    item.pixels = current_.rowRange(rows.in_row0, rows.in_row1);
    item.band = true;
    item.rows = rows;
    item.sink = Sink::kBand;
    item.output_ext = output_ext_;
    item.image_width = cols_;
    item.image_height = rows_;
    add(std::move(item), Role::kEncodeBand, "encode", rows.row0, rows.row1, b);
  }
}

Status TaskRun::on_encoded_band(size_t band, ResultItem& result) {
  if (band >= encoded_.size() || encoded_[band].rows != 0) return Status::Error("an encoded band for no band");
  EncodedBand& part = encoded_[band];
  part = result.band;
  part.bytes.assign(result.encoded.data, result.encoded.data + result.encoded.size);
  if (part.rows == 0) return Status::Error("an encoded band without its description");
  if (++encoded_count_ < encoded_.size()) return Status();
  std::vector<const EncodedBand*> parts;
  for (const EncodedBand& each : encoded_) parts.push_back(&each);
  Status status = assemble_bands(parts, &assembled_);
  if (!status.ok()) return status;
  output_parts_ = assembled_.parts;
  current_.release();
  done_ = true;
  return Status();
}

uint64_t TaskRun::output_size() const {
  uint64_t size = written_;
  for (const ByteRange& part : output_parts_) size += part.size;
  return size;
}

void TaskRun::finish_with(Bytes bytes) {
  output_bytes_ = std::move(bytes);
  if (!output_bytes_.empty()) output_parts_ = {ByteRange{output_bytes_.data, output_bytes_.size}};
  current_.release();
  done_ = true;
}

}  // namespace dips
