// report_model and html_report: what the report page shows of a journal of either version (runs, workers
// and their events, tasks with the latest record of each, pieces with outcomes, rank 0's spans,
// thumbnails), followed as it grows; the page embeds it so that no text of the report is markup.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <fstream>

#include "dips/html_report.h"
#include "dips/report_model.h"
#include "harness.h"
#include "journal_samples.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;
using Json = nlohmann::json;

namespace {

ReportModel model_of(const std::string& journal) {
  ReportModel model;
  size_t start = 0;
  while (start < journal.size()) {
    const size_t end = journal.find('\n', start);
    model.add_line(journal.substr(start, end - start));
    start = end == std::string::npos ? journal.size() : end + 1;
  }
  return model;
}

const Json& task_named(const Json& data, const std::string& input) {
  for (const Json& task : data["tasks"]) {
    if (task["input"] == input) return task;
  }
  FAIL("no task " << input);
  throw;
}

const Json& worker(const Json& data, size_t run, int rank) {
  for (const Json& w : data["workers"]) {
    if (w["run"] == run && w["rank"] == rank) return w;
  }
  FAIL("no worker " << rank << " in run " << run);
  throw;
}

std::string outcome(const Json& data, const Json& piece) { return data["outcomes"][piece[10].get<size_t>()]; }

// A version 2 journal: two workers greeted, one suspect then fine, the other lost holding piece 2 (sent
// again to rank 1), a banded task with rank 0's spans, thumbnails, and a task unfinished at the end.
const char* kVersion2 = R"({"dips_report":2,"dips_version":"0.2.0","command":"dips --op x","workers":2,"resume":false,"started_at":"2026-01-01T00:00:00Z"}
{"event":"worker_alive","worker":1,"t":0.01,"host":"node-a","pid":101,"threads":2,"sees_files":true}
{"event":"worker_alive","worker":2,"t":0.01,"host":"node-b","pid":202,"threads":1,"sees_files":true}
{"event":"worker_suspect","worker":1,"t":0.2}
{"event":"worker_ok","worker":1,"t":0.3}
{"event":"worker_lost","worker":2,"t":0.5,"why":"no answer within 1.5 s","pieces":1,"piece_ids":[2]}
{"event":"piece_resent","piece":2,"task":1,"kind":"band","from":2,"to":1,"t":0.51}
{"input":"in/a.png","output":"out/a.png","ops":"blur=3","status":"ok","error":null,"decoded":["hi"],"width":10,"height":20,"ms":5,"ranks":[1],"pieces":[{"kind":"file","stage":0,"worker":1,"sent":0.02,"done":0.1,"compute_ms":50,"queue_ms":1,"bytes_out":0,"bytes_in":0,"ok":true,"id":1,"outcome":"ok"}],"task":0,"t":0.1,"thumbnails":{"input":"/9j/AA==","output":"<script>"}}
{"input":"in/b.png","output":"out/b.png","ops":"blur=3","status":"ok","error":null,"decoded":[],"width":10,"height":40,"ms":9,"ranks":[1],"pieces":[{"kind":"decode","stage":0,"worker":1,"sent":0.03,"done":0.2,"compute_ms":10,"queue_ms":1,"bytes_out":0,"bytes_in":400,"ok":true,"id":3,"outcome":"ok"},{"kind":"band","stage":0,"rows":[20,40],"worker":1,"lost_on":[2],"sent":0.51,"done":0.6,"compute_ms":30,"queue_ms":1,"bytes_out":200,"bytes_in":200,"ok":true,"id":2,"lost_sent":[0.25],"outcome":"ok"}],"task":1,"t":0.7,"rank0":[{"op":"header","t0":0.02,"t1":0.021,"bytes":64},{"op":"stitch","t0":0.6,"t1":0.61,"bytes":0}]}
{"event":"task_unfinished","task":2,"input":"in/c.png","output":"out/c.png","ops":"blur=3","status":"unfinished","t":0.8,"pieces":[{"kind":"file","stage":0,"worker":1,"sent":0.7,"done":0,"compute_ms":0,"queue_ms":0,"bytes_out":0,"bytes_in":0,"ok":false,"id":4,"outcome":"unfinished"}]}
{"summary":{"tasks":3,"ok":2,"failed":0,"skipped":0,"unfinished":1,"wall_s":0.9,"megapixels":0.0006,"mp_per_s":0.001,"workers":2,"workers_lost":[2],"io":"shared","rank0_cpu_s":0.1,"rank0_peak_rss_mb":30,"exit_code":3}}
)";

}  // namespace

