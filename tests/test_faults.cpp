// Fault tolerance with real processes and real signals: workers killed (SIGKILL, exit), stopped (SIGSTOP),
// spinning, or slow; all workers lost; rank 0 lost; then --resume.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <thread>

#include "dips/pipeline.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

constexpr const char* kPipeline = "blur=3,edge_detection";

// With --lookahead 0 every worker holds one piece at a time, so a fault armed after N pieces (fault.h)
// strikes while the job still has work, whatever the speed of the machine. Pings get 5 s instead of 1.5:
// on a loaded machine (scripts/stress-test.sh) a live worker missed 1.5 s of pings once, and these tests
// check which workers were lost; a dead one is noticed 3.5 s later. --host-cores all: every worker takes
// pieces whatever the machine's cores, so that a plan naming a rank finds it at work (on 2 cores, workers
// beyond 2 would stand by).
// --tail-copies off: these tests pin down how a loss is found and what it hands on; with copies, a job whose
// last pieces a killed worker held may end before the ping timeout, without its loss declared (the
// [copies] tests below).
constexpr const char* kFaultFlags = " --lookahead 0 --ping-timeout 5 --host-cores all --tail-copies off ";

// Six images, cut into 8-row bands: about a hundred pieces, so that faults strike mid-job.
struct FaultJob {
  TempDir dir;
  std::vector<std::string> names;
  FaultJob(int images = 6) {
    fs::create_directories(dir / "in");
    for (int i = 0; i < images; ++i) {
      names.push_back("img" + std::to_string(i) + ".png");
      REQUIRE(cv::imwrite((dir / "in" / names.back()).string(), photo_like(64 + 8 * i, 80, 100 + i)));
    }
  }
  std::string args(const fs::path& outdir, const std::string& extra = "") const {
    return "--tile-rows 8" + std::string(kFaultFlags) + "--op " + std::string(kPipeline) + " --output " + quoted(outdir) + " " + extra + " " +
           quoted(dir / "in");
  }
  // Every output exists and equals the whole-image reference; every task is in the report once, ok.
  void check_complete(const fs::path& outdir) const {
    Pipeline pipeline;
    REQUIRE(parse_pipeline(kPipeline, &pipeline).ok());
    for (const auto& name : names) {
      INFO(name);
      OpResult expected;
      REQUIRE(run_pipeline_whole(cv::imread((dir / "in" / name).string()), pipeline, &expected).ok());
      CHECK(identical(read_output(outdir / name), expected.image));
    }
  }
  void check_report_complete(const fs::path& outdir) const {
    std::map<std::string, int> seen;
    for (const auto& line : read_report(outdir / "report.jsonl")) {
      if (!line.contains("input")) continue;
      CHECK(line["status"] == "ok");
      ++seen[line["output"]];
    }
    CHECK(seen.size() == names.size());
    for (const auto& [output, count] : seen) CHECK(count == 1);
  }
};

std::string fault_env(int rank, int after, const std::string& kind) {
  return "DIPS_FAULT='rank:" + std::to_string(rank) + ",after:" + std::to_string(after) + ",kind:" + kind + "'";
}

std::vector<int> workers_lost(const fs::path& report) {
  const auto lines = read_report(report);
  REQUIRE(!lines.empty());
  REQUIRE(lines.back().contains("summary"));
  return lines.back()["summary"]["workers_lost"].get<std::vector<int>>();
}

// The one image in folder `inputs`, in bands of 16 rows on two workers, whose worker dies holding the first
// piece of `kind` sent, in the way `fault` says (DIPS_FAULT piece:KIND, whichever worker that is).
RunResult run_with_piece_fault(const fs::path& inputs, const fs::path& outdir, const std::string& pipeline, const std::string& kind,
                               const std::string& fault, const std::string& extra_args = "", const char* flags = kFaultFlags) {
  const std::string args =
      "--quiet --tile-rows 16" + extra_args + flags + "--op " + pipeline + " --output " + quoted(outdir) + " " + quoted(inputs);
  return run_dips(3, args, "DIPS_FAULT='rank:any,piece:" + kind + ",kind:" + fault + "'");
}

