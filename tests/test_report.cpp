// report: the JSON-lines report is versioned and flushed per task, and --resume reads what finished
// (a line torn by a crash, a file that is not a report, a newer version, version 1's journals).
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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
    FinishedTasks finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished.count(resume_key("in/a.png", "blur=5", "out/a.png")) == 1);
    TaskRecord failed{"in/b.png", "out/b.png", "blur=5", false, "cannot decode", {}, 0, 0, 1, {1}, "m.tsv:3", {}, -1, 0, "", "", {}};
    REQUIRE(report.write_task(failed).ok());
  }
  {
    std::ofstream torn(path, std::ios::app);
    torn << "{\"input\": \"in/c.png\", \"sta";  // a line cut short by a crash
  }
  FinishedTasks finished;
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
    FinishedTasks finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished.size() == 2);
    CHECK(finished.count(resume_key("in/a.png", "blur=3", "out/a.png")) == 1);
    CHECK(finished.count(resume_key("in/b.png", "blur=3", "out/b.png")) == 1);
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
    FinishedTasks finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished.size() == 1);
    CHECK(finished.count(resume_key("in/a.png", "blur=3", "out/a.png")) == 1);
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
    piece.also_on = {4};
    piece.also_sent = {0.25004};
    record.pieces = {piece};
    record.task = 3;
    record.t = 0.31;
    record.rank0 = {Rank0Span{"read", 0.01, 0.02, 1234}};
    record.thumbnail_input = "AAAA";
    const nlohmann::ordered_json j = nlohmann::ordered_json::parse(task_line(record));
    CHECK(j["task"] == 3);
    CHECK(j["t"] == 0.31);
    CHECK(j["pieces"][0]["id"] == 17);
    CHECK(j["pieces"][0]["outcome"] == "error");
    CHECK(j["pieces"][0]["lost_on"] == std::vector<int>{2});
    CHECK(j["pieces"][0]["lost_sent"] == std::vector<double>{0.1235});
    CHECK(j["pieces"][0]["also_on"] == std::vector<int>{4});
    CHECK(j["pieces"][0]["also_sent"] == std::vector<double>{0.25});
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

TEST_CASE("report: a name that is not UTF-8 stays valid JSON and is matched exactly", "[report]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  const std::string latin1 = "in/latin1_\xe9.png", out = "out/latin1_\xe9.png";
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "x"}}).ok());
    TaskRecord record{latin1, out, "blur=5", true, "", {}, 4, 4, 1, {1}, "", {}, -1, 0, "", "", {}};
    REQUIRE(report.write_task(record).ok());
    TaskRecord utf8{"in/caf\xc3\xa9.png", "out/caf\xc3\xa9.png", "blur=5", true, "", {}, 4, 4, 1, {1}, "", {}, -1, 0, "", "", {}};
    REQUIRE(report.write_task(utf8).ok());
  }
  std::vector<nlohmann::json> lines;
  for (const auto& line : read_report(path)) lines.push_back(line);  // read_report's strict parse throws on bad UTF-8
  REQUIRE(lines.size() == 3);
  CHECK(lines[1]["input"] == "in/latin1_\xef\xbf\xbd.png");  // U+FFFD for display
  CHECK(lines[1]["input_base64"] == "aW4vbGF0aW4xX+kucG5n");
  CHECK(lines[1]["output_base64"] == "b3V0L2xhdGluMV/pLnBuZw==");
  CHECK_FALSE(lines[2].contains("input_base64"));  // valid UTF-8 needs none
  FinishedTasks finished;
  REQUIRE(read_finished_tasks(path, &finished).ok());
  CHECK(finished.count(resume_key(latin1, "blur=5", out)) == 1);
  CHECK(finished.count(resume_key("in/latin1_\xef\xbf\xbd.png", "blur=5", "out/latin1_\xef\xbf\xbd.png")) == 0);
  CHECK(finished.count(resume_key("in/caf\xc3\xa9.png", "blur=5", "out/caf\xc3\xa9.png")) == 1);
  // A damaged base64 field makes the line unusable rather than matching some other name.
  std::ofstream(path, std::ios::app) << R"({"input":"x","input_base64":"!!","output":"o","ops":"blur=5","status":"ok"})" << "\n";
  finished.clear();
  REQUIRE(read_finished_tasks(path, &finished).ok());
  CHECK(finished.size() == 2);
}

TEST_CASE("report: --resume skips a task only while its input and output are as recorded", "[report]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl", input = dir / "in.png", output = dir / "out.png";
  write_text(input, "input bytes");
  write_text(output, "output bytes");
  const FileIdentity in = file_identity(input);
  REQUIRE(in.size == 11);
  REQUIRE(in.mtime_ns > 0);
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "x"}}).ok());
    TaskRecord record{input.string(), output.string(), "blur=5", true, "", {}, 4, 4, 1, {1}, "", {}, -1, 0, "", "", {}};
    record.input_size = in.size;
    record.input_mtime_ns = in.mtime_ns;
    record.output_size = file_identity(output).size;
    REQUIRE(report.write_task(record).ok());
  }
  CHECK(read_report(path)[1]["input_mtime_ns"] == in.mtime_ns);
  CHECK(read_report(path)[1]["output_size"] == 12);
  const std::string key = resume_key(input.string(), "blur=5", output.string());
  FinishedTasks finished;
  REQUIRE(read_finished_tasks(path, &finished).ok());
  CHECK(still_finished(finished, key, input, output));
  CHECK_FALSE(still_finished(finished, resume_key(input.string(), "blur=3", output.string()), input, output));

  SECTION("input rewritten with the same size: its modification time differs") {
    write_text(input, "INPUT BYTES");
    fs::last_write_time(input, fs::last_write_time(input) + std::chrono::seconds(1));
    CHECK_FALSE(still_finished(finished, key, input, output));
  }
  SECTION("input of another size, modification time put back") {
    const auto mtime = fs::last_write_time(input);
    write_text(input, "longer input bytes");
    fs::last_write_time(input, mtime);
    CHECK_FALSE(still_finished(finished, key, input, output));
  }
  SECTION("output truncated, or gone") {
    write_text(output, "out");
    CHECK_FALSE(still_finished(finished, key, input, output));
    fs::remove(output);
    CHECK_FALSE(still_finished(finished, key, input, output));
  }
  SECTION("a later error line for the task: it is not finished") {
    {
      ReportWriter report;
      REQUIRE(report.open(path, {{"command", "y"}}).ok());
      REQUIRE(report.write_task(TaskRecord{input.string(), output.string(), "blur=5", false, "boom", {}, 0, 0, 1, {1}, "", {}, -1, 0, "", "", {}}).ok());
    }
    FinishedTasks again;
    REQUIRE(read_finished_tasks(path, &again).ok());
    CHECK_FALSE(still_finished(again, key, input, output));
  }
  SECTION("a report of dips 0.1 (no sizes): skipped while the output exists, as before") {
    const fs::path old = dir / "old.jsonl";
    std::ofstream(old) << R"({"dips_report":1})" << "\n"
                       << nlohmann::json{{"input", input.string()}, {"output", output.string()}, {"ops", "blur=5"}, {"status", "ok"}}.dump() << "\n";
    write_text(input, "changed, but nothing recorded to tell");
    FinishedTasks legacy;
    REQUIRE(read_finished_tasks(old, &legacy).ok());
    CHECK(still_finished(legacy, key, input, output));
    fs::remove(output);
    CHECK_FALSE(still_finished(legacy, key, input, output));
  }
}