TEST_CASE("report model: a version 1 journal", "[report_model]") {
  const ReportModel model =
      model_of(version1_journal({{"in/a.png", "blur=3", "out/a.png"}, {"in/b.png", "blur=3", "out/b.png"}, {"in/c.png", "blur=3", "out/c.png", false}}));
  REQUIRE(model.is_report());
  const Json data = model.page_data();
  CHECK(data["runs"].size() == 1);
  CHECK(data["runs"][0]["version"] == 1);
  CHECK(data["status"]["state"] == "finished");
  CHECK(data["status"]["exit_code"] == 1);
  CHECK(data["tasks_total"] == 3);
  CHECK(data["tasks_failed"] == 1);
  CHECK(task_named(data, "in/a.png")["status"] == "ok");
  CHECK(task_named(data, "in/c.png")["status"] == "error");
  CHECK(task_named(data, "in/c.png")["error"] == "cannot decode image");
  CHECK(task_named(data, "in/b.png")["lost"] == std::vector<int>{2});
  // Workers: known from the pieces and the summary; the lost one from its event.
  CHECK(worker(data, 0, 1)["state"] == "ok");
  CHECK(worker(data, 0, 2)["state"] == "lost");
  CHECK(worker(data, 0, 2)["lost_t"] == 0.1);
  CHECK(worker(data, 0, 2)["why"] == "no answer within 1.5 s");
  // Outcomes inferred: ok, ok, and an error for the piece whose result came back failed.
  REQUIRE(data["pieces"].size() == 3);
  CHECK(outcome(data, data["pieces"][0]) == "ok");
  CHECK(outcome(data, data["pieces"][2]) == "error");
  CHECK(data["pieces"][1][12] == Json::parse("[[2, -1.0]]"));
  // Times: a version 1 task finished when its last piece came back.
  CHECK(task_named(data, "in/b.png")["t"] == 0.15);
}

TEST_CASE("report model: a version 1 journal of the first dips, without pieces", "[report_model]") {
  const std::string journal =
      version1_journal_without_pieces({{"in/a.png", "blur=3", "out/a.png"}, {"in/<b>.png", "blur=3", "out/b.png", false}});
  const ReportModel model = model_of(journal);
  REQUIRE(model.is_report());
  const Json data = model.page_data();
  CHECK(data["runs"].size() == 1);
  CHECK(data["runs"][0]["version"] == 1);
  CHECK(data["status"]["state"] == "finished");
  CHECK(data["status"]["exit_code"] == 1);
  CHECK(data["tasks_total"] == 2);
  CHECK(data["tasks_failed"] == 1);
  CHECK(task_named(data, "in/a.png")["status"] == "ok");
  CHECK(task_named(data, "in/<b>.png")["error"] == "cannot decode image");
  CHECK(data["pieces"].empty());
  TempDir dir;
  write_text(dir / "old.jsonl", journal);
  REQUIRE(write_report_page(dir / "old.jsonl", dir / "old.html").ok());
  const std::string page = read_text(dir / "old.html");
  CHECK(page.find("in/\\u003cb\\u003e.png") != std::string::npos);
  CHECK(page.find("in/<b>.png") == std::string::npos);
}

