// Multi-rank tests: the real dips binary under mpirun, outputs compared pixel for pixel with the
// whole-image OpenCV reference, reports and exit codes checked.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "dips/pipeline.h"
#include "dips/report.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

// Inputs of every kind the job meets: small (one tile) and larger, colour and gray, PNG and JPEG, QR codes.
struct Inputs {
  TempDir dir;
  std::vector<std::string> names = {"small.png", "big.png", "gray.png", "photo.jpg", "qr.png"};
  Inputs() {
    fs::create_directories(dir / "in");
    cv::Mat gray;
    cv::cvtColor(photo_like(90, 70, 5), gray, cv::COLOR_BGR2GRAY);
    REQUIRE(cv::imwrite((dir / "in/small.png").string(), photo_like(40, 50, 3)));
    REQUIRE(cv::imwrite((dir / "in/big.png").string(), photo_like(150, 120, 4)));
    REQUIRE(cv::imwrite((dir / "in/gray.png").string(), gray));
    REQUIRE(cv::imwrite((dir / "in/photo.jpg").string(), photo_like(130, 100, 6)));
    REQUIRE(cv::imwrite((dir / "in/qr.png").string(), qr_image({"alpha", "beta"}, 3)));
  }
  fs::path input(const std::string& name) const { return dir / "in" / name; }
};

const std::vector<std::string> kPipelines = {
    "edge_detection", "color_inversion", "grayscale", "threshold", "blur", "blur=8", "dilate=3", "erode", "resize=33", "resize",
    "equalize_histogram", "find_contours", "read_qr_code", "grayscale,threshold", "blur=3,edge_detection",
    "blur=7,equalize_histogram", "dilate=3,erode=3,find_contours", "resize=50,blur=3", "blur=3,read_qr_code"};

OpResult reference(const fs::path& input, const std::string& pipeline_text) {
  Pipeline pipeline;
  REQUIRE(parse_pipeline(pipeline_text, &pipeline).ok());
  OpResult result;
  REQUIRE(run_pipeline_whole(cv::imread(input.string(), cv::IMREAD_COLOR), pipeline, &result).ok());
  return result;
}

std::string safe_name(std::string text) {
  for (char& c : text) if (c == ',' || c == '=') c = '_';
  return text;
}

// Writes a manifest running every pipeline on every input, outputs as PNG under out/<pipeline>/.
fs::path write_full_manifest(const Inputs& inputs) {
  const fs::path manifest = inputs.dir / "job.tsv";
  std::ofstream out(manifest);
  out << "# every operation on every input\n";
  for (const auto& pipeline : kPipelines) {
    for (const auto& name : inputs.names) {
      out << "in/" << name << "\t" << pipeline << "\t" << safe_name(pipeline) << "/" << fs::path(name).stem().string() << ".png\n";
    }
  }
  return manifest;
}

void check_full_job(const Inputs& inputs, const fs::path& outdir, int np) {
  const auto tasks = report_tasks(outdir / "report.jsonl");
  REQUIRE(tasks.size() == kPipelines.size() * inputs.names.size());
  for (const auto& pipeline : kPipelines) {
    for (const auto& name : inputs.names) {
      const fs::path output = outdir / safe_name(pipeline) / (fs::path(name).stem().string() + ".png");
      INFO(pipeline << " on " << name);
      const OpResult expected = reference(inputs.input(name), pipeline);
      CHECK(identical(read_output(output), expected.image));
      const auto& line = tasks.at(output.string());
      CHECK(line["status"] == "ok");
      CHECK(line["error"].is_null());
      CHECK(line["ops"] == pipeline_text([&] { Pipeline p; parse_pipeline(pipeline, &p); return p; }()));
      CHECK(line["decoded"].get<std::vector<std::string>>() == expected.decoded);
      const cv::Mat input = cv::imread(inputs.input(name).string());
      CHECK(line["width"] == input.cols);
      CHECK(line["height"] == input.rows);
      for (int rank : line["ranks"].get<std::vector<int>>()) CHECK((np == 1 ? rank == 0 : (rank >= 1 && rank < np)));
      CHECK(!line["ranks"].empty());
    }
  }
  const auto report = read_report(outdir / "report.jsonl");
  CHECK(report.front()["dips_report"] == kReportVersion);
  REQUIRE(report.back().contains("summary"));
  CHECK(report.back()["summary"]["ok"] == tasks.size());
  CHECK(report.back()["summary"]["exit_code"] == 0);
}

}  // namespace