// After run_with_piece_fault: big.png has the whole-image pipeline's pixels and its task the decoded
// strings; one worker was lost, and the one piece it died holding, of `kind`, was done again by a survivor;
// the decoded image went to a pixel file, not through rank 0. Returns the task's report line.
nlohmann::json check_piece_redone(const fs::path& outdir, const std::string& pipeline, const cv::Mat& image, const std::string& kind) {
  std::vector<std::string> decoded;
  CHECK(identical(read_output(outdir / "big.png"), reference_pipeline(pipeline, image, &decoded)));
  const auto tasks = report_tasks(outdir / "report.jsonl");
  REQUIRE(tasks.size() == 1);
  const nlohmann::json task = tasks.begin()->second;
  CHECK(task["decoded"].get<std::vector<std::string>>() == decoded);
  const std::vector<int> lost = workers_lost(outdir / "report.jsonl");
  REQUIRE(lost.size() == 1);
  int redone = 0;
  for (const auto& piece : task["pieces"]) {
    CHECK(piece["ok"] == true);
    if (piece["kind"] == "decode") CHECK(piece["bytes_in"] == 0);
    if (!piece.contains("lost_on")) continue;
    ++redone;
    CHECK(piece["kind"] == kind);  // the piece it died holding...
    CHECK(piece["lost_on"] == std::vector<int>{lost[0]});
    CHECK(piece["worker"] != lost[0]);  // ...was done by the survivor
  }
  CHECK(redone == 1);
  return task;
}

// The rank that announced the fault (fault.cpp prints "rank R injects").
int injecting_rank(const std::string& output) {
  const size_t at = output.find(" injects '");
  REQUIRE(at != std::string::npos);
  const size_t rank = output.rfind("rank ", at);
  REQUIRE(rank != std::string::npos);
  return std::stoi(output.substr(rank + 5, at - rank - 5));
}

// Tail copies on (the default), with a ping timeout no test waits for: a job a killed worker held up
// would take a minute and then report the worker lost.
constexpr const char* kCopyFlags = " --lookahead 0 --ping-timeout 60 --host-cores all ";

// After a job whose worker `dead` was killed holding pieces at its tail: it was never declared lost (the
// others took copies of what it held, and the job ended first), it was suspect at the end, every piece
// counted once, and each piece it held was counted from a survivor's copy. Returns the copied pieces.
int check_copied(const fs::path& report, int dead) {
  CHECK(workers_lost(report).empty());
  const auto suspect = read_report(report).back()["summary"]["workers_suspect"].get<std::vector<int>>();
  CHECK(std::find(suspect.begin(), suspect.end(), dead) != suspect.end());
  std::map<uint64_t, double> copied;  // piece -> when its copy was sent
  for (const auto& event : report_events(report, "piece_copied")) {
    if (event["from"] == dead) copied[event["piece"].get<uint64_t>()] = event["t"].get<double>();
  }
  int held = 0;
  for (const auto& [output, task] : report_tasks(report)) {
    for (const auto& piece : task["pieces"]) {
      CHECK(piece["ok"] == true);
      CHECK_FALSE(piece.contains("lost_on"));  // nothing waited for the loss
      if (!piece.contains("also_on")) continue;
      CHECK(piece["also_on"].size() == piece["also_sent"].size());
      const auto also = piece["also_on"].get<std::vector<int>>();
      if (std::find(also.begin(), also.end(), dead) == also.end()) continue;
      ++held;
      CHECK(piece["worker"] != dead);  // its result never came: the copy's counted...
      const auto copy = copied.find(piece["id"].get<uint64_t>());
      REQUIRE(copy != copied.end());
      CHECK(piece["sent"].get<double>() >= copy->second - 0.001);  // ...with the copy's time of sending
      CHECK(piece["sent"].get<double>() > piece["also_sent"][0].get<double>());
    }
  }
  CHECK(held >= 1);
  return held;
}

// FaultJob's images as whole files under kCopyFlags, the worker first sent one failing as `kind` says,
// under mpirun, or under dips-run with `dips_run_args` when given: every output exact, every task in the
// report once, and the failed worker's pieces counted from the survivor's copies (check_copied).
RunResult run_file_fault_with_copies(const FaultJob& job, const fs::path& outdir, const std::string& kind, const std::string& dips_run_args = "") {
  const std::string args = "--quiet --tile-rows 100000" + std::string(kCopyFlags) + "--op " + kPipeline + " --output " + quoted(outdir) + " " +
                           quoted(job.dir / "in");
  const std::string fault = "DIPS_FAULT='rank:any,piece:file,kind:" + kind + "'";
  RunResult run = dips_run_args.empty() ? run_dips(3, args, fault) : run_dips_run(3, args, fault, dips_run_args);
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
  check_copied(outdir / "report.jsonl", injecting_rank(run.output));
  return run;
}

}  // namespace