TEST_CASE("report model: a version 2 journal", "[report_model]") {
  const Json data = model_of(kVersion2).page_data();
  CHECK(data["status"]["state"] == "finished");
  CHECK(data["status"]["tasks_unfinished"] == 1);
  CHECK(data["runs"][0]["started_at"] == "2026-01-01T00:00:00Z");
  const Json& w1 = worker(data, 0, 1);
  CHECK(w1["state"] == "ok");  // suspect, then fine again
  CHECK(w1["host"] == "node-a");
  CHECK(w1["pid"] == 101);
  CHECK(w1["threads"] == 2);
  const Json& w2 = worker(data, 0, 2);
  CHECK(w2["state"] == "lost");
  CHECK(w2["lost_pieces"] == std::vector<uint64_t>{2});
  // The redone piece: done on rank 1 after rank 2, which held it from 0.25 s, was lost.
  bool found = false;
  for (const Json& piece : data["pieces"]) {
    if (piece[11] != 2) continue;
    found = true;
    CHECK(piece[4] == 20);  // its rows
    CHECK(piece[5] == 40);
    CHECK(piece[6] == 1);
    CHECK(piece[12] == Json::parse("[[2, 0.25]]"));
    CHECK(data["kinds"][piece[2].get<size_t>()] == "band");
  }
  CHECK(found);
  CHECK(task_named(data, "in/c.png")["status"] == "unfinished");
  CHECK(outcome(data, data["pieces"].back()) == "unfinished");
  // A task line's fields as the gallery shows them.
  const Json& a = task_named(data, "in/a.png");
  CHECK(a["decoded"] == std::vector<std::string>{"hi"});
  CHECK(a["output"] == "out/a.png");
  CHECK(a["ops"] == "blur=3");
  CHECK(a["width"] == 10);
  CHECK(a["height"] == 20);
  CHECK(a["ms"] == 5.0);
  CHECK(a["ranks"] == std::vector<int>{1});
  CHECK(a["error"] == "");
  REQUIRE(data["rank0"].size() == 2);
  CHECK(data["ops"][data["rank0"][1][2].get<size_t>()] == "stitch");
  // Thumbnails: base64 only; anything else is left out.
  CHECK(task_named(data, "in/a.png")["thumb_in"] == "/9j/AA==");
  CHECK_FALSE(task_named(data, "in/a.png").contains("thumb_out"));
  // Events for the timeline, each with its run.
  size_t lost_events = 0;
  for (const Json& event : data["events"]) lost_events += event["event"] == "worker_lost" && event["run"] == 0;
  CHECK(lost_events == 1);
  // Throughput: tasks done over time.
  CHECK(data["throughput"][0]["points"].back() == Json::parse("[0.7, 2, 0.0006]"));
}

