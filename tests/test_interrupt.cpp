// Interruption as a normal ending, with real signals to real processes: dips-run alone, mpirun alone, every
// process of the job at once (Slurm's scancel and time limit), Ctrl-C twice; then --resume does exactly the
// rest. Also what a batch user meets through dips-run: option errors, --help, the live progress line, a
// report that is a pipe or a FIFO, a host that does not resolve, Open MPI's noise after a lost rank.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <set>
#include <thread>

#include "dips/report.h"
#include "dips/temp_files.h"
#include "harness.h"
#include "processes.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

constexpr const char* kPipeline = "blur=3,edge_detection";
// A job that stops by itself after its first task until a worker is lost (60 s at most): whatever the
// speed of the machine, a signal sent once the report shows a task arrives mid-job.
constexpr const char* kHold = "DIPS_FAULT='rank:0,after:1,kind:hold'";
// The same, with rank 1's first piece taking 4 s longer: it is in flight when the job holds.
constexpr const char* kSlowThenHold = "DIPS_FAULT='rank:1,after:0,kind:slow;rank:0,after:1,kind:hold'";

// Eight small images: whole-file tasks, one piece per worker at a time (--lookahead 0).
struct StopJob {
  TempDir dir;
  std::vector<std::string> names;
  StopJob() {
    fs::create_directories(dir / "in");
    for (int i = 0; i < 8; ++i) {
      names.push_back("img" + std::to_string(i) + ".png");
      REQUIRE(cv::imwrite((dir / "in" / names.back()).string(), photo_like(48 + 4 * i, 64, 300 + i)));
    }
  }
  fs::path out() const { return dir / "out"; }
  std::string args(const std::string& extra = "") const {
    return "--lookahead 0 --op " + std::string(kPipeline) + " --output " + quoted(out()) + " " + extra + " " + quoted(dir / "in");
  }
  std::string dips_run_command(const std::string& env, const std::string& extra = "") const {
    return "exec env DIPS_BIN=" DIPS_BINARY " " + env + " " DIPS_RUN_SCRIPT " -n 3 -- " + args(extra);
  }
  // Every output equals the plain OpenCV reference, and the report's final state has each task once, ok.
  void check_complete() const {
    std::map<std::string, int> ok;
    for (const auto& line : read_report(out() / "report.jsonl")) {
      if (line.contains("input") && line["status"] == "ok") ++ok[line["output"].get<std::string>()];
    }
    CHECK(ok.size() == names.size());
    for (const auto& name : names) {
      INFO(name);
      CHECK(ok[(out() / name).string()] == 1);
      CHECK(identical(read_output(out() / name), reference_pipeline(kPipeline, cv::imread((dir / "in" / name).string()))));
    }
  }
};

// Task lines of a report being written (a line may be half there): counted, not parsed strictly.
int task_lines(const fs::path& report) {
  std::ifstream in(report);
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("input")) ++count;
  }
  return count;
}

nlohmann::json summary(const fs::path& report) {
  const auto lines = read_report(report);
  REQUIRE(!lines.empty());
  REQUIRE(lines.back().contains("summary"));
  return lines.back()["summary"];
}

void check_no_temporary_files(const fs::path& folder) {
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    CHECK(name.find(".dips-tmp") == std::string::npos);
    CHECK(name.find(".dips-probe") == std::string::npos);
  }
}

// Waits until the job holds (its report shows a task); with `slow`, also until rank 1's slow piece is in
// flight. Returns the job's processes then.
std::vector<ProcessId> wait_mid_job(Started& run, const StopJob& job, bool slow) {
  const bool held = wait_until(
      [&] {
        const std::string out = run.output();
        return task_lines(job.out() / "report.jsonl") >= 1 && out.find("rank 0 holds") != std::string::npos &&
               (!slow || out.find("injects 'slow'") != std::string::npos);
      },
      90);
  INFO(run.output());
  REQUIRE(held);
  const std::vector<ProcessId> tree = run.tree();
  REQUIRE(find_process(tree, "mpirun").pid != 0);
  return tree;
}

// The process of `ids` that is MPI rank `rank` (Open MPI puts the rank in each process's environment).
ProcessId find_rank(const std::vector<ProcessId>& ids, int rank) {
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const ProcessId& id : ids) {
    if (id.name != "dips") continue;
    std::ifstream environ("/proc/" + std::to_string(id.pid) + "/environ");
    for (std::string entry; std::getline(environ, entry, '\0');) {
      if (entry == wanted) return id;
    }
  }
  return ProcessId();
}

