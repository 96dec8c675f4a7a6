#pragma once
#include <cstdint>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dips/status.h"

namespace simdjson::dom {
class element;
class parser;
}  // namespace simdjson::dom

namespace dips {

// Bounds on what page_data() puts in the page, so that a live page of a huge job stays cheap to serve.
struct PageLimits {
  size_t tasks = std::numeric_limits<size_t>::max();   // tasks kept: failures, those with thumbnails, the latest
  size_t pieces = std::numeric_limits<size_t>::max();  // the latest pieces of the last run kept
};

// What a report journal (report.h, any version) says, gathered for the report page (html_report.h): the
// runs it holds, each with its workers and their events, its tasks (the latest record of each task is the
// one the gallery shows), every piece and every span of rank 0's own work. Fed line by line, in order, so
// that the live dashboard can follow a journal as it grows. Lines it does not know are skipped.
class ReportModel {
 public:
  ReportModel();
  ~ReportModel();
  ReportModel(ReportModel&&) noexcept;
  ReportModel& operator=(ReportModel&&) noexcept;
  // Adds one line of the journal. The first line must be a dips report's header: false (and the line is
  // ignored) when it is not.
  bool add_line(std::string_view text);
  // Reads the complete lines `path` gained since the last call (a line still being written waits for the
  // next call). An unreadable file, or one that is not a dips report, is an error.
  Status read_more(const std::filesystem::path& path);
  // True once a dips report's header was read.
  bool is_report() const { return header_seen_; }
  // The page's data (docs/report.md, "The page's data"): JSON that the page's script renders, and that the
  // dashboard serves as /api/status with the live state laid over it.
  nlohmann::json page_data(const PageLimits& limits = {}) const;

 private:
  struct Worker {
    int rank = -1;
    std::string state = "ok";  // "ok" (alive at the end), "suspect", "standby", "lost", "unused", "unknown"
    std::string host, why;
    int64_t pid = 0;
    int threads = 0;
    double lost_t = -1;
    std::vector<uint64_t> lost_pieces;
  };
  struct Run {
    int version = 1;
    nlohmann::json header;             // the run's first line, as written
    nlohmann::json summary;            // null until its summary line
    std::map<int, Worker> workers;
    std::vector<nlohmann::json> events;
    double t_end = 0;                  // the latest time any line of it mentions
  };
  // A 100,000-task journal holds 100,000 of these while its page is built: kept small (thumbnails, which
  // only the first tasks of a run have, live apart).
  struct Thumbnails {
    std::string input, output;  // base64 JPEGs, either may be empty
  };
  struct Task {
    size_t run = 0;
    int64_t task = -1;
    std::string input, output, ops, status, error, origin;
    std::unique_ptr<Thumbnails> thumbs;  // null without thumbnails
    std::vector<std::string> decoded;
    int width = 0, height = 0;
    double ms = 0, t = -1;
    std::vector<int> ranks, lost;      // ranks that computed it; workers lost holding pieces of it
    bool latest = true;                // no later record of the same task
  };
  struct Piece {
    uint32_t run = 0, task = 0;
    uint8_t kind = 0, outcome = 0;
    int stage = 0, row0 = 0, row1 = 0, worker = -1;
    float sent = 0, done = 0, compute_ms = 0;
    uint64_t id = 0;
    uint32_t lost_begin = 0, lost_end = 0;  // its range in lost_
  };
  // A worker that held a piece whose result did not count: lost holding it, or (copy) holding it at
  // the same time as the one whose result counted (--tail-copies).
  struct Lost {
    int worker = -1;
    float sent = -1;
    bool copy = false;
  };
  struct Span {
    uint32_t run = 0, task = 0;
    uint8_t op = 0;
    float t0 = 0, t1 = 0;
    uint64_t bytes = 0;
  };

  void start_run(const nlohmann::json& line, int version);
  void add_task(const simdjson::dom::element& line, const std::string& status);
  void add_holders(const simdjson::dom::element& piece, const char* workers, const char* sent, bool copy);
  void add_event(const nlohmann::json& line);
  Run& current_run();
  uint8_t intern(std::vector<std::string>& table, const std::string& text);
  nlohmann::json status_json() const;
  nlohmann::json workers_json() const;
  nlohmann::json throughput_json() const;

  bool header_seen_ = false;
  std::vector<Run> runs_;
  // A deque: no doubling copy as it grows (100,000 records of ~376 bytes: a vector held 131,072 slots, and
  // both its old and new arrays while it grew).
  std::deque<Task> tasks_;
  std::vector<Piece> pieces_;
  std::vector<Lost> lost_;
  std::vector<Span> spans_;
  std::vector<std::string> kinds_, outcomes_, ops_;
  // Index in tasks_ of each task's latest record, by a hash of its resume key (input, ops, output): the keys
  // themselves took 19 MB for 100,000 tasks. Records whose keys share a hash are told apart by their fields.
  std::unordered_multimap<uint64_t, size_t> latest_;
  // Lines are read with simdjson and their parser kept from line to line: nlohmann's DOM allocated every
  // value of every line, and the journal of 20,000 thumbnails took 0.14 s to read that way, 0.03 s now. The
  // few lines kept whole (headers, summaries, events) are parsed again into nlohmann's JSON.
  std::unique_ptr<simdjson::dom::parser> parser_;
  uint64_t offset_ = 0;                   // read_more: bytes of the file consumed
  std::string partial_;                   // read_more: an incomplete last line
};

}  // namespace dips
