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
  int64_t max_pixels = 0;
  uint64_t max_file_bytes = 0;
};

// One task in flight on rank 0, as a state machine with no I/O: which pieces it needs next, what their
// results make of it, and when it is done. A whole task is one piece. A task in bands is: its stage-1
// input (decoded by one worker, or by each band's worker from the file), then for every stage its bands,
// stitched here, with a stage's finish (Canny's hysteresis, the histogram's lookup table) and the final
// encoding done by a worker; rank 0 only copies rows. Every piece is self-contained, so that any worker
// can redo any of them after a death.
class TaskRun {
 public:
  TaskRun(const Task& task, TaskIo io, TaskShape shape);

  // The pieces that can be sent now, each with its index in this task; each is returned once.
  std::vector<std::pair<size_t, WorkItem>> take_ready();
  // A piece's accepted result. An error fails the task.
  Status on_result(size_t piece, ResultItem result);
  // True when the output exists (written by a worker) or is in output_bytes() for rank 0 to write.
  bool done() const { return done_; }
  // The encoded output when workers do not write files (TaskIo::shared false); empty otherwise.
  const Bytes& output_bytes() const { return output_; }

  // The journal's view of its pieces, indexed like take_ready's.
  std::vector<PieceRecord>& records() { return records_; }
  // What the decoded input measured (0 until known) and the strings read_qr_code found, in order.
  int width() const { return width_; }
  int height() const { return height_; }
  const std::vector<std::string>& decoded() const { return decoded_; }
  const TaskShape& shape() const { return shape_; }

 private:
  size_t add(WorkItem item, std::string kind, int row0 = 0, int row1 = 0);
  WorkItem file_source() const;
  void set_final_sink(WorkItem* item) const;
  void start_stage();
  void stage_finished();
  bool last_stage() const { return stage_ + 1 == stages_.size(); }

  const Task& task_;
  TaskIo io_;
  TaskShape shape_;
  std::vector<Stage> stages_;
  size_t stage_ = 0;
  cv::Mat current_;  // the current stage's input (bands mode)
  std::vector<PieceRows> bands_;
  std::vector<size_t> band_of_piece_;  // piece index -> band index of the current stage (or npos)
  std::vector<bool> delivers_;         // piece index -> it produces the task's output
  std::unique_ptr<StageAssembler> assembler_;
  std::vector<std::pair<size_t, WorkItem>> ready_;
  std::vector<PieceRecord> records_;
  std::vector<std::string> decoded_;
  int width_ = 0, height_ = 0;
  Bytes output_;
  bool done_ = false;
};

}  // namespace dips
