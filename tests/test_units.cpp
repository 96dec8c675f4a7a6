// Unit tests of the coordinator's pieces that need no MPI: the scheduler state machine, the wire format,
// the command line, the report journal, fault plans, and a whole job through the in-process transport.
#include <catch2/catch.hpp>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "dips/cli.h"
#include "dips/coordinator.h"
#include "dips/fault.h"
#include "dips/progress.h"
#include "dips/report.h"
#include "dips/scheduler.h"
#include "dips/wire.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

TEST_CASE("scheduler: pieces go to the least loaded live worker, up to the queue depth", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{0.2, 1.0, 0, 2});
  std::vector<uint64_t> pieces;
  for (int i = 0; i < 6; ++i) pieces.push_back(s.add_piece());
  std::map<int, int> load;
  while (auto a = s.assign(0)) ++load[a->second];
  CHECK(load == std::map<int, int>{{1, 2}, {2, 2}});
  CHECK(s.worker_state(1) == WorkerState::kBusy);
  CHECK(s.piece_state(pieces[4]) == PieceState::kPending);
  REQUIRE(s.complete(pieces[0], s.piece_worker(pieces[0]), false));
  auto next = s.assign(0.01);
  REQUIRE(next);
  CHECK(next->first == pieces[4]);  // oldest pending first
  CHECK(s.unfinished() == 5);
}

TEST_CASE("scheduler: a silent worker is suspect, then dead; its pieces go to the others exactly once", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{0.2, 1.0, 0, 2});
  const uint64_t a = s.add_piece(), b = s.add_piece(), c = s.add_piece();
  s.assign(0);
  s.assign(0);
  s.assign(0);
  const int victim = s.piece_worker(a);
  const int survivor = victim == 1 ? 2 : 1;
  CHECK(s.pings_due(0).size() == 2);
  s.heard(survivor);
  CHECK(s.expire(0.3).empty());
  CHECK(s.worker_state(victim) == WorkerState::kSuspect);  // a ping overdue: no new work for it
  CHECK(s.pings_due(0.3).size() == 2);
  s.heard(survivor);
  const auto dead = s.expire(1.1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].first == victim);
  CHECK(dead[0].second == 2);  // both of its pieces went back
  CHECK(s.worker_state(victim) == WorkerState::kDead);
  CHECK(s.piece_state(a) == PieceState::kPending);
  // The survivor takes them once it has room; a late result from the dead worker is ignored.
  CHECK_FALSE(s.complete(a, victim, false));
  for (uint64_t p : {a, b, c}) {
    if (s.piece_worker(p) == survivor) REQUIRE(s.complete(p, survivor, false));
  }
  while (auto next = s.assign(1.2)) {
    CHECK(next->second == survivor);
    REQUIRE(s.complete(next->first, survivor, false));
    CHECK_FALSE(s.complete(next->first, survivor, false));  // a duplicate is not counted twice
  }
  CHECK(s.unfinished() == 0);
  CHECK(s.live_workers() == 1);
  CHECK(s.pings_due(2.0) == std::vector<int>{survivor});  // the dead are never pinged again
}

TEST_CASE("scheduler: a busy worker that answers pings is never declared dead, however long its piece", "[scheduler]") {
  Scheduler s({1}, SchedulerOptions{0.2, 1.0, 0, 1});
  const uint64_t piece = s.add_piece();
  REQUIRE(s.assign(0));
  for (double t = 0; t < 600; t += 0.2) {
    for (int w : s.pings_due(t)) s.heard(w);
    REQUIRE(s.expire(t + 0.1).empty());
  }
  CHECK(s.worker_state(1) == WorkerState::kBusy);
  CHECK(s.complete(piece, 1, false));
}

TEST_CASE("scheduler: the piece deadline catches a worker whose computation hangs", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{0.2, 1.0, 5.0, 1});
  s.add_piece();
  REQUIRE(s.assign(0));
  for (double t = 0; t < 5.0; t += 0.2) {
    for (int w : s.pings_due(t)) s.heard(w);
    REQUIRE(s.expire(t).empty());
  }
  for (int w : s.pings_due(5.2)) s.heard(w);
  CHECK(s.expire(5.2).size() == 1);
  CHECK(s.live_workers() == 1);
}

TEST_CASE("scheduler: with every worker dead nothing is assigned", "[scheduler]") {
  Scheduler s({1, 2}, SchedulerOptions{});
  s.add_piece();
  s.declare_dead(1);
  CHECK(s.declare_dead(2) == 0);
  CHECK(s.live_workers() == 0);
  CHECK_FALSE(s.assign(0));
}

TEST_CASE("wire: work and result messages round-trip", "[wire]") {
  Pipeline steps;
  REQUIRE(parse_pipeline("blur=7,edge_detection", &steps).ok());
  WorkMessage work;
  work.piece_id = 42;
  work.kind = WorkKind::kBand;
  work.steps = steps;
  work.rows = PieceRows{10, 20, 5, 25};
  work.image = photo_like(20, 13, 1);
  std::vector<uint8_t> buffer = encode_work(work);
  WorkMessage back;
  REQUIRE(decode_work(buffer.data(), buffer.size(), &back).ok());
  CHECK(back.piece_id == 42);
  CHECK(back.kind == WorkKind::kBand);
  CHECK(pipeline_text(back.steps) == "blur=7,edge_detection");
  CHECK(back.rows.in_row1 == 25);
  CHECK(identical(back.image, work.image));
  // A band whose rows do not match its pixels is refused.
  work.rows = PieceRows{10, 20, 5, 30};
  buffer = encode_work(work);
  CHECK_FALSE(decode_work(buffer.data(), buffer.size(), &back).ok());

  ResultMessage result;
  result.piece_id = 7;
  result.decoded = {"a", "", "ünïcode"};
  result.histogram.assign(256, 3.0);
  result.image = photo_like(3, 4, 2);
  result.bytes = {1, 2, 3};
  buffer = encode_result(result);
  ResultMessage result_back;
  REQUIRE(decode_result(buffer.data(), buffer.size(), &result_back).ok());
  CHECK(result_back.decoded == result.decoded);
  CHECK(result_back.histogram == result.histogram);
  CHECK(identical(result_back.image, result.image));
  CHECK(result_back.bytes == result.bytes);
  for (size_t cut = 0; cut < buffer.size(); ++cut) CHECK_FALSE(decode_result(buffer.data(), cut, &result_back).ok());
}