TEST_CASE("report model: runs of a resumed job, torn lines, a file that is not a report", "[report_model]") {
  SECTION("the latest record of a task is the one shown; every run keeps its own") {
    std::string journal = version1_journal({{"in/a.png", "blur=3", "out/a.png"}, {"in/b.png", "blur=3", "out/b.png", false}}, true);
    journal += R"({"input":"in/c.png","sta)" "\n";  // rank 0 died writing this line
    journal += R"({"run":"continued","dips_report":2,"command":"dips --resume","workers":1,"resume":true})" "\n";
    journal += R"({"input":"in/b.png","output":"out/b.png","ops":"blur=3","status":"ok","error":null,"decoded":[],"width":4,"height":4,"ms":1,"ranks":[1],"pieces":[],"task":1,"t":0.2})" "\n";
    journal += "not json at all\n";
    journal += R"({"summary":{"tasks":3,"ok":1,"failed":0,"skipped":1,"unfinished":1,"wall_s":0.3,"exit_code":3}})" "\n";
    const Json data = model_of(journal).page_data();
    REQUIRE(data["runs"].size() == 2);
    CHECK(data["runs"][0]["summary"].is_null());  // interrupted
    CHECK(data["runs"][1]["resume"] == true);
    CHECK(data["runs"][1]["version"] == 2);
    CHECK(data["tasks"].size() == 2);  // a, and b's latest record
    CHECK(task_named(data, "in/b.png")["status"] == "ok");
    CHECK(task_named(data, "in/b.png")["run"] == 1);
    CHECK(data["status"]["tasks_ok"] == 2);
    CHECK(data["status"]["tasks_unfinished"] == 1);
    CHECK(data["status"]["tasks_skipped"] == 1);
    // The superseded record's pieces stay in run 0's timeline, named by their input.
    CHECK(data["pieces"][1][0] == 0);
    CHECK(data["pieces"][1][1] == -1);
    CHECK(data["pieces"][1][13] == "in/b.png");
  }
  SECTION("an interrupted journal") {
    const Json data = model_of(version1_journal({{"in/a.png", "blur=3", "out/a.png"}}, true)).page_data();
    CHECK(data["status"]["state"] == "interrupted");
    CHECK(data["status"]["exit_code"].is_null());
    CHECK(data["tasks_total"] == 1);
  }
  SECTION("not a report") {
    ReportModel model;
    CHECK_FALSE(model.add_line(R"({"not":"a report"})"));
    CHECK_FALSE(model.is_report());
    TempDir dir;
    std::ofstream(dir / "other.jsonl") << "hello\n";
    CHECK_FALSE(ReportModel().read_more(dir / "other.jsonl").ok());
    CHECK_FALSE(write_report_page(dir / "other.jsonl", dir / "other.html").ok());
    CHECK_FALSE(write_report_page(dir / "missing.jsonl", dir / "missing.html").ok());
    CHECK_FALSE(fs::exists(dir / "other.html"));
  }
}

TEST_CASE("report model: follows a journal as it grows, a line at a time", "[report_model]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  const std::string journal = kVersion2;
  const size_t cut = journal.find("{\"input\":\"in/b.png\"") + 30;  // in the middle of b's line
  std::ofstream(path, std::ios::binary) << journal.substr(0, cut);
  ReportModel model;
  REQUIRE(model.read_more(path).ok());
  CHECK(model.page_data()["tasks"].size() == 1);
  CHECK(model.page_data()["status"]["state"] == "interrupted");
  std::ofstream(path, std::ios::binary | std::ios::app) << journal.substr(cut);
  REQUIRE(model.read_more(path).ok());
  const Json data = model.page_data();
  CHECK(data["tasks"].size() == 3);
  CHECK(data["status"]["state"] == "finished");
  CHECK(data == model_of(journal).page_data());
}

TEST_CASE("report model: limits keep the latest tasks, failures first, and the latest pieces", "[report_model]") {
  std::vector<SampleTask> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back({"in/" + std::to_string(i) + ".png", "blur=3", "out/" + std::to_string(i) + ".png", i % 3 != 0});
  const ReportModel model = model_of(version1_journal(tasks));  // failures: 0, 3, 6, 9
  PageLimits limits;
  limits.tasks = 4;
  limits.pieces = 3;
  const Json data = model.page_data(limits);
  std::vector<std::string> inputs;
  for (const Json& task : data["tasks"]) inputs.push_back(task["input"]);
  CHECK(inputs == std::vector<std::string>{"in/6.png", "in/7.png", "in/8.png", "in/9.png"});
  CHECK(data["omitted"]["tasks"] == 6);
  CHECK(data["pieces"].size() == 3);
  CHECK(data["omitted"]["pieces"] == 7);
  CHECK(data["tasks_total"] == 10);  // the counts are of the whole journal
  CHECK(data["tasks_failed"] == 4);
}

