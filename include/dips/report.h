#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "dips/image_io.h"
#include "dips/report_file.h"
#include "dips/status.h"

namespace dips {

// The report's format version, written in its first line ({"dips_report": 2, ...}) and in the line that
// starts each continued run. Version 2 (docs/report.md) adds worker events, piece ids and outcomes, rank 0's
// own work and thumbnails to version 1's lines, which it keeps as they were; readers skip what they do not
// know, and --resume reads both.
constexpr int kReportVersion = 2;

// What the report says about one piece of a task (an element of its line's "pieces").
struct PieceRecord {
  std::string kind;           // "file" (a whole task), "decode", "band", "whole" (a whole-image stage), "finish", "encode"
  int stage = 0;              // the pipeline stage it computes (tiling.h)
  int row0 = 0, row1 = 0;     // a band's output rows; 0, 0 otherwise
  int worker = -1;            // the worker whose result counted
  std::vector<int> lost_on;   // workers that died holding it before (it was sent again)
  double sent = 0, done = 0;  // seconds since the job started, rank 0's clock
  double compute_ms = 0, queue_ms = 0;   // as the worker measured them
  uint64_t bytes_out = 0, bytes_in = 0;  // payload bytes to and from the worker
  bool ok = false;
  uint64_t id = 0;                 // the scheduler's piece id (the same when it is sent again)
  std::vector<double> lost_sent;   // when it was sent to each of lost_on
  std::string outcome;             // "ok", "error" (its result was), "cancelled" (its task ended before it counted)
  // Workers that held it at the same time as `worker` (one was suspect at the job's tail, and the other
  // was given a copy) and whose result did not count, and when it was sent to each.
  std::vector<int> also_on;
  std::vector<double> also_sent;
};

// A span of rank 0's own work for a task: reading its input ("read", or "header" when only the head was
// sniffed), writing its output ("write"), stitching a band's rows into its stage ("stitch").
struct Rank0Span {
  std::string op;
  double t0 = 0, t1 = 0;  // seconds since the job started
  uint64_t bytes = 0;
};

// What the report says about one finished task (one JSON line).
struct TaskRecord {
  std::string input, output, ops;
  bool ok = false;
  std::string error;                 // empty when ok
  std::vector<std::string> decoded;  // read_qr_code's strings, in order
  int width = 0, height = 0;         // of the input image; 0 when it could not be decoded
  double ms = 0;                     // wall time from dispatch to written output
  std::vector<int> ranks;            // ranks that computed pieces of it (0 when rank 0 did)
  std::string origin;                // manifest FILE:LINE, if any
  std::vector<PieceRecord> pieces;   // how it was computed
  int64_t task = -1;                 // its index in the job (-1: unknown)
  double t = 0;                      // when it finished, seconds since the job started
  std::string thumbnail_input, thumbnail_output;  // small JPEGs (base64) for the report's gallery, or empty
  std::vector<Rank0Span> rank0;      // rank 0's own work for it
  // What --resume checks before skipping the task again (-1: unknown, not written).
  int64_t input_size = -1, input_mtime_ns = -1;  // the input as rank 0 saw it before the task read it
  int64_t output_size = -1;                      // the output as written
};

// A task the job could not finish (it stopped, or lost its last worker): which pieces were under way.
struct UnfinishedTaskRecord {
  int64_t task = -1;
  std::string input, output, ops;
  double t = 0;                     // seconds since the job started
  std::vector<PieceRecord> pieces;  // their outcome "unfinished" unless they had one
};

// The report: an append-only journal of JSON lines, one per finished task, flushed as each is written,
// so that it survives a crash of rank 0 and --resume can read it. Lines are whole or absent, even after a
// full disk (report_file.h); the report may also be a pipe, FIFO or terminal (not for --resume).
class ReportWriter {
 public:
  ReportWriter() = default;
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  // Creates the report, or continues an existing one (never truncated: it is the job's journal; a file
  // that is not a dips report is refused). A new report's first line holds the format version, a
  // continued one gets a {"run": "continued", ...} line; `run` describes this run.
  Status open(const std::filesystem::path& path, const nlohmann::ordered_json& run);
  // Appends one task line (buffered: flush() pushes it to the file).
  Status write_task(const TaskRecord& record);
  // Appends the line of a task the job could not finish (buffered).
  Status write_unfinished_task(const UnfinishedTaskRecord& record);
  // Appends one event line, e.g. {"event": "worker_lost", ...} (buffered).
  Status write_event(const nlohmann::ordered_json& event);
  // Pushes buffered lines to the file, so that a crash of rank 0 loses at most what came since.
  Status flush();
  // Appends the final line {"summary": {...}} and syncs the file to disk.
  Status write_summary(const nlohmann::ordered_json& summary);

 private:
  Status write_line(const nlohmann::ordered_json& line);
  ReportFile file_;
};

// One task line (JSON, without its line end). "input" and "output" are the names for display (a byte that
// is not UTF-8 becomes U+FFFD, so that every JSON reader takes the line); a name that is not valid UTF-8
// also gets "input_base64" / "output_base64", its exact bytes, which --resume matches.
std::string task_line(const TaskRecord& record);

// The event line of an unfinished task ({"event": "task_unfinished", ...}, read by the report page only).
std::string unfinished_task_line(const UnfinishedTaskRecord& record);

// The key --resume matches tasks by: same input, pipeline and output (exact bytes).
std::string resume_key(const std::string& input, const std::string& ops, const std::string& output);


// What the last line of a task recorded ok says about it (-1: not recorded, as in reports of dips 0.1).
struct FinishedTask {
  int64_t input_size = -1, input_mtime_ns = -1, output_size = -1;
};
using FinishedTasks = std::unordered_map<std::string, FinishedTask>;  // by resume_key

// Reads a report written by an earlier run and collects the tasks whose latest line is ok (a later error
// line for the same task removes it). A missing file gives none; a file that is not a dips report (or of
// a newer version) is an error. Lines cut short by a crash are ignored.
Status read_finished_tasks(const std::filesystem::path& path, FinishedTasks* finished);

// True when --resume may skip this task: recorded ok, its output exists with the recorded size, and its
// input still has the recorded size and modification time (what was not recorded is not checked).
bool still_finished(const FinishedTasks& finished, const std::string& key, const std::filesystem::path& input,
                    const std::filesystem::path& output);

}  // namespace dips
