#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "dips/status.h"

namespace dips {

// Where the report's lines go, kept whole. A regular file is appended to; a pipe, FIFO, terminal or other
// device is written as a stream (it cannot be read back: no --resume from it). Lines are buffered and
// written by flush(); on a regular file a flush that fails (a full disk) is undone, so that the file holds
// whole lines only and the lines wait for the next flush. A file that ends in the middle of a line (a
// crash) gets a line end before the first new line.
class ReportFile {
 public:
  ReportFile() = default;
  ReportFile(const ReportFile&) = delete;
  ReportFile& operator=(const ReportFile&) = delete;
  ~ReportFile();

  // Opens (creating) path. Refused at once: a FIFO nobody reads (opening it would wait for a reader).
  Status open(const std::filesystem::path& path);
  // A regular file that already had content when opened (an earlier run's report, or something else).
  bool had_content() const { return had_content_; }
  // Adds one line (without its line end) to the buffer.
  void append(std::string_view line);
  // Writes the buffered lines.
  Status flush();
  // Makes what was flushed durable (regular files only).
  void sync();

 private:
  Status error(int err) const;
  int fd_ = -1;
  bool regular_ = false, had_content_ = false;
  std::filesystem::path path_;
  std::string pending_;
};

// Refuses a report that cannot be read back (a pipe, FIFO, terminal or device), before anything opens it
// for reading (which would wait for a writer). A missing file or a regular file passes.
Status check_readable_report(const std::filesystem::path& path);

}  // namespace dips
