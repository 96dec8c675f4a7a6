// report: the JSON-lines report is versioned and flushed per task, and --resume reads what finished
// (a line torn by a crash, a file that is not a report, a newer version, version 1's journals).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "dips/report.h"
#include "harness.h"
#include "journal_samples.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

TEST_CASE("report: versioned, flushed on demand; resume reads what finished", "[report]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "x"}}).ok());
    TaskRecord ok{"in/a.png", "out/a.png", "blur=5", true, "", {"qr"}, 10, 20, 1.5, {1, 2}, "", {}, -1, 0, "", "", {}};
    REQUIRE(report.write_task(ok).ok());
    REQUIRE(report.flush().ok());
    // Readable once flushed, before the writer is closed.
    std::set<std::string> finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished.count(resume_key("in/a.png", "blur=5", "out/a.png")) == 1);
    TaskRecord failed{"in/b.png", "out/b.png", "blur=5", false, "cannot decode", {}, 0, 0, 1, {1}, "m.tsv:3", {}, -1, 0, "", "", {}};
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

TEST_CASE("report version 2: piece ids, outcomes, rank 0's spans and thumbnails; version 1 still resumes", "[report]") {
  TempDir dir;
  SECTION("a version 1 journal resumes, and a continued run says its own version") {
    const fs::path path = dir / "v1.jsonl";
    std::ofstream(path) << version1_journal({{"in/a.png", "blur=3", "out/a.png"}, {"in/b.png", "blur=3", "out/b.png"}, {"in/c.png", "blur=3", "out/c.png", false}});
    std::set<std::string> finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished == std::set<std::string>{resume_key("in/a.png", "blur=3", "out/a.png"), resume_key("in/b.png", "blur=3", "out/b.png")});
    {
      ReportWriter report;
      REQUIRE(report.open(path, {{"command", "again"}}).ok());
    }
    const auto lines = read_report(path);
    CHECK(lines.front()["dips_report"] == 1);
    CHECK(lines.back()["run"] == "continued");
    CHECK(lines.back()["dips_report"] == kReportVersion);
    CHECK(kReportVersion == 2);
  }
  SECTION("a version 1 journal of the first dips (no pieces) resumes") {
    const fs::path path = dir / "v1-first.jsonl";
    std::ofstream(path) << version1_journal_without_pieces({{"in/a.png", "blur=3", "out/a.png"}, {"in/c.png", "blur=3", "out/c.png", false}});
    std::set<std::string> finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished == std::set<std::string>{resume_key("in/a.png", "blur=3", "out/a.png")});
  }
  SECTION("a run after a crash that cut a line short starts on a line of its own") {
    const fs::path path = dir / "torn.jsonl";
    std::ofstream(path) << version1_journal({{"in/a.png", "blur=3", "out/a.png"}}, true) << R"({"input":"in/b.png","sta)";
    {
      ReportWriter report;
      REQUIRE(report.open(path, {{"command", "resumed"}}).ok());
    }
    const std::string text = read_text(path);
    CHECK(text.find("\"sta\n{\"run\":\"continued\"") != std::string::npos);
  }
  SECTION("a task line's version 2 fields") {
    TaskRecord record{"in/a.png", "out/a.png", "blur=5", false, "cannot write", {}, 8, 6, 2.5, {1}, "", {}, -1, 0, "", "", {}};
    PieceRecord piece;
    piece.kind = "band";
    piece.row0 = 0;
    piece.row1 = 4;
    piece.worker = 1;
    piece.lost_on = {2};
    piece.lost_sent = {0.12346};
    piece.sent = 0.2;
    piece.done = 0.3;
    piece.id = 17;
    piece.outcome = "error";
    record.pieces = {piece};
    record.task = 3;
    record.t = 0.31;
    record.rank0 = {Rank0Span{"read", 0.01, 0.02, 1234}};
    record.thumbnail_input = "AAAA";
    const nlohmann::ordered_json j = task_json(record);
    CHECK(j["task"] == 3);
    CHECK(j["t"] == 0.31);
    CHECK(j["pieces"][0]["id"] == 17);
    CHECK(j["pieces"][0]["outcome"] == "error");
    CHECK(j["pieces"][0]["lost_on"] == std::vector<int>{2});
    CHECK(j["pieces"][0]["lost_sent"] == std::vector<double>{0.1235});
    CHECK(j["rank0"][0]["op"] == "read");
    CHECK(j["rank0"][0]["bytes"] == 1234);
    CHECK(j["thumbnails"]["input"] == "AAAA");
    CHECK_FALSE(j["thumbnails"].contains("output"));
    // Version 1's fields are all still there, as they were.
    for (const char* key : {"input", "output", "ops", "status", "error", "decoded", "width", "height", "ms", "ranks", "pieces"}) CHECK(j.contains(key));
    for (const char* key : {"kind", "stage", "rows", "worker", "sent", "done", "compute_ms", "queue_ms", "bytes_out", "bytes_in", "ok"}) {
      CHECK(j["pieces"][0].contains(key));
    }
  }
}