void check_nothing_left(const std::vector<ProcessId>& tree) {
  // dips-run has returned: mpirun, every rank and the filter must be gone with it.
  for (const ProcessId& left : still_running(tree)) FAIL_CHECK("still running: " << left.name << " (pid " << left.pid << ")");
}

void resume_and_check(const StopJob& job) {
  const RunResult resumed = run_dips_run(3, job.args("--quiet --resume"));
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  job.check_complete();
}

}  // namespace

TEST_CASE("SIGTERM to dips-run: a clean stop, exit 4, a summary, nothing left running; --resume does the rest", "[interrupt]") {
  StopJob job;
  Started run(job.dips_run_command(kHold));
  const std::vector<ProcessId> tree = wait_mid_job(run, job, false);
  run.mark();
  REQUIRE(::kill(run.pid(), SIGTERM) == 0);
  const int code = run.wait(60);
  INFO(run.output());
  REQUIRE(code == 4);
  WARN("SIGTERM to dips-run -> clean exit: " << run.seconds_since_mark() << " s");
  CHECK(run.seconds_since_mark() < 15);
  check_nothing_left(tree);
  const auto s = summary(job.out() / "report.jsonl");
  CHECK(s["interrupted"] == true);
  CHECK(s["exit_code"] == 4);
  CHECK(s["ok"].get<int>() >= 1);
  CHECK(s["ok"].get<int>() + s["unfinished"].get<int>() == 8);
  CHECK(s["unfinished"].get<int>() >= 1);
  CHECK(run.output().find("interrupted by SIGUSR1") != std::string::npos);
  check_no_temporary_files(job.out());
  resume_and_check(job);
}

TEST_CASE("every process of the job signalled at once (scancel, a time limit): workers survive it, the piece in flight finishes", "[interrupt]") {
  StopJob job;
  Started run(job.dips_run_command(kSlowThenHold, "--stop-grace 30"));
  const std::vector<ProcessId> tree = wait_mid_job(run, job, true);
  run.mark();
  signal_each(tree, SIGCONT);  // what Slurm sends: SIGCONT and SIGTERM to every process
  signal_each(tree, SIGTERM);
  const int code = run.wait(60);
  INFO(run.output());
  REQUIRE(code == 4);
  WARN("SIGTERM to every process -> clean exit (a 4 s piece in flight): " << run.seconds_since_mark() << " s");
  check_nothing_left(tree);
  const auto s = summary(job.out() / "report.jsonl");
  CHECK(s["interrupted"] == true);
  CHECK(s["ok"] == 2);  // the task that was done, and the slow one in flight: its worker ignored SIGTERM
  CHECK(s["unfinished"] == 6);
  CHECK(s["workers_lost"].empty());
  check_no_temporary_files(job.out());
  resume_and_check(job);
}

TEST_CASE("Ctrl-C twice: the second stops at once, without waiting for the piece in flight", "[interrupt]") {
  StopJob job;
  Started run(job.dips_run_command(kSlowThenHold, "--stop-grace 30"));
  const std::vector<ProcessId> tree = wait_mid_job(run, job, true);
  // A Ctrl-C on a terminal signals the foreground process group: dips-run's.
  REQUIRE(::kill(-run.pid(), SIGINT) == 0);
  REQUIRE(wait_until([&] { return run.output().find("dips: stop requested") != std::string::npos; }, 30));
  run.mark();
  REQUIRE(::kill(-run.pid(), SIGINT) == 0);
  const int code = run.wait(60);
  INFO(run.output());
  REQUIRE(code == 4);
  WARN("second Ctrl-C -> exit: " << run.seconds_since_mark() << " s");
  check_nothing_left(tree);
  CHECK(run.output().find("stopping at once") != std::string::npos);
  const auto s = summary(job.out() / "report.jsonl");
  CHECK(s["interrupted"] == true);
  CHECK(s["ok"] == 1);  // the slow piece was not waited for
  CHECK(s["unfinished"] == 7);
  check_no_temporary_files(job.out());
  resume_and_check(job);
}

