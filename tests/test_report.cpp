// report: the JSON-lines report is versioned and flushed per task, and --resume reads what finished
// (a line torn by a crash, a file that is not a report, a newer version).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "dips/report.h"
#include "harness.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

TEST_CASE("report: versioned, flushed on demand; resume reads what finished", "[report]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "x"}}).ok());
    TaskRecord ok{"in/a.png", "out/a.png", "blur=5", true, "", {"qr"}, 10, 20, 1.5, {1, 2}, "", {}};
    REQUIRE(report.write_task(ok).ok());
    REQUIRE(report.flush().ok());
    // Readable once flushed, before the writer is closed.
    std::set<std::string> finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished.count(resume_key("in/a.png", "blur=5", "out/a.png")) == 1);
    TaskRecord failed{"in/b.png", "out/b.png", "blur=5", false, "cannot decode", {}, 0, 0, 1, {1}, "m.tsv:3", {}};
    REQUIRE(report.write_task(failed).ok());
  }
  {
    std::ofstream torn(path, std::ios::app);
    torn << "{\"input\": \"in/c.png\", \"sta";  // a line cut short by a crash
  }
  std::set<std::string> finished;
  REQUIRE(read_finished_tasks(path, &finished).ok());
  CHECK(finished.size() == 1);
  std::ofstream(dir / "other.jsonl") << "{\"not\": \"a report\"}\n";
  CHECK_FALSE(read_finished_tasks(dir / "other.jsonl", &finished).ok());
  std::ofstream(dir / "newer.jsonl") << "{\"dips_report\": 99}\n";
  CHECK(read_finished_tasks(dir / "newer.jsonl", &finished).message().find("newer") != std::string::npos);
}
