#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "dips/report_file.h"
#include "dips/status.h"

namespace dips {

// The report's format version, written in its first line: {"dips_report": 1, ...}.
constexpr int kReportVersion = 1;

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

// The JSON object of one task line.
nlohmann::ordered_json task_json(const TaskRecord& record);

// The key --resume matches tasks by: same input, pipeline and output.
std::string resume_key(const std::string& input, const std::string& ops, const std::string& output);

// Reads a report written by an earlier run and collects the resume keys of tasks recorded ok. A missing
// file gives an empty set; a file that is not a dips report (or of a newer version) is an error.
// Lines cut short by a crash are ignored.
Status read_finished_tasks(const std::filesystem::path& path, std::set<std::string>* finished);

}  // namespace dips