TEST_CASE("stopped at once while an image in bands is in flight: its pixel file goes too", "[interrupt]") {
  // Every image in 16-row bands; the first band piece sent takes 4 s longer. Bands are sent once the
  // decode piece has written the decoded image's pixel file (design.md, "Why a pixel file"), so that file
  // is there when the job is stopped; rank 0 made it and removes it as the job ends unfinished.
  StopJob job;
  Started run(job.dips_run_command("DIPS_FAULT='rank:any,piece:band,kind:slow'", "--tile-rows 16 --stop-grace 30"));
  const bool in_flight = wait_until(
      [&] { return run.output().find("injects 'slow'") != std::string::npos && !dips_temp_files(job.out()).empty(); }, 90);
  INFO(run.output());
  REQUIRE(in_flight);
  const std::vector<ProcessId> tree = run.tree();
  REQUIRE(::kill(-run.pid(), SIGINT) == 0);
  REQUIRE(wait_until([&] { return run.output().find("dips: stop requested") != std::string::npos; }, 30));
  REQUIRE(::kill(-run.pid(), SIGINT) == 0);
  REQUIRE(run.wait(60) == 4);
  check_nothing_left(tree);
  CHECK(summary(job.out() / "report.jsonl")["unfinished"].get<int>() >= 1);
  check_no_temporary_files(job.out());
  resume_and_check(job);
}

TEST_CASE("a third signal to dips-run kills mpirun and every rank, even ranks that do not answer", "[interrupt]") {
  StopJob job;
  // Workers that would outlive their mpirun for two minutes (the orphan timeout) if nothing killed them.
  Started run(job.dips_run_command(kHold, "--orphan-timeout 120"));
  const std::vector<ProcessId> tree = wait_mid_job(run, job, false);
  // Rank 0 stopped: it cannot answer the first two signals. Each rank runs in a process group of its own,
  // so only something that finds all of mpirun's session gets the workers.
  const ProcessId rank0 = find_rank(tree, 0);
  REQUIRE(rank0.pid != 0);
  REQUIRE(::kill(rank0.pid, SIGSTOP) == 0);
  for (const char* answer : {"asking dips to stop (", "asking dips to stop at once", "killing mpirun and its ranks"}) {
    REQUIRE(::kill(run.pid(), SIGTERM) == 0);
    REQUIRE(wait_until([&] { return run.output().find(answer) != std::string::npos; }, 30));
  }
  const int code = run.wait(60);
  INFO(run.output());
  CHECK(code == 4);
  check_nothing_left(tree);
  resume_and_check(job);
}

TEST_CASE("SIGTERM to mpirun alone: mpirun passes it on, dips stops cleanly", "[interrupt]") {
  StopJob job;
  Started run(job.dips_run_command(kHold));
  const std::vector<ProcessId> tree = wait_mid_job(run, job, false);
  run.mark();
  REQUIRE(::kill(find_process(tree, "mpirun").pid, SIGTERM) == 0);
  const int code = run.wait(60);
  INFO(run.output());
  REQUIRE(code == 4);
  WARN("SIGTERM to mpirun -> clean exit: " << run.seconds_since_mark() << " s");
  check_nothing_left(tree);
  const auto s = summary(job.out() / "report.jsonl");
  CHECK(s["interrupted"] == true);
  check_no_temporary_files(job.out());
  resume_and_check(job);
}

TEST_CASE("dips alone (no mpirun): SIGINT is a clean stop too", "[interrupt]") {
  StopJob job;
  Started run("exec env " + std::string(kHold) + " " DIPS_BINARY " " + job.args("--threads 2"));
  REQUIRE(wait_until([&] { return task_lines(job.out() / "report.jsonl") >= 1 && run.output().find("holds") != std::string::npos; }, 60));
  REQUIRE(::kill(run.pid(), SIGINT) == 0);
  const int code = run.wait(60);
  INFO(run.output());
  REQUIRE(code == 4);
  const auto s = summary(job.out() / "report.jsonl");
  CHECK(s["interrupted"] == true);
  CHECK(s["ok"].get<int>() + s["unfinished"].get<int>() == 8);
  check_no_temporary_files(job.out());
}