TEST_CASE("every operation and pipeline is exact for 1, 2, 3 and 5 ranks and several tile sizes", "[mpi][exact]") {
  Inputs inputs;
  const fs::path manifest = write_full_manifest(inputs);
  for (int np : {1, 2, 3, 5}) {
    for (int tile_rows : {0, 16, 37}) {
      DYNAMIC_SECTION("np " << np << ", tile rows " << tile_rows) {
        const fs::path outdir = inputs.dir / ("out_" + std::to_string(np) + "_" + std::to_string(tile_rows));
        const RunResult run = run_dips(np, "--quiet --manifest " + quoted(manifest) + " --output " + quoted(outdir) +
                                               " --tile-rows " + std::to_string(tile_rows));
        INFO(run.output);
        REQUIRE(run.code == 0);
        check_full_job(inputs, outdir, np);
      }
    }
  }
}

TEST_CASE("directory jobs keep relative paths; --recursive descends; JPEG outputs stay JPEG", "[mpi][job]") {
  Inputs inputs;
  fs::create_directories(inputs.dir / "in/sub/deeper");
  REQUIRE(cv::imwrite((inputs.dir / "in/sub/deeper/nested.png").string(), photo_like(30, 30, 9)));
  const fs::path flat = inputs.dir / "flat", deep = inputs.dir / "deep";
  RunResult run = run_dips(3, "--op blur=3 --output " + quoted(flat) + " " + quoted(inputs.dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  for (const auto& name : inputs.names) CHECK(fs::exists(flat / name));
  CHECK(!fs::exists(flat / "sub"));
  CHECK(report_tasks(flat / "report.jsonl").size() == inputs.names.size());
  // A JPEG output is exactly OpenCV's JPEG encoding of the reference pixels.
  std::vector<uchar> expected;
  cv::imencode(".jpg", reference(inputs.input("photo.jpg"), "blur=3").image, expected);
  std::ifstream jpeg(flat / "photo.jpg", std::ios::binary);
  CHECK(std::vector<uchar>(std::istreambuf_iterator<char>(jpeg), {}) == expected);

  run = run_dips(2, "--op grayscale --recursive --format png --output " + quoted(deep) + " " + quoted(inputs.dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(identical(read_output(deep / "sub/deeper/nested.png"), reference(inputs.dir / "in/sub/deeper/nested.png", "grayscale").image));
  CHECK(fs::exists(deep / "photo.png"));
  CHECK(report_tasks(deep / "report.jsonl").size() == inputs.names.size() + 1);
}

TEST_CASE("manifest jobs: spaces, parentheses, comments, CRLF, relative paths and default outputs", "[mpi][job]") {
  Inputs inputs;
  fs::create_directories(inputs.dir / "jobs/pics");
  const fs::path panda = inputs.dir / "jobs/pics/Image 1 (Panda).png";
  REQUIRE(cv::imwrite(panda.string(), photo_like(60, 80, 11)));
  {
    std::ofstream out(inputs.dir / "jobs/manifest.tsv", std::ios::binary);
    out << "# a comment line\r\n\r\n"
        << "pics/Image 1 (Panda).png\tblur=5,edge_detection\tresults/Panda edges (1).png\r\n"
        << "   # indented comment\n"
        << "pics/Image 1 (Panda).png\tcolor_inversion\n"
        << "../in/big.png\tthreshold\tbig threshold.png\n";
  }
  const fs::path outdir = inputs.dir / "out dir";
  const RunResult run = run_dips(3, "--tile-rows 7 --manifest " + quoted(inputs.dir / "jobs/manifest.tsv") + " --output " + quoted(outdir));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(identical(read_output(outdir / "results/Panda edges (1).png"), reference(panda, "blur=5,edge_detection").image));
  CHECK(identical(read_output(outdir / "pics/Image 1 (Panda).png"), reference(panda, "color_inversion").image));
  CHECK(identical(read_output(outdir / "big threshold.png"), reference(inputs.input("big.png"), "threshold").image));
  const auto tasks = report_tasks(outdir / "report.jsonl");
  REQUIRE(tasks.size() == 3);
  CHECK(tasks.at((outdir / "big threshold.png").string())["origin"].get<std::string>().find("manifest.tsv:6") != std::string::npos);
}

TEST_CASE("--dry-run prints the plan and writes nothing", "[mpi][job]") {
  Inputs inputs;
  const fs::path outdir = inputs.dir / "never";
  const RunResult run = run_dips(3, "--dry-run --tile-rows 20 --op blur=3,edge_detection --output " + quoted(outdir) + " " + quoted(inputs.dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(!fs::exists(outdir));
  CHECK(run.output.find("dry run: 5 tasks") != std::string::npos);
  CHECK(run.output.find("big.png  [120x150]") != std::string::npos);
  CHECK(run.output.find("8 pieces (canny, halo 3)") != std::string::npos);
}

TEST_CASE("existing outputs are kept unless --overwrite", "[mpi][job]") {
  Inputs inputs;
  const fs::path outdir = inputs.dir / "out";
  const std::string args = "--op grayscale --output " + quoted(outdir) + " " + quoted(inputs.input("small.png"));
  REQUIRE(run_dips(2, args).code == 0);
  const auto first = fs::last_write_time(outdir / "small.png");
  // A different pipeline into the same file: refused, the first result intact.
  RunResult run = run_dips(2, "--op color_inversion --output " + quoted(outdir) + " " + quoted(inputs.input("small.png")));
  CHECK(run.code == 1);
  CHECK(run.output.find("exists") != std::string::npos);
  CHECK(fs::last_write_time(outdir / "small.png") == first);
  CHECK(identical(read_output(outdir / "small.png"), reference(inputs.input("small.png"), "grayscale").image));
  run = run_dips(2, "--overwrite --op color_inversion --output " + quoted(outdir) + " " + quoted(inputs.input("small.png")));
  CHECK(run.code == 0);
  CHECK(identical(read_output(outdir / "small.png"), reference(inputs.input("small.png"), "color_inversion").image));
}

TEST_CASE("outputs escaping the output directory or landing on inputs are refused before anything runs", "[mpi][job]") {
  Inputs inputs;
  const fs::path outdir = inputs.dir / "out";
  for (const std::string& output : {std::string("../escape.png"), (inputs.dir / "elsewhere.png").string(), std::string("a/../../up.png")}) {
    {
      std::ofstream out(inputs.dir / "job.tsv");
      out << "in/small.png\tblur\tok.png\n" << "in/big.png\tblur\t" << output << "\n";
    }
    const RunResult run = run_dips(2, "--manifest " + quoted(inputs.dir / "job.tsv") + " --output " + quoted(outdir));
    INFO(output << "\n" << run.output);
    CHECK(run.code == 2);
    CHECK(run.output.find("job.tsv:2") != std::string::npos);
    CHECK(!fs::exists(outdir / "ok.png"));
    CHECK(!fs::exists(inputs.dir / "escape.png"));
    CHECK(!fs::exists(inputs.dir / "elsewhere.png"));
    CHECK(!fs::exists(inputs.dir / "up.png"));
  }
  // The output directory is the input directory: every output would overwrite its input.
  const RunResult run = run_dips(2, "--op blur --output " + quoted(inputs.dir / "in") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 2);
  CHECK(run.output.find("inputs are never overwritten") != std::string::npos);
}

TEST_CASE("a bad file among good ones fails alone", "[mpi][job]") {
  Inputs inputs;
  {
    std::ofstream junk(inputs.dir / "in/corrupt.png", std::ios::binary);
    junk << "this is not a PNG at all";
  }
  const fs::path outdir = inputs.dir / "out";
  // A missing file on the command line refuses the job (a typo); in a list it is a task that fails.
  write_text(inputs.dir / "list", (inputs.dir / "missing.png").string() + "\n");
  const RunResult run = run_dips(3, "--format png --tile-rows 16 --op blur=3 --output " + quoted(outdir) + " " + quoted(inputs.dir / "in") +
                                        " --files-from " + quoted(inputs.dir / "list"));
  INFO(run.output);
  CHECK(run.code == 1);
  const auto tasks = report_tasks(outdir / "report.jsonl");
  REQUIRE(tasks.size() == inputs.names.size() + 2);
  CHECK(tasks.at((outdir / "corrupt.png").string())["status"] == "error");
  CHECK(tasks.at((outdir / "corrupt.png").string())["error"].get<std::string>().find("cannot decode") != std::string::npos);
  CHECK(tasks.at((outdir / "missing.png").string())["error"].get<std::string>().find("No such file") != std::string::npos);
  CHECK(!fs::exists(outdir / "corrupt.png"));
  for (const auto& name : inputs.names) {
    const fs::path output = outdir / fs::path(name).replace_extension(".png");
    CHECK(identical(read_output(output), reference(inputs.input(name), "blur=3").image));
    CHECK(tasks.at(output.string())["status"] == "ok");
  }
  CHECK(run.output.find("corrupt.png: cannot decode") != std::string::npos);
}

TEST_CASE("scripts/dips-run exits with dips' status", "[mpi][dips-run]") {
  Inputs inputs;
  RunResult run = run_dips_run(3, "--quiet --op blur --output " + quoted(inputs.dir / "ok") + " " + quoted(inputs.dir / "in"));
  INFO(run.output);
  CHECK(run.code == 0);
  {
    std::ofstream junk(inputs.dir / "in/junk.jpg", std::ios::binary);
    junk << "junk";
  }
  run = run_dips_run(3, "--quiet --op blur --output " + quoted(inputs.dir / "some") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 1);
  run = run_dips_run(3, "--op no_such_op --output " + quoted(inputs.dir / "bad") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 2);
  CHECK(run.output.find("unknown operation 'no_such_op'") != std::string::npos);
  run = run_dips_run(3, "--op blur=abc --output " + quoted(inputs.dir / "bad") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 2);
  CHECK(run.output.find("1..255") != std::string::npos);
  // A dips that cannot be started: mpirun --enable-recovery would wait for it for ever.
  run = run_shell("env DIPS_BIN=" + quoted(inputs.dir / "no-such-dips") + " " DIPS_RUN_SCRIPT " -n 3 -- --op blur --output " +
                  quoted(inputs.dir / "bad") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 2);
  CHECK(run.output.find("is not an executable file") != std::string::npos);
  // A program that never starts dips (as mpirun waits for a host without dips): ended after --start-timeout,
  // nothing of it left.
  const fs::path never = inputs.dir / "never-starts";
  {
    std::ofstream script(never);
    script << "#!/bin/sh\nwhile :; do sleep 1; done\n";
  }
  fs::permissions(never, fs::perms::owner_all);
  run = run_shell("env DIPS_BIN=" + quoted(never) + " " DIPS_RUN_SCRIPT " --start-timeout 2 -n 3 -- --op blur --output " +
                  quoted(inputs.dir / "bad") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 2);
  CHECK(run.output.find("dips did not start within 2 s") != std::string::npos);
  // ("[n]ever": the pattern does not match the shell running pgrep; a process killed may take a moment to go.)
  const std::string pattern = quoted(inputs.dir / "[n]ever-starts");
  CHECK(run_shell("for i in $(seq 50); do pgrep -f " + pattern + " >/dev/null || exit 0; sleep 0.1; done; exit 1").code == 0);
  // dips started on rank 0 only (as on a hostfile whose other hosts lack it): rank 0 waits in MPI_Init.
  const fs::path rank0_only = inputs.dir / "rank0-only";
  {
    std::ofstream script(rank0_only);
    script << "#!/bin/sh\n[ \"$OMPI_COMM_WORLD_RANK\" = 0 ] && exec " DIPS_BINARY " \"$@\"\nwhile :; do sleep 1; done\n";
  }
  fs::permissions(rank0_only, fs::perms::owner_all);
  run = run_shell("env DIPS_BIN=" + quoted(rank0_only) + " " DIPS_RUN_SCRIPT " --start-timeout 2 -n 3 -- --op blur --output " +
                  quoted(inputs.dir / "bad") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 2);
  CHECK(run.output.find("dips did not start within 2 s") != std::string::npos);
  CHECK(run_shell("for i in $(seq 50); do pgrep -f " + quoted(inputs.dir / "[r]ank0-only") + " >/dev/null || exit 0; sleep 0.1; done; exit 1").code == 0);
  // A healthy job says "started" once MPI is up (here while its listing is held 4 s), and runs on.
  fs::create_directories(inputs.dir / "tmp");
  run = run_shell("TMPDIR=" + quoted(inputs.dir / "tmp") + " DIPS_FAULT='rank:0,after:0,kind:slow' DIPS_BIN=" DIPS_BINARY " " DIPS_RUN_SCRIPT
                  " --start-timeout 600 -n 3 -- --quiet --op blur --output " + quoted(inputs.dir / "held") + " " + quoted(inputs.dir / "in") +
                  " & pid=$!; seen=no; while kill -0 $pid 2>/dev/null; do grep -qsx started " + quoted(inputs.dir / "tmp") +
                  "/dips-status.* && seen=yes; sleep 0.05; done; wait $pid; echo \"code=$? seen=$seen\"");
  INFO(run.output);
  CHECK(run.output.find("code=1 seen=yes") != std::string::npos);  // 1: the junk file above
  CHECK(fs::is_empty(inputs.dir / "tmp"));  // its status file and the FIFO rank 0 wakes it through are gone
  run = run_dips_run(3, "--op blur --output " + quoted(inputs.dir / "bad") + " " + quoted(inputs.dir / "in"), "", "--start-timeout 0");
  CHECK(run.code == 2);
  CHECK(run.output.find("--start-timeout must be") != std::string::npos);
  // dips-run replaces lost workers by default: --respawn 0 lets the job run out of workers.
  run = run_dips_run(3, "--respawn 0 --tile-rows 8 --op blur=3 --output " + quoted(inputs.dir / "lost") + " " + quoted(inputs.dir / "in"),
                     "DIPS_FAULT='rank:1,after:1,kind:kill;rank:2,after:1,kind:kill'");
  CHECK(run.code == 3);
  CHECK(run.output.find("no worker left") != std::string::npos);
}

// Without dips-run, mpirun's own status is dips': no status file, and every rank ends with MPI_Finalize
// (dips-run's ranks end without it, which mpirun allows there: --mca orte_allowed_exit_without_sync 1).
TEST_CASE("a plain mpirun, as a user types it, exits with dips' status", "[mpi][job]") {
  Inputs inputs;
  const auto plain_mpirun = [&](const std::string& out) {
    return run_shell("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " DIPS_MPIEXEC " " DIPS_MPIEXEC_NUMPROC_FLAG
                     " 3 " DIPS_MPIEXEC_PREFLAGS " --oversubscribe --mca btl self,vader " DIPS_BINARY " --quiet --format png --op blur=3 --output " +
                     quoted(inputs.dir / out) + " " + quoted(inputs.dir / "in"));
  };
  RunResult run = plain_mpirun("ok");
  INFO(run.output);
  CHECK(run.code == 0);
  for (const auto& name : inputs.names) {
    CHECK(identical(read_output(inputs.dir / "ok" / fs::path(name).replace_extension(".png")), reference(inputs.input(name), "blur=3").image));
  }
  {
    std::ofstream junk(inputs.dir / "in/junk.jpg", std::ios::binary);
    junk << "junk";
  }
  run = plain_mpirun("some");
  INFO(run.output);
  CHECK(run.code == 1);
  CHECK(fs::exists(inputs.dir / "some/big.png"));
}

// bench/costs.sh measures rank 0 over TCP on one machine: mpirun refuses a transport list given twice, so
// dips-run must leave out its shared-memory default when the caller names the transports.
TEST_CASE("scripts/dips-run takes the caller's transports", "[mpi][dips-run]") {
  Inputs inputs;
  const fs::path outdir = inputs.dir / "tcp";
  const std::string tcp_on_lo = "--mpirun-arg --mca --mpirun-arg btl --mpirun-arg self,tcp "
                                "--mpirun-arg --mca --mpirun-arg btl_tcp_if_include --mpirun-arg lo";
  const RunResult run =
      run_dips_run(3, "--quiet --format png --op blur=3 --output " + quoted(outdir) + " " + quoted(inputs.dir / "in"), "", tcp_on_lo);
  INFO(run.output);
  CHECK(run.code == 0);
  for (const auto& name : inputs.names) {
    CHECK(identical(read_output(outdir / fs::path(name).replace_extension(".png")), reference(inputs.input(name), "blur=3").image));
  }
}

TEST_CASE("an unwritable output fails that task only", "[mpi][job]") {
  Inputs inputs;
  const fs::path outdir = inputs.dir / "out";
  fs::create_directories(outdir);
  std::ofstream(outdir / "blocked") << "a file where a folder should be";
  {
    std::ofstream out(inputs.dir / "job.tsv");
    out << "in/small.png\tblur\tblocked/small.png\n"
        << "in/big.png\tblur\tfine/big.png\n";
  }
  const RunResult run = run_dips(3, "--manifest " + quoted(inputs.dir / "job.tsv") + " --output " + quoted(outdir));
  INFO(run.output);
  CHECK(run.code == 1);
  const auto tasks = report_tasks(outdir / "report.jsonl");
  CHECK(tasks.at((outdir / "blocked/small.png").string())["error"].get<std::string>().find("cannot create output folder") !=
        std::string::npos);
  CHECK(identical(read_output(outdir / "fine/big.png"), reference(inputs.input("big.png"), "blur").image));
  CHECK(run.output.find("job.tsv:1") != std::string::npos);
}

TEST_CASE("progress: plain periodic lines in a log, a live line on a terminal, nothing with --quiet", "[mpi][job]") {
  Inputs inputs;
  RunResult run = run_dips(2, "--progress-interval 0.05 --op blur --output " + quoted(inputs.dir / "log") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 0);
  CHECK(run.output.find("[dips 0s] ") != std::string::npos);
  CHECK(run.output.find("5/5 tasks") != std::string::npos);
  CHECK(run.output.find("\r") == std::string::npos);
  run = run_dips(2, "--quiet --op blur --output " + quoted(inputs.dir / "quiet") + " " + quoted(inputs.dir / "in"));
  CHECK(run.code == 0);
  CHECK(run.output.find("[dips") == std::string::npos);
  // A terminal: script(1) gives dips a pseudo-terminal as stderr.
  const std::string command = std::string("env TERM=xterm OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ") + DIPS_BINARY +
                              " --op blur --output " + quoted(inputs.dir / "tty") + " " + quoted(inputs.dir / "in");
  const int code = std::system(("script -qec " + dips::testing::quoted(fs::path(command)) + " " + quoted(inputs.dir / "typescript") + " > /dev/null 2>&1").c_str());
  CHECK(WEXITSTATUS(code) == 0);
  std::ifstream typescript(inputs.dir / "typescript");
  const std::string screen(std::istreambuf_iterator<char>(typescript), {});
  CHECK(screen.find("\r\033[K[dips] ") != std::string::npos);
}

TEST_CASE("a dry run plans for the workers at work, not those standing by beyond the machine's cores", "[mpi][job]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  // A JPEG's bands are two per worker at work (a PNG's follow its decode, whatever the workers).
  REQUIRE(cv::imwrite((dir / "in/large.jpg").string(), photo_like(4000, 3000, 21)));
  const std::string job = "--format png --op blur=5,edge_detection --output " + quoted(dir / "out") + " " + quoted(dir / "in");
  const RunResult plan = run_dips(5, "--dry-run --host-cores 2 " + job);
  INFO(plan.output);
  CHECK(plan.output.find("4 workers (2 at work, 2 standing by") != std::string::npos);
  CHECK(plan.output.find("4 pieces (canny, halo 4)") != std::string::npos);
  // The job itself: the same pieces, on the two lowest ranks.
  const RunResult run = run_dips(5, "--quiet --host-cores 2 " + job);
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(identical(read_output(dir / "out/large.png"), reference(dir / "in/large.jpg", "blur=5,edge_detection").image));
  const auto line = report_tasks(dir / "out/report.jsonl").at((dir / "out/large.png").string());
  CHECK(line["ranks"].get<std::vector<int>>() == std::vector<int>{1, 2});
  size_t bands = 0;
  for (const auto& piece : line["pieces"]) bands += piece["kind"] == "band";
  CHECK(bands == 4);

  const RunResult all = run_dips(5, "--dry-run --host-cores all " + job);
  INFO(all.output);
  CHECK(all.output.find("dry run: 1 tasks, 4 workers, nothing will be written") != std::string::npos);
  CHECK(all.output.find("4 pieces (canny") == std::string::npos);
  CHECK(all.output.find(" pieces (canny, halo 4)") != std::string::npos);
  // --host-cores auto: the machine's cores are the CPUs the ranks may run on; all of them on one CPU here.
  const RunResult one_cpu = run_dips(3, "--dry-run " + job, on_one_cpu());
  INFO(one_cpu.output);
  CHECK(one_cpu.output.find("2 workers (1 at work, 1 standing by") != std::string::npos);
  CHECK(one_cpu.output.find("whole image to one worker") != std::string::npos);
}

TEST_CASE("a large image is cut into bands for every worker by default", "[mpi][job]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  // 12 MP. A PNG decodes top-down, in one stream: its bands start as the rows are decoded, in bands of
  // kBandPixels (2 MP: 6 of 500 rows); a JPEG's are two per worker (granularity.h).
  REQUIRE(cv::imwrite((dir / "in/large.png").string(), photo_like(4000, 3000, 21)));
  const RunResult run = run_dips(3, "--op blur=5,grayscale --output " + quoted(dir / "out") + " " + quoted(dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(identical(read_output(dir / "out/large.png"), reference(dir / "in/large.png", "blur=5,grayscale").image));
  const auto line = report_tasks(dir / "out/report.jsonl").at((dir / "out/large.png").string());
  CHECK(line["ranks"].get<std::vector<int>>() == std::vector<int>{1, 2});
  // The workers see the files: the decoded image goes to a pixel file that the bands read, not through
  // rank 0 (bytes_in: what rank 0 received with the piece's result, bytes_out: what it sent with it).
  size_t bands = 0;
  for (const auto& piece : line["pieces"]) {
    if (piece["kind"] == "decode") CHECK(piece["bytes_in"] == 0);
    if (piece["kind"] == "band" && piece["bytes_out"] == 0) ++bands;
  }
  CHECK(bands == 6);
  CHECK(dips_temp_files(dir / "out").empty());
  const RunResult plan = run_dips(3, "--dry-run --op blur=5,grayscale --output " + quoted(dir / "o2") + " " + quoted(dir / "in"));
  CHECK(plan.output.find("6 pieces (neighbourhood, halo 2)") != std::string::npos);
  fs::create_directories(dir / "jpeg");
  REQUIRE(cv::imwrite((dir / "jpeg/large.jpg").string(), photo_like(4000, 3000, 21)));
  const RunResult jpeg = run_dips(3, "--dry-run --op blur=5,grayscale --output " + quoted(dir / "o7") + " " + quoted(dir / "jpeg"));
  CHECK(jpeg.output.find("4 pieces (neighbourhood, halo 2)") != std::string::npos);

  SECTION("with --io mpi the decoded image travels through rank 0, with the same result") {
    const RunResult mpi = run_dips(3, "--io mpi --quiet --op blur=5,grayscale --output " + quoted(dir / "o4") + " " + quoted(dir / "in"));
    INFO(mpi.output);
    REQUIRE(mpi.code == 0);
    CHECK(identical(read_output(dir / "o4/large.png"), reference(dir / "in/large.png", "blur=5,grayscale").image));
    const auto task = report_tasks(dir / "o4/report.jsonl").at((dir / "o4/large.png").string());
    const uint64_t decoded_bytes = 4000 * 3000 * 3;
    size_t mpi_bands = 0;
    for (const auto& piece : task["pieces"]) {
      if (piece["kind"] == "decode") CHECK(piece["bytes_in"] == decoded_bytes);
      if (piece["kind"] == "band") ++mpi_bands;
    }
    CHECK(mpi_bands == 4);  // decoded whole before its bands (no pixel file to stream into): two per worker
    const RunResult mpi_plan = run_dips(3, "--io mpi --dry-run --op blur=5,grayscale --output " + quoted(dir / "o8") + " " + quoted(dir / "in"));
    CHECK(mpi_plan.output.find("4 pieces (neighbourhood, halo 2)") != std::string::npos);
  }

  SECTION("Canny in bands does a fifth more work: one worker keeps it whole, two share it") {
    const std::string job = "--dry-run --op blur=5,edge_detection --output " + quoted(dir / "o3") + " " + quoted(dir / "in");
    const RunResult one = run_dips(2, job);
    INFO(one.output);
    CHECK(one.output.find("whole image to one worker") != std::string::npos);
    const RunResult two = run_dips(3, job);
    INFO(two.output);
    CHECK(two.output.find("6 pieces (canny, halo 4)") != std::string::npos);
    // The last of two images, the other worker still busy with the first: whole, as its bands' extra
    // work would not be shared; blur's bands add none, so the busy worker joins them when it is done.
    fs::create_directories(dir / "two");
    fs::copy_file(dir / "in/large.png", dir / "two/a.png");
    fs::copy_file(dir / "in/large.png", dir / "two/b.png");
    const RunResult last = run_dips(3, "--dry-run --op blur=5,edge_detection --output " + quoted(dir / "o5") + " " + quoted(dir / "two"));
    INFO(last.output);
    CHECK(last.output.find("whole image to one worker") != std::string::npos);
    CHECK(last.output.find("(canny") == std::string::npos);
    const RunResult blur = run_dips(3, "--dry-run --op blur=5 --output " + quoted(dir / "o6") + " " + quoted(dir / "two"));
    INFO(blur.output);
    CHECK(blur.output.find("6 pieces (neighbourhood, halo 2)") != std::string::npos);
  }
}
