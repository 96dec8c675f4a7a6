#include "dips/tiling.h"

#include <fmt/format.h>

#include <algorithm>

namespace dips {

std::vector<Stage> plan_stages(const Pipeline& pipeline) {
  std::vector<Stage> stages;
  Stage local;
  const auto close_local = [&] {
    if (!local.steps.empty()) stages.push_back(local);
    local = Stage();
  };
  for (const Step& step : pipeline) {
    switch (step.op->tiling) {
      case Tiling::kPointwise:
      case Tiling::kNeighbourhood:
        local.steps.push_back(step);
        local.halo += step.op->halo(step.param);
        if (step.op->tiling == Tiling::kNeighbourhood) local.kind = Tiling::kNeighbourhood;
        break;
      case Tiling::kCanny:
      case Tiling::kHistogram:
        local.steps.push_back(step);
        local.halo += step.op->halo(step.param);
        local.kind = step.op->tiling;
        close_local();
        break;
      case Tiling::kWholeImage:
        close_local();
        stages.push_back(Stage{{step}, Tiling::kWholeImage, 0});
        break;
    }
  }
  close_local();
  return stages;
}

double band_work(const std::vector<Stage>& stages) {
  double work = 0;
  for (const Stage& stage : stages) {
    if (stage.kind == Tiling::kWholeImage) continue;
    for (const Step& step : stage.steps) work = std::max(work, step.op->band_work);
  }
  return work;
}

std::vector<PieceRows> plan_pieces(const Stage& stage, int rows, int tile_rows) {
  std::vector<PieceRows> pieces;
  if (stage.kind == Tiling::kWholeImage || rows <= tile_rows) {
    pieces.push_back(PieceRows{0, rows, 0, rows});
    return pieces;
  }
  tile_rows = std::max(1, tile_rows);
  for (int row0 = 0; row0 < rows; row0 += tile_rows) {
    const int row1 = std::min(rows, row0 + tile_rows);
    pieces.push_back(PieceRows{row0, row1, std::max(0, row0 - stage.halo), std::min(rows, row1 + stage.halo)});
  }
  return pieces;
}

Status run_piece(const Stage& stage, const PieceRows& rows, const cv::Mat& input, PieceOutput* output) {
  if (input.rows != rows.in_row1 - rows.in_row0) {
    return Status::Error(fmt::format("piece input has {} rows, expected {}", input.rows, rows.in_row1 - rows.in_row0));
  }
  cv::Mat current = input;
  output->decoded.clear();
  output->histogram.clear();
  for (const Step& step : stage.steps) {
    try {
      if (step.op->partial != nullptr && step.op->tiling != Tiling::kWholeImage) {
        current = step.op->partial(current, step.param);
      } else {
        OpResult result = step.op->apply(current, step.param);
        current = result.image;
        for (auto& text : result.decoded) output->decoded.push_back(std::move(text));
      }
    } catch (const std::exception& e) {
      return Status::Error(fmt::format("{} failed: {}", step.op->name, e.what()));
    }
  }
  // A whole-image stage may change the size (resize): its output is all of it.
  output->pixels = stage.kind == Tiling::kWholeImage ? current
                                                     : current.rowRange(rows.row0 - rows.in_row0, rows.row1 - rows.in_row0).clone();
  if (stage.kind == Tiling::kHistogram) output->histogram = gray_histogram(output->pixels);
  return Status();
}

StageAssembler::StageAssembler(const Stage& stage, int input_rows, size_t piece_count)
    : stage_(stage), input_rows_(input_rows), piece_count_(piece_count) {}

Status StageAssembler::add(const PieceRows& rows, PieceOutput output) {
  if (stage_.kind == Tiling::kWholeImage || piece_count_ == 1) {
    stitched_ = output.pixels;
  } else {
    if (stitched_.empty()) stitched_.create(input_rows_, output.pixels.cols, output.pixels.type());
    if (output.pixels.type() != stitched_.type() || output.pixels.cols != stitched_.cols ||
        output.pixels.rows != rows.row1 - rows.row0 || rows.row1 > stitched_.rows) {
      return Status::Error("piece result does not fit the stage's image (size or type differs)");
    }
    output.pixels.copyTo(stitched_.rowRange(rows.row0, rows.row1));
  }
  if (!output.histogram.empty()) {
    if (histogram_.empty()) histogram_.assign(256, 0.0);
    for (size_t i = 0; i < 256 && i < output.histogram.size(); ++i) histogram_[i] += output.histogram[i];
  }
  for (auto& text : output.decoded) decoded_.push_back(std::move(text));
  ++added_;
  return Status();
}

Status StageAssembler::finish(OpResult* result) {
  if (!complete()) return Status::Error("stage finished before all its pieces arrived");
  try {
    const Operation& last = *stage_.steps.back().op;
    if (stage_.kind == Tiling::kCanny || stage_.kind == Tiling::kHistogram) {
      result->image = last.finish(stitched_, histogram_);
    } else {
      result->image = stitched_;
    }
  } catch (const std::exception& e) {
    return Status::Error(fmt::format("{} failed: {}", stage_.steps.back().op->name, e.what()));
  }
  result->decoded = std::move(decoded_);
  return Status();
}

void StageAssembler::take(cv::Mat* stitched, std::vector<double>* histogram, std::vector<std::string>* decoded) {
  *stitched = std::move(stitched_);
  *histogram = std::move(histogram_);
  *decoded = std::move(decoded_);
}

Status run_pipeline_tiled(const cv::Mat& image, const Pipeline& pipeline, int tile_rows, OpResult* result) {
  cv::Mat current = image;
  result->decoded.clear();
  for (const Stage& stage : plan_stages(pipeline)) {
    const std::vector<PieceRows> pieces = plan_pieces(stage, current.rows, tile_rows);
    StageAssembler assembler(stage, current.rows, pieces.size());
    for (const PieceRows& rows : pieces) {
      PieceOutput output;
      // A copy, as a worker gets: OpenCV filters read outside a submatrix's bounds, a band must not.
      Status status = run_piece(stage, rows, current.rowRange(rows.in_row0, rows.in_row1).clone(), &output);
      if (!status.ok()) return status;
      status = assembler.add(rows, std::move(output));
      if (!status.ok()) return status;
    }
    OpResult stage_result;
    Status status = assembler.finish(&stage_result);
    if (!status.ok()) return status;
    current = stage_result.image;
    for (auto& text : stage_result.decoded) result->decoded.push_back(std::move(text));
  }
  result->image = current;
  return Status();
}

}  // namespace dips
