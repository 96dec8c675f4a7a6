// The edges of a job, end to end with the real binaries: names that are not UTF-8, --resume after inputs
// or outputs changed, job lists on standard input (under mpirun and dips-run), refusals before anything
// runs, what directory scans leave out, names that would drive a terminal, and the helper programs' usage.
#include <catch2/catch.hpp>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "dips/pipeline.h"
#include "harness.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;
using Catch::Contains;

namespace {

cv::Mat reference(const fs::path& input, const std::string& pipeline_text) {
  Pipeline pipeline;
  REQUIRE(parse_pipeline(pipeline_text, &pipeline).ok());
  OpResult result;
  REQUIRE(run_pipeline_whole(cv::imread(input.string(), cv::IMREAD_COLOR), pipeline, &result).ok());
  return result.image;
}

// dips alone (no mpirun: one process, the same rank 0 code), for what is decided before any work.
RunResult run_alone(const std::string& args) { return run_shell(std::string(DIPS_BINARY) + " " + args); }

// The task lines a run appended after the first `before` lines of the report.
std::vector<nlohmann::json> new_task_lines(const fs::path& report, size_t before) {
  std::vector<nlohmann::json> lines;
  const auto all = read_report(report);
  for (size_t i = before; i < all.size(); ++i) {
    if (all[i].contains("input")) lines.push_back(all[i]);
  }
  return lines;
}

}  // namespace

TEST_CASE("a file name that is not UTF-8: recorded exactly, valid JSON, and --resume skips it every time", "[edges]") {
  TempDir dir;
  const fs::path latin1 = dir / "in" / "latin1_\xe9.png";
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite(latin1.string(), photo_like(40, 30, 1)));
  REQUIRE(cv::imwrite((dir / "in/plain.png").string(), photo_like(30, 40, 2)));
  const fs::path outdir = dir / "out";
  const std::string args = "--op blur=3 --output " + quoted(outdir) + " " + quoted(dir / "in");
  RunResult run = run_dips(3, args);
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(identical(read_output(outdir / latin1.filename()), reference(latin1, "blur=3")));
  const auto tasks = report_tasks(outdir / "report.jsonl");  // a strict parse: every line is valid JSON
  REQUIRE(tasks.size() == 2);
  const auto& line = tasks.at((outdir / "latin1_\xef\xbf\xbd.png").string());
  CHECK(line["input_base64"].is_string());
  CHECK(line["output_base64"].is_string());
  for (int round = 1; round <= 2; ++round) {
    INFO("resume " << round);
    const size_t before = read_report(outdir / "report.jsonl").size();
    run = run_dips(3, args + " --resume");
    INFO(run.output);
    REQUIRE(run.code == 0);
    CHECK(new_task_lines(outdir / "report.jsonl", before).empty());
    CHECK(read_report(outdir / "report.jsonl").back()["summary"]["skipped"] == 2);
  }
}

TEST_CASE("--resume redoes a task whose input changed or whose output is not as written, and only those", "[edges]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  for (int i = 0; i < 3; ++i) REQUIRE(cv::imwrite((dir / "in" / ("img" + std::to_string(i) + ".png")).string(), photo_like(40, 50, i)));
  const fs::path outdir = dir / "out";
  const std::string args = "--op blur=3 --output " + quoted(outdir) + " " + quoted(dir / "in");
  RunResult run = run_dips(2, args);
  INFO(run.output);
  REQUIRE(run.code == 0);
  const auto first = report_tasks(outdir / "report.jsonl");
  const auto& recorded = first.at((outdir / "img0.png").string());
  CHECK(recorded["input_size"] == fs::file_size(dir / "in/img0.png"));
  CHECK(recorded["output_size"] == fs::file_size(outdir / "img0.png"));
  CHECK(recorded["input_mtime_ns"].is_number_integer());

  // img0: replaced by another image with its old modification time; img1: its output cut short.
  const auto mtime = fs::last_write_time(dir / "in/img0.png");
  REQUIRE(cv::imwrite((dir / "in/img0.png").string(), photo_like(60, 50, 7)));
  fs::last_write_time(dir / "in/img0.png", mtime);
  const auto size1 = fs::file_size(outdir / "img1.png");
  fs::resize_file(outdir / "img1.png", size1 / 2);
  const size_t before = read_report(outdir / "report.jsonl").size();
  run = run_dips(2, args + " --resume");
  INFO(run.output);
  REQUIRE(run.code == 0);
  std::set<std::string> redone;
  for (const auto& line : new_task_lines(outdir / "report.jsonl", before)) redone.insert(line["output"].get<std::string>());
  CHECK(redone == std::set<std::string>{(outdir / "img0.png").string(), (outdir / "img1.png").string()});
  CHECK(identical(read_output(outdir / "img0.png"), reference(dir / "in/img0.png", "blur=3")));
  CHECK(identical(read_output(outdir / "img1.png"), reference(dir / "in/img1.png", "blur=3")));
  CHECK(read_report(outdir / "report.jsonl").back()["summary"]["skipped"] == 1);
}