TEST_CASE("a worker killed at any moment: the job completes, exact", "[faults][kill]") {
  FaultJob job(8);  // about 100 pieces: over 30 per worker
  // 21 different moments: one of the 3 workers killed once the job has done 1, 2, ... 21 pieces.
  for (int moment = 0; moment < 21; ++moment) {
    const int rank = 1 + moment % 3, after = 1 + moment;
    DYNAMIC_SECTION("rank " << rank << " killed after " << after << " pieces of the job") {
      const fs::path outdir = job.dir / ("out" + std::to_string(moment));
      const RunResult run = run_dips(4, job.args(outdir, "--quiet"), fault_env(rank, after, "kill"));
      INFO(run.output);
      REQUIRE(run.code == 0);
      job.check_complete(outdir);
      job.check_report_complete(outdir);
      const bool fired = run.output.find("injects 'kill'") != std::string::npos;
      CHECK(fired);
      CHECK(workers_lost(outdir / "report.jsonl") == std::vector<int>{rank});
    }
  }
}

TEST_CASE("a worker that exits without MPI_Finalize is survived", "[faults][exit]") {
  FaultJob job;
  const fs::path outdir = job.dir / "out";
  const RunResult run = run_dips(3, job.args(outdir), fault_env(2, 4, "exit"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
  CHECK(workers_lost(outdir / "report.jsonl") == std::vector<int>{2});
}

TEST_CASE("a stopped (SIGSTOP) or spinning worker is detected, killed, and mpirun exits", "[faults][hung]") {
  for (const std::string kind : {"stop", "hang"}) {
    DYNAMIC_SECTION(kind) {
      FaultJob job;
      const fs::path outdir = job.dir / "out";
      // Through dips-run, as users run it: it must return, with dips' status, despite the hung rank. Rank 0
      // has PMIx kill that rank, so mpirun exits by itself: dips-run, given a long grace, never ends it.
      const RunResult run = run_dips_run(3, job.args(outdir), fault_env(1, 5, kind), "--grace 120");
      INFO(run.output);
      REQUIRE(run.code == 0);
      CHECK(run.output.find("mpirun is still waiting") == std::string::npos);
      job.check_complete(outdir);
      job.check_report_complete(outdir);
      CHECK(workers_lost(outdir / "report.jsonl") == std::vector<int>{1});
    }
  }
}

TEST_CASE("a long piece on a busy but healthy worker is not declared dead with the default deadlines", "[faults][slow]") {
  FaultJob job(2);
  const fs::path outdir = job.dir / "out";
  // Rank 1's next piece after the job's 2nd computes 4 s longer than it should, while its rank keeps
  // answering pings: within the default 1.5 s (kFaultFlags' 5 s would let blocked pings pass).
  const std::string args = "--tile-rows 8 --lookahead 0 --op " + std::string(kPipeline) + " --output " + quoted(outdir) + " " + quoted(job.dir / "in");
  const RunResult run = run_dips(3, args, fault_env(1, 2, "slow"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(run.output.find("injects 'slow'") != std::string::npos);
  CHECK(run.seconds >= 4);
  job.check_complete(outdir);
  CHECK(workers_lost(outdir / "report.jsonl").empty());
}

TEST_CASE("two of three workers killed: the last one finishes the job", "[faults][kill]") {
  FaultJob job;
  const fs::path outdir = job.dir / "out";
  const RunResult run = run_dips(4, job.args(outdir), "DIPS_FAULT='rank:1,after:3,kind:kill;rank:3,after:6,kind:kill'");
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
  auto lost = workers_lost(outdir / "report.jsonl");
  std::sort(lost.begin(), lost.end());
  CHECK(lost == std::vector<int>{1, 3});
}

TEST_CASE("five workers killed in one job: each loss message counts the workers left", "[faults][kill]") {
  FaultJob job;
  const fs::path outdir = job.dir / "out";
  // All five armed once the job has done 2 pieces: each dies on its next work message (fault.h), so they
  // die close together and several may be noticed in one sweep of the deadlines.
  std::string plans;
  for (int rank = 1; rank <= 5; ++rank) plans += (plans.empty() ? "" : ";") + std::string("rank:") + std::to_string(rank) + ",after:2,kind:kill";
  const RunResult run = run_dips(6, job.args(outdir), "DIPS_FAULT='" + plans + "'");
  INFO(run.output);
  REQUIRE(run.code == 3);  // no worker left
  std::vector<int> left;
  std::set<int> ranks;
  const std::string marker = "dips: worker rank ";
  for (size_t at = run.output.find(marker); at != std::string::npos; at = run.output.find(marker, at + 1)) {
    const std::string line = run.output.substr(at, run.output.find('\n', at) - at);
    const size_t count_end = line.rfind(" worker");
    const size_t count_start = line.rfind(' ', count_end - 1) + 1;
    left.push_back(std::stoi(line.substr(count_start, count_end - count_start)));
    ranks.insert(std::stoi(line.substr(marker.size())));
  }
  CHECK(left == std::vector<int>{4, 3, 2, 1, 0});
  CHECK(ranks == std::set<int>{1, 2, 3, 4, 5});
  auto lost = workers_lost(outdir / "report.jsonl");
  std::sort(lost.begin(), lost.end());
  CHECK(lost == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("all workers lost: exit 3 with finished work kept, then --resume redoes only what is missing", "[faults][resume]") {
  FaultJob job(8);
  const fs::path outdir = job.dir / "out";
  // Whole images (no bands), one per worker at a time. The faults are armed as the 4th task's result comes
  // in: each worker dies on its next task, after finishing the one it may still hold. So 4 or 5 tasks are
  // done (5 when the other worker held one; 4 when rank 0, slowed down, read both workers' results before
  // sending more: seen under load) and the rest are not, however fast each worker is.
  // --respawn 0: dips-run would otherwise replace them.
  const std::string args = std::string(kFaultFlags) + "--respawn 0 --op " + std::string(kPipeline) + " --output " + quoted(outdir) + " " + quoted(job.dir / "in");
  RunResult run = run_dips_run(3, args, "DIPS_FAULT='rank:1,after:4,kind:kill;rank:2,after:4,kind:kill'");
  INFO(run.output);
  REQUIRE(run.code == 3);
  std::set<std::string> done_first;
  for (const auto& [output, line] : report_tasks(outdir / "report.jsonl")) {
    CHECK(line["status"] == "ok");
    CHECK(fs::exists(output));
    done_first.insert(output);
  }
  CHECK(done_first.size() >= 4);
  CHECK(done_first.size() <= 5);
  const auto before = read_report(outdir / "report.jsonl");
  CHECK(before.back()["summary"]["exit_code"] == 3);
  // A recorded task whose output has gone since is done again: the report alone does not make it done.
  const std::string removed = *done_first.begin();
  REQUIRE(fs::remove(removed));
  done_first.erase(removed);

  run = run_dips_run(3, args + " --resume");
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  const auto after = read_report(outdir / "report.jsonl");
  std::set<std::string> redone;
  for (size_t i = before.size(); i < after.size(); ++i) {
    if (after[i].contains("input")) redone.insert(after[i]["output"].get<std::string>());
  }
  for (const auto& output : done_first) CHECK(redone.count(output) == 0);
  CHECK(redone.count(removed) == 1);
  CHECK(redone.size() + done_first.size() == job.names.size());
  CHECK(after.back()["summary"]["skipped"] == done_first.size());
}

TEST_CASE("rank 0 killed mid-job: dips-run reports it, --resume finishes exactly", "[faults][resume]") {
  FaultJob job(8);
  const fs::path outdir = job.dir / "out";
  const std::string args = "--orphan-timeout 3" + std::string(kFaultFlags) + "--op " + std::string(kPipeline) + " --output " + quoted(outdir) + " " +
                           quoted(job.dir / "in");
  RunResult run = run_dips_run(3, args, fault_env(0, 3, "kill"));
  INFO(run.output);
  REQUIRE(run.code == 3);
  CHECK(run.output.find("wrote no exit status") != std::string::npos);
  const auto first = report_tasks(outdir / "report.jsonl");
  CHECK(first.size() == 3);
  run = run_dips_run(3, args + " --resume");
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  std::map<std::string, int> count;
  for (const auto& line : read_report(outdir / "report.jsonl")) {
    if (line.contains("input")) ++count[line["output"].get<std::string>()];
  }
  CHECK(count.size() == job.names.size());
  for (const auto& [output, n] : count) CHECK(n == 1);
}

TEST_CASE("wire safety: garbage from a worker costs that worker, garbage to a worker costs one task", "[faults][garble]") {
  FaultJob job;
  SECTION("a worker sends an unknown tag and a truncated result") {
    const fs::path outdir = job.dir / "out";
    const RunResult run = run_dips(3, job.args(outdir), fault_env(2, 3, "garble"));
    INFO(run.output);
    REQUIRE(run.code == 0);
    CHECK(run.output.find("unexpected message (tag 99) from rank 2") != std::string::npos);
    CHECK(run.output.find("undecodable result") != std::string::npos);
    job.check_complete(outdir);
    job.check_report_complete(outdir);
    CHECK(workers_lost(outdir / "report.jsonl") == std::vector<int>{2});
  }
  SECTION("rank 0 sends a truncated work message") {
    const fs::path outdir = job.dir / "out";
    const RunResult run = run_dips(3, job.args(outdir), fault_env(0, 4, "garble"));
    INFO(run.output);
    REQUIRE(run.code == 1);  // the task of that piece fails; the workers survive and do the rest
    int failed = 0, ok = 0;
    for (const auto& [output, line] : report_tasks(outdir / "report.jsonl")) {
      if (line["status"] == "ok") {
        ++ok;
      } else {
        ++failed;
        CHECK(line["error"].get<std::string>().find("malformed work message") != std::string::npos);
      }
    }
    CHECK(failed == 1);
    CHECK(ok == static_cast<int>(job.names.size()) - 1);
    CHECK(workers_lost(outdir / "report.jsonl").empty());
  }
}

TEST_CASE("dips-run --retries resumes a job whose rank 0 died, until it is done", "[faults][resume]") {
  FaultJob job(8);
  const fs::path outdir = job.dir / "out";
  // Rank 0 dies after its 3rd task in every run: 3 + 3 + 2 tasks over three runs.
  const RunResult run = run_dips_run(3, "--orphan-timeout 3" + std::string(kFaultFlags) + "--op " + std::string(kPipeline) + " --output " +
                                            quoted(outdir) + " " + quoted(job.dir / "in"),
                                     fault_env(0, 3, "kill"), "--retries 2");
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(run.output.find("retry 2 of 2") != std::string::npos);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
}

TEST_CASE("a worker killed holding any kind of piece of a banded image: decode, band, finish, whole, encode", "[faults][kill]") {
  // One image in 16-row bands, through pipelines that between them need every kind of piece. The decoded
  // image is in a pixel file (pixel_file.h) the bands read, the stitched stages and every later band's
  // input stay on rank 0 until the task is written, so a worker may die holding any of them: its piece is
  // done again elsewhere and the result stays exact. killdone: the worker dies after its piece is done
  // (the pixel file written) but before rank 0 hears of it, so that the piece's redo writes it again.
  // killprogress: the decoding worker dies once it has reported half the image written to the pixel file
  // (a PNG's rows are written as they are decoded): rank 0 has sent bands of those rows, which read them
  // while the piece's redo writes the file again.
  TempDir dir;
  fs::create_directories(dir / "in");
  const cv::Mat image = qr_image({"banded", "faults"}, 3);
  REQUIRE(image.rows >= 4 * 16);  // half the rows hold a band of 16 and its halo
  REQUIRE(cv::imwrite((dir / "in/big.png").string(), image));
  const std::string all_kinds = "blur=3,edge_detection,dilate=3,read_qr_code";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"decode", all_kinds, "kill"},        {"band", all_kinds, "kill"},   {"finish", all_kinds, "kill"},
      {"whole", all_kinds, "kill"},         {"finish", "equalize_histogram,blur=3", "kill"},
      {"encode", "blur=3,edge_detection", "kill"}, {"decode", all_kinds, "killdone"}, {"band", "blur=3", "killdone"},
      {"decode", all_kinds, "killprogress"}};
  for (const auto& [kind, pipeline, fault] : cases) {
    DYNAMIC_SECTION(fault << " holding a " << kind << " piece of " << pipeline) {
      const fs::path outdir = dir / ("out_" + kind + fault + std::to_string(pipeline.size()));
      // What a worker killed while it wrote a file leaves (a process of this host that is gone), which
      // rank 0 removes after a job that lost a worker.
      const std::string leftover = temp_name_of_pid(ended_process());
      write_text(outdir / leftover, "half a pixel file");
      const RunResult run = run_with_piece_fault(dir / "in", outdir, pipeline, kind, fault);
      INFO(run.output);
      REQUIRE(run.code == 0);
      const nlohmann::json task = check_piece_redone(outdir, pipeline, image, kind);
      if (fault == "killprogress") {  // bands of the rows the lost worker wrote were sent before the redo was done
        double decoded_at = 0;
        int early_bands = 0;
        for (const auto& piece : task["pieces"]) {
          if (piece["kind"] == "decode") decoded_at = piece["done"].get<double>();
        }
        for (const auto& piece : task["pieces"]) {
          if (piece["kind"] == "band" && piece["stage"] == 0 && piece["sent"].get<double>() < decoded_at) ++early_bands;
        }
        CHECK(early_bands > 0);
      }
      CHECK(dips_temp_files(outdir).empty());  // the pixel file, and the temporary files of writers that are gone
      CHECK(run.output.find("removed 1 temporary file left by writers that are gone") != std::string::npos);
    }
  }
}

TEST_CASE("a worker killed holding a piece of a JPEG decoded once for its many bands", "[faults][kill]") {
  // A JPEG's bands decode their own rows only while they are few (granularity.h rows_from_file): in
  // bands of 16 rows on two workers, one worker decodes this one into a pixel file for all of them. It
  // dies holding that decode piece (kill), or once the file is written but before rank 0 hears of it
  // (killdone): the piece is done again elsewhere, and the bands read what the redo wrote.
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/big.jpg").string(), qr_image({"jpeg", "bands"}, 3)));
  const cv::Mat image = cv::imread((dir / "in/big.jpg").string(), cv::IMREAD_COLOR);
  REQUIRE(image.rows > 5 * 16);  // more bands than two threads share better than one decode
  const std::string pipeline = "blur=3,read_qr_code";
  for (const std::string fault : {"kill", "killdone"}) {
    DYNAMIC_SECTION(fault << " holding the decode piece") {
      const fs::path outdir = dir / ("out_" + fault);
      const RunResult run = run_with_piece_fault(dir / "in", outdir, pipeline, "decode", fault, " --format png");
      INFO(run.output);
      REQUIRE(run.code == 0);
      const nlohmann::json task = check_piece_redone(outdir, pipeline, image, "decode");
      CHECK(task["decoded"].get<std::vector<std::string>>() == std::vector<std::string>{"jpeg", "bands"});
      CHECK(dips_temp_files(outdir).empty());
    }
  }
}

TEST_CASE("a worker killed after writing a whole file's output, before rank 0 heard of it: the task is ok", "[faults][written]") {
  // Without --overwrite an output is linked under its name, which refuses a name that is taken: the piece
  // done again after the loss finds the dead worker's output there, the very bytes it would write
  // (write_file_atomic), and must not fail the task for it. With --sync too, and with --overwrite
  // (the named way, a rename over it).
  FaultJob job;
  int round = 0;
  for (const std::string extra : {"", "--sync", "--overwrite"}) {
    DYNAMIC_SECTION("options '" << extra << "'") {
      const fs::path outdir = job.dir / ("out" + std::to_string(round++));
      const std::string args = "--quiet" + std::string(kFaultFlags) + "--op " + kPipeline + " --output " + quoted(outdir) + " " + extra +
                               " " + quoted(job.dir / "in");
      const RunResult run = run_dips(3, args, "DIPS_FAULT='rank:any,piece:file,kind:killdone'");
      INFO(run.output);
      REQUIRE(run.code == 0);
      CHECK(run.output.find("injects 'killdone'") != std::string::npos);
      job.check_complete(outdir);
      job.check_report_complete(outdir);
      const std::vector<int> lost = workers_lost(outdir / "report.jsonl");
      REQUIRE(lost.size() == 1);
      int redone = 0;
      for (const auto& [output, task] : report_tasks(outdir / "report.jsonl")) {
        for (const auto& piece : task["pieces"]) {
          if (!piece.contains("lost_on")) continue;
          ++redone;
          CHECK(piece["kind"] == "file");
          CHECK(piece["lost_on"] == std::vector<int>{lost[0]});
          CHECK(piece["worker"] != lost[0]);
        }
      }
      CHECK(redone == 1);
      CHECK(dips_temp_files(outdir).empty());
    }
  }
}

TEST_CASE("a worker killed while rank 0 moves the files' bytes (--io mpi): the job completes, exact", "[faults][kill]") {
  FaultJob job(4);
  const fs::path outdir = job.dir / "out";
  const RunResult run = run_dips(3, job.args(outdir, "--io mpi --quiet"), fault_env(2, 5, "kill"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
  CHECK(workers_lost(outdir / "report.jsonl") == std::vector<int>{2});
  CHECK(read_report(outdir / "report.jsonl").back()["summary"]["io"] == "mpi");
}

TEST_CASE("workers wait for a rank 0 that takes longer than --orphan-timeout to list the job", "[faults][orphan]") {
  // rank 0's slow fault delays the listing by 4 s, four times the workers' patience: without pings
  // during the listing they would exit as orphans and the job would end with no worker (exit 3).
  FaultJob job(2);
  const fs::path outdir = job.dir / "out";
  const RunResult run = run_dips(3, job.args(outdir, "--orphan-timeout 1 --quiet"), "DIPS_FAULT=rank:0,after:0,kind:slow");
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  CHECK(workers_lost(outdir / "report.jsonl").empty());
}

TEST_CASE("workers beyond a machine's cores stand by; one takes over from a worker killed at work, exact", "[faults][standby]") {
  FaultJob job;
  const fs::path outdir = job.dir / "out", report = outdir / "report.jsonl";
  // 4 workers and --host-cores 2: ranks 1 and 2 take pieces, 3 and 4 stand by. With one piece per worker at
  // a time, rank 1 is at work when it is killed, once the job has done 3 pieces of about a hundred. Rank 3
  // takes over once rank 1 is suspect (a ping 1 s overdue), before it is declared lost (5 s): a pong that
  // late from a live worker, which would let rank 4 work too, is not to be feared on a busy machine.
  const std::string args = "--tile-rows 8 --lookahead 0 --ping-interval 1 --ping-timeout 5 --host-cores 2 --tail-copies off --op " + std::string(kPipeline) +
                           " --output " + quoted(outdir) + " " + quoted(job.dir / "in");
  const RunResult run = run_dips(5, args, fault_env(1, 3, "kill"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
  CHECK(run.output.find("2 of 4 workers stand by") != std::string::npos);
  CHECK(workers_lost(report) == std::vector<int>{1});
  std::set<int> standing;
  for (const auto& line : report_events(report, "worker_standby")) standing.insert(line["worker"].get<int>());
  CHECK(standing == std::set<int>{3, 4});
  const auto working = report_events(report, "worker_working");
  REQUIRE(working.size() == 1);
  CHECK(working[0]["worker"] == 3);  // the lowest rank standing by
  const double took_over = working[0]["t"].get<double>();
  const auto suspect = report_events(report, "worker_suspect");
  REQUIRE_FALSE(suspect.empty());
  CHECK(suspect.back()["worker"] == 1);
  CHECK(took_over >= suspect.back()["t"].get<double>());  // at once when rank 1 fell silent...
  CHECK(took_over < report_events(report, "worker_lost").at(0)["t"].get<double>());  // ...not when it was declared lost
  const auto by_worker = pieces_by_worker(report);
  CHECK(by_worker.count(3));
  CHECK_FALSE(by_worker.count(4));
  for (const auto& [output, task] : report_tasks(report)) {
    for (const auto& piece : task["pieces"]) {
      if (piece["worker"] == 3) CHECK(piece["sent"].get<double>() >= took_over);  // nothing before it took over
    }
  }
}

TEST_CASE("a machine's cores are the CPUs its workers may run on; a worker standing by that dies is noticed", "[faults][standby]") {
  FaultJob job(4);
  const fs::path outdir = job.dir / "out", report = outdir / "report.jsonl";
  // Every rank on one CPU (taskset; mpirun binds none): rank 1 works, 2 and 3 stand by (--host-cores auto).
  // Rank 0 holds the work after its first task until a worker is lost; the test then kills rank 3.
  const std::string args = "--tile-rows 8 --lookahead 0 --ping-timeout 5 --op " + std::string(kPipeline) + " --output " + quoted(outdir) + " " +
                           quoted(job.dir / "in");
  BackgroundRun run = start_dips(4, args, "DIPS_FAULT=rank:0,after:1,kind:hold " + on_one_cpu());
  int64_t pid = 0;
  for (int i = 0; i < 2400 && pid == 0; ++i) {
    if (fs::exists(report) && report_tasks(report).size() >= 1 && report_events(report, "worker_standby").size() == 2) {
      for (const auto& line : report_events(report, "worker_alive")) {
        if (line["worker"] == 3) pid = line["pid"].get<int64_t>();
      }
    }
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(pid > 0);
  REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);
  const RunResult result = finish(run);
  INFO(result.output);
  REQUIRE(result.code == 0);
  job.check_complete(outdir);
  job.check_report_complete(outdir);
  for (const auto& line : report_events(report, "worker_alive")) CHECK(line["cpus"] == 1);
  std::set<int> standing;
  for (const auto& line : report_events(report, "worker_standby")) standing.insert(line["worker"].get<int>());
  CHECK(standing == std::set<int>{2, 3});
  CHECK(workers_lost(report) == std::vector<int>{3});
  CHECK(report_events(report, "worker_lost").at(0)["pieces"] == 0);
  CHECK(report_events(report, "worker_working").empty());  // rank 1 still works: rank 2 stays standing by
  const auto by_worker = pieces_by_worker(report);
  CHECK(by_worker.size() == 1);  // every piece done by rank 1
  CHECK(by_worker.count(1));
}

TEST_CASE("a worker killed holding the job's last pieces: the others take copies at once, exact", "[faults][copies]") {
  // With a ping timeout of 60 s, the job can end within the test only by copies: once no piece waits,
  // each piece of the killed worker (suspect a ping interval after its death) goes to the survivor too,
  // and the survivor's result counts. A slow but live worker suspected on a busy machine only adds copies
  // whose first result counts, so nothing here depends on timing.
  // Faults by kind of piece (the first worker sent a file dies holding it), not by rank after N pieces:
  // on a loaded machine one worker may do every piece after the N-th, and a plan for the other never fires.
  SECTION("whole files, the worker first sent one killed holding it") {
    FaultJob job;
    run_file_fault_with_copies(job, job.dir / "out", "kill");
    CHECK(dips_temp_files(job.dir / "out").empty());
  }
  SECTION("stopped (SIGSTOP) holding a file: given up at the end, so that mpirun exits without dips-run ending it") {
    FaultJob job;
    // A stopped rank never exits: unless rank 0 has the runtime kill it, mpirun waits until dips-run's
    // --grace (60 s here) runs out and says so.
    const RunResult run = run_file_fault_with_copies(job, job.dir / "out", "stop", "--grace 60");
    CHECK(run.output.find("mpirun is still waiting") == std::string::npos);
  }
  SECTION("a whole file's output written, then killed before rank 0 heard of it") {
    FaultJob job;
    run_file_fault_with_copies(job, job.dir / "out", "killdone");
    CHECK(dips_temp_files(job.dir / "out").empty());
  }
  SECTION("pieces of a banded image: the decode writing its pixel file, a band") {
    TempDir dir;
    fs::create_directories(dir / "in");
    const cv::Mat image = qr_image({"tail", "copies"}, 3);
    REQUIRE(cv::imwrite((dir / "in/big.png").string(), image));
    const std::string pipeline = "blur=3,edge_detection,read_qr_code";
    for (const auto& [kind, fault] : std::vector<std::pair<std::string, std::string>>{{"decode", "killprogress"}, {"decode", "kill"}, {"band", "kill"}}) {
      INFO(fault << " holding a " << kind << " piece");
      const fs::path outdir = dir / ("out_" + kind + fault);
      const RunResult run = run_with_piece_fault(dir / "in", outdir, pipeline, kind, fault, "", kCopyFlags);
      INFO(run.output);
      REQUIRE(run.code == 0);
      std::vector<std::string> decoded;
      CHECK(identical(read_output(outdir / "big.png"), reference_pipeline(pipeline, image, &decoded)));
      const auto tasks = report_tasks(outdir / "report.jsonl");
      REQUIRE(tasks.size() == 1);
      CHECK(tasks.begin()->second["decoded"].get<std::vector<std::string>>() == decoded);
      check_copied(outdir / "report.jsonl", injecting_rank(run.output));
      CHECK(dips_temp_files(outdir).empty());
    }
  }
}
