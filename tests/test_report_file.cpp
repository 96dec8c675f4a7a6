// report_file: whole lines after a full disk, a fresh line after a cut one, and reports that are pipes,
// FIFOs or devices (written as streams, refused for reading back, refused when nobody reads a FIFO).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "dips/report.h"
#include "dips/report_file.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) lines.push_back(text.substr(start, end - start));
  if (start < text.size()) lines.push_back(text.substr(start) + "<no line end>");
  return lines;
}

TaskRecord task(int i) {
  TaskRecord record;
  record.input = "in/" + std::to_string(i) + ".png";
  record.output = "out/" + std::to_string(i) + ".png";
  record.ops = "blur";
  record.ok = true;
  return record;
}

// The file size limit of this process, lowered for a moment: writes past it fail (EFBIG) after writing
// what fits, as on a full disk.
struct FileSizeLimit {
  rlimit saved{};
  explicit FileSizeLimit(rlim_t bytes) {
    ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &saved);
    rlimit lower = saved;
    lower.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
  }
  ~FileSizeLimit() { ::setrlimit(RLIMIT_FSIZE, &saved); }
};

}  // namespace

TEST_CASE("report lines are whole or absent when the disk fills up, and written once there is room", "[report][bad_input]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  ReportWriter report;
  REQUIRE(report.open(path, {{"command", "x"}}).ok());
  REQUIRE(report.write_task(task(0)).ok());
  REQUIRE(report.flush().ok());
  const auto size = fs::file_size(path);
  {
    FileSizeLimit limit(size + 100);  // room for part of the next line only
    for (int i = 1; i <= 3; ++i) REQUIRE(report.write_task(task(i)).ok());
    const Status full = report.flush();
    CHECK(!full.ok());
    CHECK(full.message().find("cannot write report") != std::string::npos);
    CHECK(fs::file_size(path) == size);  // the part that fitted was taken back
    CHECK(!report.flush().ok());
  }
  REQUIRE(report.write_summary({{"ok", 4}}).ok());  // room again: the waiting lines go out, in order
  const auto lines = lines_of(read_text(path));
  REQUIRE(lines.size() == 6);
  for (const std::string& line : lines) CHECK(!nlohmann::json::parse(line, nullptr, false).is_discarded());
  for (int i = 0; i <= 3; ++i) CHECK(nlohmann::json::parse(lines[1 + i])["input"] == "in/" + std::to_string(i) + ".png");
}

TEST_CASE("a report cut in the middle of a line: the next run starts on a fresh line", "[report][bad_input]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "first"}}).ok());
    REQUIRE(report.write_task(task(0)).ok());
    REQUIRE(report.flush().ok());
  }
  write_text(path, read_text(path) + "{\"input\": \"in/1.png\", \"sta");  // a crash mid-line
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "second"}}).ok());
    REQUIRE(report.write_task(task(2)).ok());
    REQUIRE(report.flush().ok());
  }
  const auto lines = lines_of(read_text(path));
  REQUIRE(lines.size() == 5);
  CHECK(lines[2] == "{\"input\": \"in/1.png\", \"sta");
  CHECK(nlohmann::json::parse(lines[3])["run"] == "continued");
  CHECK(nlohmann::json::parse(lines[4])["input"] == "in/2.png");
  // A file that is not a report is refused and left exactly as it was (no line end added).
  write_text(dir / "notes.txt", "not a report");
  ReportWriter other;
  CHECK(!other.open(dir / "notes.txt", {}).ok());
  CHECK(read_text(dir / "notes.txt") == "not a report");
}

TEST_CASE("a report that is a FIFO, a pipe or a device", "[report][bad_input]") {
  TempDir dir;
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  SECTION("a FIFO nobody reads is refused at once, not waited on forever") {
    ReportFile file;  // blocking here (a hung test) is the failure this checks against
    const Status status = file.open(fifo);
    CHECK(status.message().find("nobody reads") != std::string::npos);
  }
  SECTION("a FIFO with a reader gets the lines, and cannot be read back for --resume") {
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    REQUIRE(reader >= 0);
    {
      ReportWriter report;
      REQUIRE(report.open(fifo, {{"command", "x"}}).ok());
      REQUIRE(report.write_task(task(1)).ok());
      REQUIRE(report.write_summary({{"ok", 1}}).ok());
    }
    char buffer[8192];
    const ssize_t n = ::read(reader, buffer, sizeof(buffer));
    ::close(reader);
    REQUIRE(n > 0);
    const auto lines = lines_of(std::string(buffer, static_cast<size_t>(n)));
    REQUIRE(lines.size() == 3);
    CHECK(nlohmann::json::parse(lines[0])["dips_report"] == kReportVersion);
    FinishedTasks finished;
    const Status resume = read_finished_tasks(fifo, &finished);
    CHECK(resume.message().find("cannot be read back") != std::string::npos);
  }
  SECTION("a pipe (/dev/stdout | ...) and /dev/null") {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    {
      ReportWriter report;
      REQUIRE(report.open("/proc/self/fd/" + std::to_string(pipe_fds[1]), {{"command", "x"}}).ok());
      REQUIRE(report.write_summary({{"ok", 0}}).ok());
    }
    ::close(pipe_fds[1]);
    char buffer[4096];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    ::close(pipe_fds[0]);
    CHECK(lines_of(std::string(buffer, static_cast<size_t>(std::max<ssize_t>(n, 0)))).size() == 2);
    ReportWriter null_report;
    CHECK(null_report.open("/dev/null", {{"command", "x"}}).ok());
    CHECK(null_report.write_summary({{"ok", 0}}).ok());
  }
}
