// Elastic workers on one machine (no namespaces, any user; the multi-host cases are in netns_test.sh):
// lost workers replaced through MPI_Comm_spawn in both launch shapes, several replacements in a row, the
// bad-node rule, and --grow-from adding and draining workers. Faults land by construction: one worker
// (so the replacement must finish the job), --lookahead 0, faults armed on global progress, rank 0's hold.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "dips/pipeline.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

constexpr const char* kPipeline = "blur=3,edge_detection";

struct ElasticJob {
  TempDir dir;
  std::vector<std::string> names;
  explicit ElasticJob(int images = 6) {
    fs::create_directories(dir / "in");
    for (int i = 0; i < images; ++i) {
      names.push_back("img" + std::to_string(i) + ".png");
      REQUIRE(cv::imwrite((dir / "in" / names.back()).string(), photo_like(64 + 8 * i, 80, 200 + i)));
    }
  }
  // One piece per worker at a time, 8-row bands: about a hundred pieces (tile_rows 100000: one per image).
  // Every worker works, however many cores the machine has (--host-cores all).
  std::string args(const fs::path& outdir, const std::string& extra = "", int tile_rows = 8) const {
    return "--quiet --tile-rows " + std::to_string(tile_rows) + " --lookahead 0 --host-cores all --op " + std::string(kPipeline) + " --output " + quoted(outdir) + " " + extra + " " + quoted(dir / "in");
  }
  void check_exact(const fs::path& outdir) const {
    Pipeline pipeline;
    REQUIRE(parse_pipeline(kPipeline, &pipeline).ok());
    const auto tasks = report_tasks(outdir / "report.jsonl");
    CHECK(tasks.size() == names.size());
    for (const auto& name : names) {
      INFO(name);
      OpResult expected;
      REQUIRE(run_pipeline_whole(cv::imread((dir / "in" / name).string()), pipeline, &expected).ok());
      CHECK(identical(read_output(outdir / name), expected.image));
      REQUIRE(tasks.count((outdir / name).string()));
      CHECK(tasks.at((outdir / name).string())["status"] == "ok");
    }
  }
};

nlohmann::json summary_of(const fs::path& outdir) {
  const auto lines = read_report(outdir / "report.jsonl");
  REQUIRE(!lines.empty());
  REQUIRE(lines.back().contains("summary"));
  return lines.back()["summary"];
}

// Replaces a file at once (a reader sees the old or the new contents, never half).
void replace_file(const fs::path& path, const std::string& text) {
  write_text(path.string() + ".new", text);
  fs::rename(path.string() + ".new", path);
}

