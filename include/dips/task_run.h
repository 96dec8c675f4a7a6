#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dips/granularity.h"
#include "dips/job.h"
#include "dips/report.h"
#include "dips/tiling.h"
#include "dips/wire.h"

namespace dips {

// How a task's pieces reach the files.
struct TaskIo {
  bool shared = true;        // workers read the input and write the output themselves
  Bytes file;                // otherwise: the input's bytes, read by rank 0
  bool sync = false;         // fsync outputs before renaming them
  bool replace = true;       // false: an output whose name is taken fails (write_file_atomic)
  int64_t max_pixels = 0;
  uint64_t max_file_bytes = 0;
  // shared: a file for the decoded image of a task in bands (pixel_file.h), made by rank 0, written by the
  // decode piece and read by the first stage's bands; empty: the decoded image travels through rank 0.
  std::string pixel_file;
};

// One task in flight on rank 0, as a state machine with no I/O: which pieces it needs next, what their
// results make of it, and when it is done. A whole task is one piece. A task in bands starts with a
// `decode` piece: a worker probes the file and, unless its rows decode cheaply (a JPEG: then each band's
// worker decodes just its rows from the file), writes the decoded image to TaskIo::pixel_file for the bands
// to read, or returns it where there is none. Where it writes the file while it decodes (a PNG, pixel_file.h)
// it reports its progress, and the first stage's bands start as their rows are written. Then for every
// stage its bands,
// stitched here, with a stage's finish (Canny's hysteresis, the histogram's lookup table) done by a worker;
// the last bands are encoded by the workers as their parts of the output file (PNG, JPEG; codec.h), which
// rank 0 only concatenates, or the final image is encoded by one worker. Rank 0 only copies rows and
// bytes. Every piece is self-contained, so that any worker can redo any of them after a death.
class TaskRun {
 public:
  TaskRun(const Task& task, TaskIo io, TaskShape shape);

  // The pieces that can be sent now, each with its index in this task; each is returned once.
  std::vector<std::pair<size_t, WorkItem>> take_ready();
  // A piece's accepted result. An error fails the task.
  Status on_result(size_t piece, ResultItem&& result);
  // The decode piece has written rows [0, progress.rows) of the image to TaskIo::pixel_file: the first
  // stage's bands that read only those rows (halo included) become ready, while it decodes the rest.
  // Ignored from any other piece, and once the decode piece's result is in. An error fails the task.
  Status on_progress(size_t piece, const DecodeProgress& progress);
  // True when the output exists (written by a worker) or is in output() for rank 0 to write.
  bool done() const { return done_; }
  // The output file's bytes, in order, when rank 0 writes it (TaskIo::shared false, or assembled bands);
  // empty when a worker wrote it. Valid while this TaskRun lives.
  const std::vector<ByteRange>& output() const { return output_parts_; }
  // The output file's size once done(): as the worker wrote it, or the bytes of output().
  uint64_t output_size() const;

  // The journal's view of its pieces, indexed like take_ready's.
  std::vector<PieceRecord>& records() { return records_; }
  // What the decoded input measured (0 until known) and the strings read_qr_code found, in order.
  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<std::string>& decoded() const { return decoded_; }
  const TaskShape& shape() const { return shape_; }

 private:
  // What a piece of this task does with its result.
  enum class Role { kWhole, kProbe, kBand, kFinish, kWholeStage, kEncode, kEncodeBand };
  struct PieceRole {
    Role role;
    size_t band;  // kBand, kEncodeBand: its index in bands_
  };
  size_t add(WorkItem item, Role role, std::string kind, int row0 = 0, int row1 = 0, size_t band = 0);
  WorkItem file_source() const;
  void set_final_sink(WorkItem* item) const;
  void start_stage();
  Status on_decoded(ResultItem& result);
  void plan_bands();
  void release_bands(int available);
  void stage_finished();
  void start_band_encoding();
  void finish_with(Bytes bytes);
  Status on_band(size_t band, ResultItem& result);
  Status on_encoded_band(size_t band, ResultItem& result);
  bool last_stage() const { return stage_ + 1 == stages_.size(); }
  int band_rows(bool encoded) const;

  const Task& task_;
  TaskIo io_;
  TaskShape shape_;
  std::string output_ext_;
  bool encode_in_bands_ = false;  // the last bands are encoded by the workers (codec.h band encoding)
  // Where stage 1's bands take their rows, as the decode piece found: the image it sent back, the input
  // file (each band decodes its own rows), or TaskIo::pixel_file (the decoded image it wrote there).
  enum class FirstRows { kPixels, kInputFile, kPixelFile };
  FirstRows first_rows_ = FirstRows::kPixels;
  std::vector<Stage> stages_;
  size_t stage_ = 0;
  cv::Mat current_;  // the current stage's input (bands mode), when it is not read from the file
  int rows_ = 0, cols_ = 0;  // its size
  std::vector<PieceRows> bands_;
  size_t released_ = 0;        // bands_ handed out so far, from the top
  bool encoded_bands_ = false;  // bands_ are encoded as the output's parts by the workers
  bool streaming_ = false;     // stage 1's bands were planned from the decode piece's progress
  std::unique_ptr<StageAssembler> assembler_;
  std::vector<EncodedBand> encoded_;  // the output's parts, by band
  size_t encoded_count_ = 0;
  AssembledFile assembled_;
  Bytes output_bytes_;
  std::vector<ByteRange> output_parts_;
  std::vector<std::pair<size_t, WorkItem>> ready_;
  std::vector<PieceRecord> records_;
  std::vector<PieceRole> roles_;  // indexed like records_
  std::vector<std::string> decoded_;
  int width_ = 0, height_ = 0;
  uint64_t written_ = 0;  // by the worker that wrote the output
  bool done_ = false;
};

}  // namespace dips
