// Hostile inputs through the real binary under mpirun: every bad file fails alone with a clear message in
// the report and on stderr, the good ones are done exactly, nothing is written outside OUTDIR, nothing
// partial is left at an output path.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dips/pipeline.h"
#include "harness.h"
#include "hostile_bytes.h"
#include "test_images.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;

namespace {

cv::Mat reference_blur(const fs::path& input) {
  Pipeline pipeline;
  REQUIRE(parse_pipeline("blur=3", &pipeline).ok());
  OpResult result;
  REQUIRE(run_pipeline_whole(cv::imread(input.string(), cv::IMREAD_COLOR), pipeline, &result).ok());
  return result.image;
}

}  // namespace

TEST_CASE("hostile files each fail alone with a clear error; the rest is done exactly", "[badinput]") {
  TempDir dir;
  const fs::path in = dir / "in";
  fs::create_directories(in / "sub");
  const std::vector<uint8_t> jpeg = encode(photo_like(80, 90, 2), ".jpg"), png = encode(photo_like(70, 60, 3), ".png");
  // Bad ones, each with the words its error must contain.
  const std::map<std::string, std::string> bad = {
      {"empty.jpg", "empty file"},
      {"truncated_half.jpg", "truncated JPEG"},
      {"truncated_header.jpg", "cannot decode"},
      {"truncated.png", "cannot decode"},
      {"random.jpg", "cannot decode"},
      {"text.png", "cannot decode"},
      {"broken_link.png", "broken symbolic link"},
      {"bomb.png", "--max-pixels"},
      {"jpeg_bomb.jpg", "--max-pixels"},
      {"three_pages.tif", "the TIFF has 3 pages"},  // OpenCV alone would keep page 1 and say nothing
  };
  write_bytes(in / "empty.jpg", {});
  write_bytes(in / "truncated_half.jpg", truncated(jpeg, jpeg.size() / 2));
  write_bytes(in / "truncated_header.jpg", truncated(jpeg, 100));
  write_bytes(in / "truncated.png", truncated(png, png.size() / 2));
  std::vector<uint8_t> noise(5000);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  write_bytes(in / "random.jpg", noise);
  std::ofstream(in / "text.png") << "this is a text file named .png\n";
  fs::create_symlink(dir / "nowhere.png", in / "broken_link.png");
  write_bytes(in / "bomb.png", png_bomb(100000, 100000));
  write_bytes(in / "jpeg_bomb.jpg", jpeg_claiming(65000, 65000));
  REQUIRE(cv::imwritemulti((in / "three_pages.tif").string(),
                           std::vector<cv::Mat>{photo_like(20, 30, 1), photo_like(20, 30, 2), photo_like(20, 30, 3)}));
  // Good ones, unusual but valid: wrong extension, 16-bit, gray, alpha, 1x1, nested in a folder with a
  // symlink loop (never followed).
  write_bytes(in / "really_a_png.jpg", png);
  cv::Mat deep;
  photo_like(50, 40, 4).convertTo(deep, CV_16UC3, 257);
  REQUIRE(cv::imwrite((in / "sixteen_bit.png").string(), deep));
  cv::Mat gray, alpha;
  cv::cvtColor(photo_like(30, 20, 5), gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(photo_like(30, 20, 6), alpha, cv::COLOR_BGR2BGRA);
  REQUIRE(cv::imwrite((in / "gray.png").string(), gray));
  REQUIRE(cv::imwrite((in / "alpha.png").string(), alpha));
  REQUIRE(cv::imwrite((in / "sub/one_pixel.png").string(), photo_like(1, 1, 7)));
  fs::create_directory_symlink("..", in / "sub/loop");
  // Formats dips decodes through OpenCV's imgcodecs, which the dips binary loads from its own folder.
  write_bytes(in / "photo.tif", encode(photo_like(40, 50, 8), ".tif"));
  write_bytes(in / "bitmap.bmp", encode(photo_like(40, 50, 9), ".bmp"));
  write_bytes(in / "web.webp", encode(photo_like(40, 50, 10), ".webp"));
  const std::vector<std::string> good = {"really_a_png.jpg", "sixteen_bit.png", "gray.png",  "alpha.png",
                                         "sub/one_pixel.png", "photo.tif",      "bitmap.bmp", "web.webp"};

  const fs::path outdir = dir / "out";
  const RunResult run = run_dips(3, "--recursive --format png --max-pixels 100000000 --tile-rows 16 --op blur=3 --output " +
                                        quoted(outdir) + " " + quoted(in));
  INFO(run.output);
  CHECK(run.code == 1);
  const auto tasks = report_tasks(outdir / "report.jsonl");
  for (const auto& [name, words] : bad) {
    const fs::path output = outdir / fs::path(name).replace_extension(".png");
    INFO(name);
    REQUIRE(tasks.count(output.string()));
    const auto& line = tasks.at(output.string());
    CHECK(line["status"] == "error");
    CHECK(line["error"].get<std::string>().find(words) != std::string::npos);
    CHECK(!fs::exists(output));
    CHECK(run.output.find(fs::path(name).filename().string() + ": ") != std::string::npos);  // on stderr too
  }
  for (const auto& name : good) {
    const fs::path output = outdir / fs::path(name).replace_extension(".png");
    INFO(name);
    REQUIRE(tasks.count(output.string()));
    CHECK(tasks.at(output.string())["status"] == "ok");
    CHECK(identical(read_output(output), reference_blur(in / name)));
  }
  CHECK(tasks.size() == bad.size() + good.size());  // the symlink loop added nothing
  CHECK(dips_temp_files(outdir).empty());
}

TEST_CASE("a directory with an image's name fails alone (not --recursive, where it is descended)", "[badinput]") {
  TempDir dir;
  fs::create_directories(dir / "in/folder.jpg");
  REQUIRE(cv::imwrite((dir / "in/fine.png").string(), photo_like(20, 20, 1)));
  const RunResult run = run_dips(2, "--op blur=3 --output " + quoted(dir / "out") + " " + quoted(dir / "in"));
  CHECK(run.code == 1);
  const auto tasks = report_tasks(dir / "out/report.jsonl");
  CHECK(tasks.at((dir / "out/folder.jpg").string())["error"].get<std::string>().find("is a directory") != std::string::npos);
  CHECK(tasks.at((dir / "out/fine.png").string())["status"] == "ok");
}

TEST_CASE("an unreadable file fails alone (not as root)", "[badinput]") {
  if (::geteuid() == 0) {
    WARN("skipped: root reads every file");
    return;
  }
  TempDir dir;
  fs::create_directories(dir / "in");
  REQUIRE(cv::imwrite((dir / "in/locked.png").string(), photo_like(20, 20, 1)));
  REQUIRE(cv::imwrite((dir / "in/open.png").string(), photo_like(20, 20, 2)));
  fs::permissions(dir / "in/locked.png", fs::perms::none);
  const RunResult run = run_dips(2, "--op blur=3 --output " + quoted(dir / "out") + " " + quoted(dir / "in"));
  CHECK(run.code == 1);
  const auto tasks = report_tasks(dir / "out/report.jsonl");
  CHECK(tasks.at((dir / "out/locked.png").string())["error"].get<std::string>().find("Permission denied") != std::string::npos);
  CHECK(tasks.at((dir / "out/open.png").string())["status"] == "ok");
}

TEST_CASE("a disk without room for a banded image's pixel file: the pixels go through rank 0, the output is exact", "[badinput]") {
  TempDir dir;
  const fs::path outdir = dir / "small_disk";
  const TmpfsMount disk(outdir, "size=700k");
  if (!disk.mounted()) {
    WARN("skipped: needs root to mount a small tmpfs");
    return;
  }
  fs::create_directories(dir / "in");
  // Decoded, the image is 1.08 MB (its pixel file does not fit in 700 kB); its blurred PNG fits.
  const cv::Mat image = photo_like(600, 600, 9);
  REQUIRE(cv::imwrite((dir / "in/big.png").string(), image));
  const RunResult run = run_dips(3, "--tile-rows 100 --op blur=3 --report " + quoted(dir / "report.jsonl") + " --output " + quoted(outdir) + " " +
                                        quoted(dir / "in"));
  INFO(run.output);
  REQUIRE(run.code == 0);
  CHECK(identical(read_output(outdir / "big.png"), reference_pipeline("blur=3", image)));
  CHECK(fs::file_size(outdir / "big.png") < 700 * 1024);
  const auto task = report_tasks(dir / "report.jsonl").at((outdir / "big.png").string());
  for (const auto& piece : task["pieces"]) {
    if (piece["kind"] == "decode") CHECK(piece["bytes_in"] == image.total() * 3);  // relayed by rank 0
  }
  CHECK(dips_temp_files(outdir).empty());
}

TEST_CASE("a disk that fills up mid-job: those tasks fail, nothing partial, earlier outputs intact", "[badinput]") {
  TempDir dir;
  const fs::path outdir = dir / "small_disk";
  const TmpfsMount disk(outdir, "size=600k");
  if (!disk.mounted()) {
    WARN("skipped: needs root to mount a small tmpfs");
    return;
  }
  fs::create_directories(dir / "in");
  // Noise does not compress: each PNG output is about 150 kB, so the 600 kB disk holds three of them.
  for (int i = 0; i < 8; ++i) REQUIRE(cv::imwrite((dir / "in" / ("n" + std::to_string(i) + ".png")).string(), noise(160, 300, i)));
  // The journal on another disk: its thumbnails (docs/report.md) would compete with the outputs for the
  // 600 kB, and this is about the outputs.
  const RunResult run = run_dips(3, "--op color_inversion --report " + quoted(dir / "report.jsonl") + " --output " + quoted(outdir) + " " + quoted(dir / "in"));
  INFO(run.output);
  CHECK(run.code == 1);
  const auto tasks = report_tasks(dir / "report.jsonl");
  int ok = 0, full = 0;
  for (const auto& [output, line] : tasks) {
    if (line["status"] == "ok") {
      ++ok;
      cv::Mat expected;
      cv::bitwise_not(cv::imread(line["input"].get<std::string>()), expected);
      CHECK(identical(read_output(output), expected));
    } else {
      ++full;
      CHECK(line["error"].get<std::string>().find("No space left on device") != std::string::npos);
      CHECK(!fs::exists(output));
    }
  }
  CHECK(ok >= 1);
  CHECK(full >= 1);
  CHECK(dips_temp_files(outdir).empty());
}