TEST_CASE("--resume removes temporary files whose writer is gone, and keeps a live writer's", "[interrupt]") {
  StopJob job;
  fs::create_directories(job.out());
  // A process of this host that has ended, and one that runs (this test).
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const std::string live = own_temp_prefix() + "1";
  std::string dead = own_temp_prefix();
  dead = dead.substr(0, dead.rfind('-', dead.size() - 2) + 1) + std::to_string(child) + "-1";
  write_text(job.out() / dead, "partial output of a writer that is gone");
  write_text(job.out() / live, "output still being written");
  const RunResult run = run_dips_run(3, job.args("--quiet --resume"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(!fs::exists(job.out() / dead));
  CHECK(fs::exists(job.out() / live));
  job.check_complete();
}

TEST_CASE("dips-run: option errors exit 2 with dips' message, once; --help, --version, --list-ops exit 0", "[interrupt][dips-run-cli]") {
  StopJob job;
  for (const std::string bad : {"--opp blur", "--tile-rows abc --op blur", "--op no_such_op"}) {
    DYNAMIC_SECTION(bad) {
      const RunResult run = run_dips_run(3, bad + " --output " + quoted(job.out()) + " " + quoted(job.dir / "in"), "", "--retries 2");
      INFO(run.output);
      CHECK(run.code == 2);
      CHECK(run.output.find("dips: error: ") != std::string::npos);
      CHECK(run.output.find("rank 0 died") == std::string::npos);
      CHECK(run.output.find("retry") == std::string::npos);
      CHECK(run.output.find("PMIX") == std::string::npos);
    }
  }
  SECTION("--help, --version, --list-ops") {
    const RunResult help = run_dips_run(3, "--help");
    CHECK(help.code == 0);
    CHECK(help.output.find("Usage:") != std::string::npos);
    CHECK(help.output.find("Usage:") == help.output.rfind("Usage:"));  // printed by one rank
    const RunResult version = run_dips_run(3, "--version");
    CHECK(version.code == 0);
    CHECK(version.output.find("dips ") == 0);
    const RunResult ops = run_dips_run(3, "--list-ops");
    CHECK(ops.code == 0);
    CHECK(ops.output.find("edge_detection") != std::string::npos);
  }
}

TEST_CASE("dips-run on a terminal: a live progress line that advances per piece", "[interrupt][progress]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 3; ++i) REQUIRE(cv::imwrite((dir / "in" / ("big" + std::to_string(i) + ".png")).string(), photo_like(240, 120, 40 + i)));
  // Both workers get slow once the job has done 2 pieces: for 4 s no task can be done, yet pieces were.
  const std::string command = "env TERM=xterm DIPS_BIN=" DIPS_BINARY " DIPS_FAULT='rank:1,after:2,kind:slow;rank:2,after:2,kind:slow' " DIPS_RUN_SCRIPT
                              " -n 3 -- --lookahead 0 --tile-rows 16 --op blur=3 --output " + quoted(dir / "out") + " " + quoted(dir / "in");
  // script(1) gives dips-run a pseudo-terminal as its stderr.
  const int status = std::system(("script -qec " + quoted(fs::path(command)) + " " + quoted(dir / "typescript") + " > /dev/null 2>&1").c_str());
  const std::string screen = read_text(dir / "typescript");
  INFO(screen);
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(screen.find("\r\033[K[dips] ") != std::string::npos);  // live, not a log line every 5 s
  const std::regex before_any_task("\\[dips\\] 0/3 tasks \\(([0-9]+) pieces\\)");
  int most = 0;
  for (auto it = std::sregex_iterator(screen.begin(), screen.end(), before_any_task); it != std::sregex_iterator(); ++it) {
    most = std::max(most, std::stoi((*it)[1]));
  }
  CHECK(most >= 2);
  CHECK(screen.find("3/3 tasks") != std::string::npos);
}

TEST_CASE("a report that is a pipe or a FIFO works; one nobody reads is refused at once", "[interrupt][report]") {
  StopJob job;
  SECTION("a pipe: --report /dev/stdout | cat") {
    Started run("DIPS_BIN=" DIPS_BINARY " " DIPS_RUN_SCRIPT " -n 3 -- " + job.args("--quiet --report /dev/stdout") + " | cat > " + quoted(job.dir / "piped"));
    REQUIRE(run.wait(120) == 0);
    const auto lines = read_report(job.dir / "piped");
    REQUIRE(lines.size() >= 10);  // the header, 8 tasks, the summary, and any worker events
    CHECK(lines.front()["dips_report"] == kReportVersion);
    CHECK(lines.back()["summary"]["exit_code"] == 0);
    CHECK(report_tasks(job.dir / "piped").size() == 8);
  }
  SECTION("a FIFO with a reader") {
    REQUIRE(::mkfifo((job.dir / "fifo").c_str(), 0644) == 0);
    // The reader is there before dips starts, and reads while it runs: the journal (with its thumbnails)
    // is larger than a FIFO's buffer.
    const int reader = ::open((job.dir / "fifo").c_str(), O_RDWR | O_NONBLOCK);
    REQUIRE(reader >= 0);
    std::string text;
    std::atomic<bool> finished{false};
    std::thread drain([&] {
      char buffer[4096];
      while (true) {
        const ssize_t n = ::read(reader, buffer, sizeof(buffer));
        if (n > 0) {
          text.append(buffer, static_cast<size_t>(n));
        } else if (finished) {
          return;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
    const RunResult run = run_dips_run(3, job.args("--quiet --report " + quoted(job.dir / "fifo")));
    finished = true;
    drain.join();
    INFO(run.output);
    CHECK(run.code == 0);
    ::close(reader);
    write_text(job.dir / "read", text);
    CHECK(read_report(job.dir / "read").back()["summary"]["ok"] == 8);
  }
  SECTION("a FIFO nobody reads, or --resume from a FIFO: refused before any work") {
    REQUIRE(::mkfifo((job.dir / "fifo").c_str(), 0644) == 0);
    Started alone("exec " DIPS_BINARY " " + job.args("--report " + quoted(job.dir / "fifo")));
    REQUIRE(alone.wait(60) == 2);
    CHECK(alone.output().find("nobody reads") != std::string::npos);
    Started resume("exec env DIPS_BIN=" DIPS_BINARY " " DIPS_RUN_SCRIPT " -n 3 -- " + job.args("--resume --report " + quoted(job.dir / "fifo")));
    REQUIRE(resume.wait(60) == 2);
    CHECK(resume.output().find("cannot be read back") != std::string::npos);
    CHECK(!fs::exists(job.out() / "img0.png"));
  }
}

TEST_CASE("dips-run: a hostfile host that does not resolve is a host error, not a crash", "[interrupt][dips-run-cli]") {
  StopJob job;
  write_text(job.dir / "hosts", "# two machines\nlocalhost slots=2\nno-such-host.invalid slots=1\n");
  const RunResult run = run_dips_run(3, job.args(), "", "--hostfile " + quoted(job.dir / "hosts"));
  INFO(run.output);
  CHECK(run.code == 2);
  CHECK(run.output.find("host 'no-such-host.invalid'") != std::string::npos);
  CHECK(run.output.find("line 3") != std::string::npos);
  CHECK(run.output.find("rank 0 died") == std::string::npos);
}

TEST_CASE("dips-run drops exactly Open MPI's noise lines after a lost rank", "[interrupt][dips-run-cli]") {
  StopJob job;
  SECTION("a worker killed: no PMIx error line") {
    // Whichever worker is first sent a whole file dies holding it. A plan for one rank after N pieces
    // missed when the other worker did every piece after the N-th (one rank slow to start: seen in CI).
    // --tail-copies off: the loss is declared (copies of the dead worker's file could end the job first).
    const RunResult run = run_dips_run(3, job.args("--tail-copies off"), "DIPS_FAULT='rank:any,piece:file,kind:kill'");
    INFO(run.output);
    REQUIRE(run.code == 0);
    CHECK(std::regex_search(run.output, std::regex("worker rank [12] lost")));
    CHECK(run.output.find("PMIX ERROR") == std::string::npos);
    job.check_complete();
  }
  SECTION("the exact lines, not their neighbours") {
    // An mpirun stand-in that prints what Open MPI 4.1.4 prints after a lost rank, and near misses.
    write_text(job.dir / "bin/mpirun",
               "#!/bin/sh\n"
               "status=; prev=\n"
               "for a in \"$@\"; do [ \"$prev\" = --status-file ] && status=$a; prev=$a; done\n"
               "printf '[vm:123] PMIX ERROR: BAD-PARAM in file ../../../src/event/pmix_event_notification.c at line 1033\\n' >&2\n"
               "printf '[vm:456] Read -1, expected 1048576, errno = 3\\n' >&2\n"
               "printf '[vm:123] PMIX ERROR: BAD-PARAM in file ../../../src/event/pmix_event_notification.c at line 1034\\n' >&2\n"
               "printf '[vm:456] Read -1, expected 1048576, errno = 3 and more\\n' >&2\n"
               "printf 'Read -1, expected 5, errno = 3\\n' >&2\n"
               "printf '[dips 0s] 1/2 tasks\\n' >&2\n"
               "printf '\\r[dips] live' >&2\n"
               "echo 0 > \"$status\"\n");
    fs::permissions(job.dir / "bin/mpirun", fs::perms::owner_all);
    const RunResult run = run_dips_run(3, "--op blur --output x y", "PATH=" + quoted(job.dir / "bin") + ":$PATH");
    INFO(run.output);
    CHECK(run.code == 0);
    CHECK(run.output.find("line 1033") == std::string::npos);
    CHECK(run.output.find("[vm:456] Read -1, expected 1048576, errno = 3\n") == std::string::npos);
    CHECK(run.output.find("line 1034") != std::string::npos);
    CHECK(run.output.find("errno = 3 and more") != std::string::npos);
    CHECK(run.output.find("\nRead -1, expected 5, errno = 3") != std::string::npos);
    CHECK(run.output.find("[dips 0s] 1/2 tasks") != std::string::npos);
    CHECK(run.output.find("\r[dips] live") != std::string::npos);
  }
}