TEST_CASE("--files-from - and --manifest - read standard input on rank 0, under mpirun and dips-run", "[edges]") {
  TempDir dir;
  fs::create_directories(dir / "in/sub");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(40, 30, 1)));
  REQUIRE(cv::imwrite((dir / "in/sub/b.png").string(), photo_like(30, 40, 2)));
  const fs::path list = dir / "list", manifest = dir / "manifest";
  write_text(list, (dir / "in/a.png").string() + "\n" + (dir / "in/sub/b.png").string() + "\n");
  write_text(manifest, (dir / "in/a.png").string() + "\tgrayscale\tgray_a.png\n");

  SECTION("a file list through mpirun") {
    const RunResult run = run_dips(3, "--op blur=3 --files-from - --output " + quoted(dir / "out") + " < " + quoted(list));
    INFO(run.output);
    REQUIRE(run.code == 0);
    CHECK(identical(read_output(dir / "out/a.png"), reference(dir / "in/a.png", "blur=3")));
    CHECK(identical(read_output(dir / "out/b.png"), reference(dir / "in/sub/b.png", "blur=3")));
    CHECK(report_tasks(dir / "out/report.jsonl").at((dir / "out/b.png").string())["origin"] == "<stdin>:2");
  }
  SECTION("a manifest through scripts/dips-run") {
    const RunResult run = run_dips_run(3, "--quiet --manifest - --output " + quoted(dir / "out") + " < " + quoted(manifest));
    INFO(run.output);
    REQUIRE(run.code == 0);
    CHECK(identical(read_output(dir / "out/gray_a.png"), reference(dir / "in/a.png", "grayscale")));
  }
  SECTION("errors name <stdin> and the line; nothing on standard input is an error") {
    write_text(manifest, (dir / "in/a.png").string() + "\tblur\n" + (dir / "in/a.png").string() + "\tfrobnicate\n");
    RunResult run = run_alone("--manifest - --output " + quoted(dir / "out") + " < " + quoted(manifest));
    CHECK(run.code == 2);
    CHECK_THAT(run.output, Contains("<stdin>:2: unknown operation 'frobnicate'"));
    run = run_alone("--manifest - --output " + quoted(dir / "out"));
    CHECK(run.code == 2);
    CHECK_THAT(run.output, Contains("<stdin>: the manifest is empty"));
    run = run_alone("--op blur --files-from - --output " + quoted(dir / "out"));
    CHECK(run.code == 2);
    CHECK_THAT(run.output, Contains("<stdin>: the list of inputs is empty"));
    CHECK_FALSE(fs::exists(dir / "out"));
  }
}

TEST_CASE("refused before anything runs, with exit 2 and a clear message", "[edges]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(40, 30, 1)));
  const std::string out = " --output " + quoted(dir / "out") + " ";
  const std::string in = " " + quoted(dir / "in");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--op blur" + out + quoted(dir / "missing/"), (dir / "missing/").string() + ": No such file or directory"},
      {"--op blur" + out + quoted(dir / "in/typo.png") + in, (dir / "in/typo.png").string() + ": No such file or directory"},
      {"--format ppm --op edge_detection" + out + in, "--format ppm: a .ppm cannot hold this pipeline's gray (1-channel) result"},
      {"--format pgm --op blur" + out + in, "--format pgm: a .pgm cannot hold this pipeline's colour (3-channel) result"},
      {"--format 'p ng' --op blur" + out + in, "--format takes a file extension such as png"},
      {"--format ../png --op blur" + out + in, "--format takes a file extension such as png"},
      {"--report " + quoted(dir / "out/a.png") + " --op blur" + out + in, "is the report (--report)"},
      {"--report " + quoted(dir / "in/a.png") + " --op blur" + out + in, "is an input of this job"},
      {"--op blur --op grayscale" + out + in, "--op is given twice ('blur' and 'grayscale')"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args);
    const RunResult run = run_alone(args);
    INFO(run.output);
    CHECK(run.code == 2);
    CHECK_THAT(run.output, Contains(message));
    CHECK_THAT(run.output, !Contains("names a folder"));
    CHECK_FALSE(fs::exists(dir / "out"));
  }
  // Repeated flags are harmless.
  const RunResult run = run_alone("--quiet --quiet --op blur" + out + in);
  CHECK(run.code == 0);
}

