#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "dips/status.h"

namespace dips {

// Consecutive pipeline steps that run together on one set of row bands: any number of pointwise and
// neighbourhood steps, optionally closed by one kCanny or kHistogram step; or one kWholeImage step alone.
struct Stage {
  std::vector<Step> steps;
  // kPointwise or kNeighbourhood (local steps only: the latter when any needs a halo), kCanny,
  // kHistogram or kWholeImage.
  Tiling kind = Tiling::kPointwise;
  int halo = 0;                      // rows of context each band needs: the sum of its steps' halos
};

// Cuts a pipeline into stages; stitching happens between stages.
std::vector<Stage> plan_stages(const Pipeline& pipeline);

// The work of the stages in bands against on whole images: the largest band_work of the operations in
// stages that can be cut; 0 when none can (every stage is kWholeImage).
double band_work(const std::vector<Stage>& stages);

// One piece of a stage: a band of whole rows of the stage's input, as plain data for the wire.
struct PieceRows {
  int row0 = 0, row1 = 0;        // the rows this piece produces, [row0, row1)
  int in_row0 = 0, in_row1 = 0;  // the input rows it needs: its rows plus the halo, clamped to the image
};

// Row bands of tile_rows rows (the last may be shorter) covering `rows` rows, each with `halo` rows of
// context. A kWholeImage stage always gets one band. A tile_rows below 1 is taken as 1.
std::vector<PieceRows> plan_pieces(const Stage& stage, int rows, int tile_rows);

// What a piece gives back to the stitcher.
struct PieceOutput {
  cv::Mat pixels;                    // the piece's rows of the stage output (CannyMark map for kCanny)
  std::vector<double> histogram;     // kHistogram: 256 bins of the piece's gray rows; empty otherwise
  std::vector<std::string> decoded;  // kWholeImage read_qr_code: decoded strings
};

// Runs a stage on one piece. `input` holds rows [in_row0, in_row1) of the stage input; the output holds
// rows [row0, row1) of the stage output (all of it for a kWholeImage stage, which may change the size).
// OpenCV and ZBar errors become an error status naming the step.
Status run_piece(const Stage& stage, const PieceRows& rows, const cv::Mat& input, PieceOutput* output);

// Collects the pieces of one stage and finishes it (hysteresis, histogram lookup) once all are in.
class StageAssembler {
 public:
  // A stage whose input has input_rows rows, split into piece_count pieces. Keeps a reference to stage:
  // it must outlive the assembler.
  StageAssembler(const Stage& stage, int input_rows, size_t piece_count);

  // Places one piece's output. Each piece must be added exactly once.
  Status add(const PieceRows& rows, PieceOutput output);

  // True when every piece has been added.
  bool complete() const { return added_ == piece_count_; }

  // The stage's output image and decoded strings; call once, when complete().
  Status finish(OpResult* result);

  // What the pieces produced, stitched, for the caller to finish elsewhere (a worker): the stitched rows
  // (CannyMark map, gray rows, or the stage output), the summed histogram (histogram stages) and the
  // decoded strings; call once, when complete(), instead of finish().
  void take(cv::Mat* stitched, std::vector<double>* histogram, std::vector<std::string>* decoded);

 private:
  const Stage& stage_;
  int input_rows_;
  size_t piece_count_;
  size_t added_ = 0;
  cv::Mat stitched_;
  std::vector<double> histogram_;
  std::vector<std::string> decoded_;
};

// Runs a pipeline by stages and row bands of tile_rows rows in this process, exactly as the MPI job cuts
// it: the result must equal run_pipeline_whole's. Used by tests and by single-rank runs of large images.
Status run_pipeline_tiled(const cv::Mat& image, const Pipeline& pipeline, int tile_rows, OpResult* result);

}  // namespace dips