TEST_CASE("report model: limits keep the tasks with thumbnails before the latest others", "[report_model]") {
  // A job's first tasks carry the gallery's thumbnails; a page limited to the latest tasks of a huge job
  // showed no picture at all.
  std::string journal = R"({"dips_report":2,"dips_version":"0.2.0","command":"dips --op x","workers":1,"resume":false})" "\n";
  for (int i = 0; i < 10; ++i) {
    journal += fmt::format(R"({{"input":"in/{0}.png","output":"out/{0}.png","ops":"grayscale","status":"{1}","error":{2},"width":1,"height":1,)"
                           R"("ms":1,"ranks":[1],"pieces":[],"task":{0},"t":{0}{3}}})" "\n",
                           i, i == 5 ? "error" : "ok", i == 5 ? "\"bad\"" : "null",
                           i < 2 ? R"(,"thumbnails":{"input":"/9j/AA==","output":"/9j/AA=="})" : "");
  }
  PageLimits limits;
  limits.tasks = 4;
  const Json data = model_of(journal).page_data(limits);
  std::vector<std::string> inputs;
  for (const Json& task : data["tasks"]) inputs.push_back(task["input"]);
  CHECK(inputs == std::vector<std::string>{"in/0.png", "in/1.png", "in/5.png", "in/9.png"});
  CHECK(data["tasks"][0]["thumb_in"] == "/9j/AA==");
  CHECK(data["omitted"]["tasks"] == 6);
}

TEST_CASE("report page: the data is embedded as data, whatever the report's texts say", "[report_model][html]") {
  const std::string hostile = "in/</script><script>document.title='pwned'</script><!--\xe2\x80\xa8.png";
  std::string journal = version1_journal({{hostile, "blur=3", "out/x.png"}});
  const Json data = model_of(journal).page_data();
  const std::string page = render_report_page(data);
  const std::string open = "<script id=\"dips-data\" type=\"application/json\">";
  REQUIRE(page.find(open) != std::string::npos);
  const size_t begin = page.find(open) + open.size(), end = page.find("</script>", begin);
  CHECK(page.substr(begin, end - begin).find('<') == std::string::npos);
  CHECK(Json::parse(page.substr(begin, end - begin)) == data);
  CHECK(page.find("<script>document.title") == std::string::npos);
  // Self-contained: nothing refers to another resource.
  for (const char* reference : {"src=\"http", "href=\"http", "@import", "url(http", "<link"}) CHECK(page.find(reference) == std::string::npos);

  TempDir dir;
  std::ofstream(dir / "report.jsonl") << journal;
  REQUIRE(write_report_page(dir / "report.jsonl", dir / "report.html").ok());
  CHECK(read_text(dir / "report.html").find("\"source\":\"report.jsonl\"") != std::string::npos);
}

TEST_CASE("report page: named after its journal, never the journal itself", "[report_model][html]") {
  CHECK(report_page_path("out/report.jsonl") == fs::path("out/report.html"));
  CHECK(report_page_path("out/journal") == fs::path("out/journal.html"));
  CHECK(report_page_path("out/r.html") == fs::path("out/r.html.html"));
}