TEST_CASE("command line: modes, defaults and errors", "[cli]") {
  Options o;
  const char* ok[] = {"dips", "--op", "blur=3", "--output", "out", "a.png", "dir"};
  REQUIRE(parse_options(7, ok, &o).ok());
  CHECK(o.job.inputs == std::vector<std::string>{"a.png", "dir"});
  CHECK(o.report == fs::path("out/report.jsonl"));
  CHECK(o.tile_rows == 0);
  Options none;
  const char* no_output[] = {"dips", "--op", "blur", "a.png"};
  CHECK(parse_options(4, no_output, &none).message().find("--output") != std::string::npos);
  Options both;
  const char* two_modes[] = {"dips", "--op", "blur", "--manifest", "m", "--output", "o"};
  CHECK_FALSE(parse_options(7, two_modes, &both).ok());
  Options bad;
  const char* unknown[] = {"dips", "--frobnicate", "--output", "o"};
  CHECK(parse_options(4, unknown, &bad).message().find("--help") != std::string::npos);
  CHECK(list_ops_text().find("equalize_histogram") != std::string::npos);
  for (const auto& op : operations()) CHECK(list_ops_text().find(std::string(op.name)) != std::string::npos);
  CHECK(help_text().find("Exit status") != std::string::npos);
}

TEST_CASE("fault plans parse, and only the named rank gets one", "[fault]") {
  std::string error;
  FaultPlan plan = parse_fault_plan("rank:2,after:5,kind:stop", &error);
  CHECK(error.empty());
  CHECK(plan.rank == 2);
  CHECK(plan.after == 5);
  CHECK(plan.kind == "stop");
  parse_fault_plan("rank:x", &error);
  CHECK_FALSE(error.empty());
  error.clear();
  CHECK_FALSE(parse_fault_plan("rank:1,after:1,kind:explode", &error).active());
  ::setenv("DIPS_FAULT", "rank:1,after:3,kind:kill;rank:2,after:1,kind:slow", 1);
  CHECK(fault_plan_for_rank(2).kind == "slow");
  CHECK(fault_plan_for_rank(1).after == 3);
  CHECK_FALSE(fault_plan_for_rank(3).active());
  int count = 0;
  CHECK(fault_tick(fault_plan_for_rank(3), &count) == FaultAction::kNone);
  ::unsetenv("DIPS_FAULT");
}

TEST_CASE("report: versioned, flushed per task; resume reads what finished", "[report]") {
  TempDir dir;
  const fs::path path = dir / "report.jsonl";
  {
    ReportWriter report;
    REQUIRE(report.open(path, {{"command", "x"}}).ok());
    TaskRecord ok{"in/a.png", "out/a.png", "blur=5", true, "", {"qr"}, 10, 20, 1.5, {1, 2}, ""};
    REQUIRE(report.write_task(ok).ok());
    // Flushed at once: readable before the writer is closed.
    std::set<std::string> finished;
    REQUIRE(read_finished_tasks(path, &finished).ok());
    CHECK(finished.count(resume_key("in/a.png", "blur=5", "out/a.png")) == 1);
    TaskRecord failed{"in/b.png", "out/b.png", "blur=5", false, "cannot decode", {}, 0, 0, 1, {1}, "m.tsv:3"};
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

TEST_CASE("progress line", "[progress]") {
  ProgressState state{8, 2, 20, 30.0, 10.0, 2, 3};
  CHECK(progress_line(state) == "10/20 tasks, 2 failed, 3.0 MP/s, ETA 0:10, workers 2/3");
}

TEST_CASE("a whole job through the in-process transport (single rank)", "[coordinator]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(50, 60, 1)));
  REQUIRE(cv::imwrite((dir / "in/b.png").string(), qr_image({"dips"})));
  Options options;
  const std::string in = (dir / "in").string(), out = (dir / "out").string();
  const char* argv[] = {"dips", "--quiet", "--tile-rows", "7", "--op", "blur=3,read_qr_code", "--output", out.c_str(), in.c_str()};
  REQUIRE(parse_options(9, argv, &options).ok());
  auto transport = make_local_transport();
  CHECK(run_coordinator(options, *transport, "test") == ExitCode::kOk);
  Pipeline pipeline;
  REQUIRE(parse_pipeline("blur=3,read_qr_code", &pipeline).ok());
  for (const char* name : {"a.png", "b.png"}) {
    OpResult expected;
    REQUIRE(run_pipeline_whole(cv::imread((dir / "in" / name).string()), pipeline, &expected).ok());
    CHECK(identical(read_output(dir / "out" / name), expected.image));
  }
  CHECK(report_tasks(dir / "out/report.jsonl").at((dir / "out/b.png").string())["decoded"] == std::vector<std::string>{"dips"});
}