// Waits (up to 120 s on a busy machine) until the report records `tasks` finished tasks.
bool wait_for_tasks(const fs::path& report, size_t tasks) {
  for (int i = 0; i < 2400; ++i) {
    std::ifstream in(report);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find("\"input\"") != std::string::npos;
    if (n >= tasks) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST_CASE("a killed worker is replaced and the job completes exact, in both launch shapes", "[elastic][respawn]") {
  ElasticJob job;
  for (const std::string launch : {"world", "spawned"}) {
    DYNAMIC_SECTION("--launch " << launch) {
      const fs::path outdir = job.dir / ("out_" + launch);
      // One worker: once it is dead only its replacement can finish the job.
      const RunResult run = run_dips_run(2, job.args(outdir), "DIPS_FAULT='rank:1,after:3,kind:kill'", "--launch " + launch);
      INFO(run.output);
      REQUIRE(run.code == 0);
      CHECK(run.seconds < 90);
      job.check_exact(outdir);
      const auto summary = summary_of(outdir);
      CHECK(summary["launch"] == launch);
      CHECK(summary["workers_lost"] == std::vector<int>{1});
      CHECK(summary["workers_spawned"] == std::vector<int>{2});
      const auto spawned = report_events(outdir / "report.jsonl", "worker_spawned");
      REQUIRE(!spawned.empty());
      CHECK(spawned.back()["worker"] == 2);
      CHECK(spawned.back()["replaces"] == 1);
      const auto by_worker = pieces_by_worker(outdir / "report.jsonl");
      CHECK(by_worker.count(1));
      CHECK(by_worker.count(2));  // the replacement did pieces
    }
  }
}

TEST_CASE("three workers killed one after another: three replacements, exact", "[elastic][respawn]") {
  ElasticJob job;
  const fs::path outdir = job.dir / "out";
  // Each replacement is killed once the job has done a few more pieces: by then it is the only worker.
  const RunResult run = run_dips_run(2, job.args(outdir, "--respawn 3"),
                                     "DIPS_FAULT='rank:1,after:3,kind:kill;rank:2,after:8,kind:kill;rank:3,after:13,kind:kill'");
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_exact(outdir);
  const auto summary = summary_of(outdir);
  CHECK(summary["workers_lost"] == std::vector<int>{1, 2, 3});
  CHECK(summary["workers_spawned"] == std::vector<int>{2, 3, 4});
  CHECK(pieces_by_worker(outdir / "report.jsonl").count(4));
}

TEST_CASE("no replacement where workers die before doing any work (a bad node), nor with --respawn 0", "[elastic][respawn]") {
  ElasticJob job;
  SECTION("two fruitless deaths in a row on the machine: no third worker, exit 3") {
    const fs::path outdir = job.dir / "bad";
    const RunResult run = run_dips_run(2, job.args(outdir, "--respawn 5"), "DIPS_FAULT='rank:1,after:0,kind:kill;rank:2,after:0,kind:kill'");
    INFO(run.output);
    REQUIRE(run.code == 3);
    const auto summary = summary_of(outdir);
    CHECK(summary["workers_lost"] == std::vector<int>{1, 2});
    CHECK(summary["workers_spawned"] == std::vector<int>{2});
    CHECK(run.output.find("no usable host with a free slot") != std::string::npos);
  }
  SECTION("--respawn 0") {
    const fs::path outdir = job.dir / "off";
    const RunResult run = run_dips_run(2, job.args(outdir, "--respawn 0"), "DIPS_FAULT='rank:1,after:3,kind:kill'", "--launch spawned");
    INFO(run.output);
    REQUIRE(run.code == 3);
    CHECK(summary_of(outdir)["workers_spawned"].empty());
  }
}

// Open MPI under --enable-recovery waits for ever for a worker it cannot start (dips missing on that host)
// and tells no one: only dips' --spawn-timeout ends such a job. A missing program stands for the host.
TEST_CASE("a worker start that never finishes (dips missing on its host) ends the job, exit 3; --resume does the rest", "[elastic][spawnhang]") {
  ElasticJob job;
  SECTION("at the start: every worker's program is missing") {
    const fs::path outdir = job.dir / "none";
    const RunResult run = run_dips_run(2, job.args(outdir, "--worker-program /nonexistent/dips --spawn-timeout 2"), "", "--launch spawned --grace 2");
    INFO(run.output);
    REQUIRE(run.code == 3);
    CHECK(run.output.find("did not finish within 2 s") != std::string::npos);
    CHECK(run.output.find("/nonexistent/dips is probably missing there") != std::string::npos);
    const auto hung = report_events(outdir / "report.jsonl", "worker_spawn_hung");
    REQUIRE(hung.size() == 1);
    CHECK(hung[0]["program"] == "/nonexistent/dips");
    CHECK(hung[0]["host"] == "this machine");
    const auto summary = summary_of(outdir);
    CHECK(summary["exit_code"] == 3);
    CHECK(summary["unfinished"] == job.names.size());
    CHECK(summary["ok"] == 0);
  }
  SECTION("a replacement: the job's finished work is kept, and --resume completes it exact") {
    const fs::path outdir = job.dir / "replacement";
    // The first start runs dips; any later one exits before MPI starts, as on a host without dips.
    const fs::path program = job.dir / "dips-once";
    write_text(program, "#!/bin/sh\nmkdir " + quoted(job.dir / "started") + " 2>/dev/null && exec " DIPS_BINARY " \"$@\"\nexit 127\n");
    fs::permissions(program, fs::perms::owner_all);
    // One worker, whole files, killed once 3 tasks are done: its replacement never comes.
    const RunResult run = run_dips_run(2, job.args(outdir, "--worker-program " + quoted(program) + " --spawn-timeout 2", 100000),
                                       "DIPS_FAULT='rank:1,after:3,kind:kill'", "--launch spawned --grace 2");
    INFO(run.output);
    REQUIRE(run.code == 3);
    CHECK(run.output.find("probably missing there") != std::string::npos);
    const auto summary = summary_of(outdir);
    CHECK(summary["workers_lost"] == std::vector<int>{1});
    CHECK(summary["exit_code"] == 3);
    CHECK(summary["ok"].get<size_t>() >= 3);  // reported before the fault was armed
    CHECK(summary["ok"].get<size_t>() + summary["unfinished"].get<size_t>() == job.names.size());
    CHECK(summary["unfinished"].get<size_t>() > 0);
    CHECK(report_events(outdir / "report.jsonl", "worker_spawn_hung").size() == 1);
    // The task whose piece the lost worker held was under way: journaled unfinished, with that piece.
    int held = 0;
    for (const auto& task : report_events(outdir / "report.jsonl", "task_unfinished")) {
      for (const auto& piece : task["pieces"]) held += piece["worker"] == 1 && piece["outcome"] == "unfinished";
    }
    CHECK(held == 1);
    CHECK(dips_temp_files(outdir).empty());
    const RunResult resumed = run_dips_run(2, job.args(outdir, "--resume"));
    INFO(resumed.output);
    REQUIRE(resumed.code == 0);
    job.check_exact(outdir);
  }
}

TEST_CASE("--grow-from on one machine: more slots start a worker that takes pieces; fewer drain one, nothing lost", "[elastic][grow]") {
  ElasticJob job;
  for (const auto& [before, after] : std::vector<std::pair<int, int>>{{1, 2}, {2, 1}}) {
    DYNAMIC_SECTION(before << " slot(s), then " << after) {
      const fs::path outdir = job.dir / ("out" + std::to_string(before));
      const fs::path hosts = job.dir / ("hosts" + std::to_string(before));
      write_text(hosts, "localhost slots=" + std::to_string(before) + "\n");
      // Rank 0 holds the work after its first task until a worker joins or leaves: the change of the
      // file is certain to land mid-job.
      auto run = std::async(std::launch::async, [&] {
        return run_dips_run(before + 1, job.args(outdir), "DIPS_FAULT='rank:0,after:1,kind:hold'", "--grow-from " + quoted(hosts));
      });
      const bool held = wait_for_tasks(outdir / "report.jsonl", 1);
      replace_file(hosts, "localhost slots=" + std::to_string(after) + "\n");
      const RunResult result = run.get();
      INFO(result.output);
      REQUIRE(held);
      REQUIRE(result.code == 0);
      job.check_exact(outdir);
      const auto summary = summary_of(outdir);
      CHECK(summary["workers_lost"].empty());
      const auto by_worker = pieces_by_worker(outdir / "report.jsonl");
      if (after > before) {
        CHECK(summary["workers_spawned"] == std::vector<int>{2});
        CHECK(by_worker.count(2));  // the new worker took pieces
      } else {
        const auto retired = report_events(outdir / "report.jsonl", "worker_retired");
        REQUIRE(retired.size() == 1);
        CHECK(retired[0]["worker"] == 2);  // the newest worker drained and stopped
        // After it left, every piece went to worker 1.
        for (const auto& [output, task] : report_tasks(outdir / "report.jsonl")) {
          for (const auto& piece : task["pieces"]) {
            if (piece["sent"].get<double>() > retired[0]["t"].get<double>()) CHECK(piece["worker"] == 1);
          }
        }
      }
    }
  }
}