TEST_CASE("report model: workers standing by, one that took over, one lost while standing by", "[report_model]") {
  const std::string journal = R"J({"dips_report":2,"dips_version":"0.2.0","command":"dips --op x","workers":4,"resume":false,"started_at":"2026-01-01T00:00:00Z"}
{"event":"worker_alive","worker":1,"t":0.01,"host":"vm","pid":101,"threads":1,"sees_files":true,"cpus":1}
{"event":"worker_alive","worker":2,"t":0.01,"host":"vm","pid":102,"threads":1,"sees_files":true,"cpus":1}
{"event":"worker_alive","worker":3,"t":0.01,"host":"vm","pid":103,"threads":1,"sees_files":true,"cpus":1}
{"event":"worker_standby","worker":2,"t":0.02,"why":"the workers before it on vm keep its 1 core busy (--host-cores auto)"}
{"event":"worker_standby","worker":3,"t":0.02,"why":"the workers before it on vm keep its 1 core busy (--host-cores auto)"}
{"event":"worker_lost","worker":1,"t":0.5,"why":"no answer within 1.5 s","pieces":0,"piece_ids":[]}
{"event":"worker_working","worker":2,"t":0.5}
{"event":"worker_lost","worker":3,"t":0.6,"why":"no answer within 1.5 s","pieces":0,"piece_ids":[]}
{"summary":{"tasks":0,"ok":0,"failed":0,"skipped":0,"unfinished":0,"wall_s":0.9,"megapixels":0,"mp_per_s":0,"workers":3,"workers_lost":[1,3],"io":"shared","rank0_cpu_s":0.1,"rank0_peak_rss_mb":30,"exit_code":0}}
)J";
  const Json data = model_of(journal).page_data();
  CHECK(worker(data, 0, 1)["state"] == "lost");
  CHECK(worker(data, 0, 2)["state"] == "ok");  // it took over
  CHECK_FALSE(worker(data, 0, 2).contains("why"));
  CHECK(worker(data, 0, 3)["state"] == "lost");
  CHECK(worker(data, 0, 3)["why"] == "no answer within 1.5 s");
  const Json standing = model_of(journal.substr(0, journal.find("{\"event\":\"worker_lost\""))).page_data();
  CHECK(worker(standing, 0, 2)["state"] == "standby");
  CHECK(worker(standing, 0, 3)["why"] == "the workers before it on vm keep its 1 core busy (--host-cores auto)");
}

TEST_CASE("report model: a piece copied from a suspect names both holders; only the lost one counts as lost", "[report_model]") {
  // Rank 2 fell silent at the tail: its band was copied to rank 1, whose result counted; rank 2 was
  // suspect at the end, never declared lost (--tail-copies). Another piece was lost on rank 3 and redone.
  const std::string journal = R"({"dips_report":2,"dips_version":"t","command":"dips","workers":3,"resume":false,"started_at":"2026-01-01T00:00:00Z"}
{"event":"worker_suspect","worker":2,"t":0.4}
{"event":"piece_copied","piece":5,"task":0,"kind":"band","from":2,"to":1,"t":0.45}
{"input":"in/a.png","output":"out/a.png","ops":"blur=3","status":"ok","error":null,"decoded":[],"width":10,"height":40,"ms":9,"ranks":[1],"pieces":[{"kind":"band","stage":0,"rows":[0,20],"worker":1,"sent":0.45,"done":0.5,"compute_ms":10,"queue_ms":1,"bytes_out":0,"bytes_in":400,"ok":true,"id":5,"outcome":"ok","also_on":[2],"also_sent":[0.2]},{"kind":"band","stage":0,"rows":[20,40],"worker":1,"lost_on":[3],"sent":0.3,"done":0.35,"compute_ms":10,"queue_ms":1,"bytes_out":0,"bytes_in":400,"ok":true,"id":6,"lost_sent":[0.1],"outcome":"ok"}],"task":0,"t":0.55}
{"summary":{"tasks":1,"ok":1,"failed":0,"skipped":0,"unfinished":0,"wall_s":0.6,"megapixels":0.0004,"mp_per_s":0.001,"workers":3,"workers_lost":[3],"workers_suspect":[2],"io":"shared","rank0_cpu_s":0.1,"rank0_peak_rss_mb":30,"exit_code":0}}
)";
  const Json data = model_of(journal).page_data();
  CHECK(task_named(data, "in/a.png")["lost"] == std::vector<int>{3});  // not rank 2: it lost nothing
  std::map<uint64_t, Json> holders;
  for (const Json& piece : data["pieces"]) holders[piece[11].get<uint64_t>()] = piece[12];
  CHECK(holders.at(5) == Json::parse("[[2, 0.2, 1]]"));
  CHECK(holders.at(6) == Json::parse("[[3, 0.1]]"));
  CHECK(worker(data, 0, 2)["state"] == "suspect");
  CHECK(worker(data, 0, 3)["state"] == "lost");
}