TEST_CASE("an input whose own format cannot hold the result fails alone, before it is computed", "[edges]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(40, 30, 1)));
  REQUIRE(cv::imwrite((dir / "in/scan.ppm").string(), photo_like(40, 30, 2)));
  const RunResult run = run_dips(2, "--op edge_detection --output " + quoted(dir / "out") + " " + quoted(dir / "in"));
  INFO(run.output);
  CHECK(run.code == 1);
  const auto tasks = report_tasks(dir / "out/report.jsonl");
  CHECK(tasks.at((dir / "out/a.png").string())["status"] == "ok");
  const auto& refused = tasks.at((dir / "out/scan.ppm").string());
  CHECK(refused["status"] == "error");
  CHECK_THAT(refused["error"].get<std::string>(), Contains("a .ppm cannot hold this pipeline's gray (1-channel) result"));
  CHECK(refused["pieces"].empty());  // never sent to a worker
  CHECK_FALSE(fs::exists(dir / "out/scan.ppm"));
}

TEST_CASE("directory scans: .pam and .jfif taken, the rest counted in the summary and the report", "[edges]") {
  TempDir dir;
  fs::create_directories(dir / "in/sub");
  REQUIRE(cv::imwrite((dir / "in/a.png").string(), photo_like(40, 30, 1)));
  REQUIRE(cv::imwrite((dir / "in/b.pam").string(), photo_like(30, 40, 2)));
  std::vector<uint8_t> jpeg;
  REQUIRE(cv::imencode(".jpg", photo_like(30, 30, 3), jpeg));
  write_bytes(dir / "in/c.jfif", jpeg);
  write_text(dir / "in/notes.txt", "not an image");
  write_text(dir / "in/d.gif", "GIF89a");
  REQUIRE(cv::imwrite((dir / "in/sub/e.png").string(), photo_like(20, 20, 4)));
  const fs::path outdir = dir / "out";
  RunResult run = run_dips(2, "--format png --op blur=3 --output " + quoted(outdir) + " " + quoted(dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  for (const char* name : {"a", "b", "c"}) {
    INFO(name);
    const fs::path input = *std::find_if(fs::directory_iterator(dir / "in"), fs::directory_iterator(),
                                         [&](const fs::directory_entry& e) { return e.path().stem() == name; });
    CHECK(identical(read_output(outdir / (std::string(name) + ".png")), reference(input, "blur=3")));
  }
  CHECK_THAT(run.output, Contains("dips: not taken from the input folders: 1 .gif (GIF is not supported), 1 .txt, 1 sub-directory (--recursive descends)"));
  const auto summary = read_report(outdir / "report.jsonl").back()["summary"];
  CHECK(summary["scan_skipped"] == nlohmann::json{{".gif", 1}, {".txt", 1}, {"sub-directory", 1}});
  CHECK(summary["tasks"] == 3);
  // Without --format, a .jfif's output is named .jpg (OpenCV has no .jfif writer); a .pam stays .pam.
  run = run_alone("--dry-run --op blur=3 --output " + quoted(dir / "out2") + " " + quoted(dir / "in"));
  CHECK_THAT(run.output, Contains("-> " + (dir / "out2/c.jpg").string()) && Contains("-> " + (dir / "out2/b.pam").string()));
}

TEST_CASE("--dry-run escapes control characters in names", "[edges]") {
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/two\nlines.png").string(), photo_like(20, 20, 1)));
  REQUIRE(cv::imwrite((dir / "in/esc\x1b[2J.png").string(), photo_like(20, 20, 2)));
  const RunResult run = run_alone("--dry-run --op blur --output " + quoted(dir / "out") + " " + quoted(dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK_THAT(run.output, Contains("two\\nlines.png  [20x20]") && Contains("esc\\x1b[2J.png  [20x20]"));
  CHECK(run.output.find('\x1b') == std::string::npos);
  CHECK(run.output.find("\nlines.png") == std::string::npos);
}

TEST_CASE("usage: dips without arguments, dips-make-samples --help and a missing OUTDIR", "[edges]") {
  RunResult run = run_alone("");
  CHECK(run.code == 2);
  CHECK_THAT(run.output, Contains("no arguments") && Contains("Usage:") && Contains("dips --help lists every option"));
  run = run_shell(std::string(DIPS_MAKE_SAMPLES) + " --help");
  CHECK(run.code == 0);
  CHECK_THAT(run.output, Contains("usage: dips-make-samples OUTDIR"));
  run = run_shell(std::string(DIPS_MAKE_SAMPLES));
  CHECK(run.code == 2);
  CHECK_THAT(run.output, Contains("expected one OUTDIR"));
  run = run_shell(std::string(DIPS_MAKE_SAMPLES) + " --frobnicate");
  CHECK(run.code == 2);
  TempDir dir;
  run = run_shell(std::string(DIPS_MAKE_SAMPLES) + " " + quoted(dir / "not/yet/there"));
  INFO(run.output);
  CHECK(run.code == 0);
  CHECK(!cv::imread((dir / "not/yet/there/qr_codes.png").string()).empty());
}
