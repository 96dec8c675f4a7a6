// image_io: decode_image, sniff_image_size, read_file and write_file_atomic with hostile and broken inputs:
// truncated, random and mislabelled image bytes, decompression bombs, paths that are not plain files,
// full and read-only disks. Every case asserts the documented contract: a clear error message (or, where
// the input is legitimately usable, a deterministic result), never a crash or hang. Image bytes also go
// through execute_item (a whole-file piece), which must give the same result.
//
// docs/bad-inputs.md tabulates what dips does with each input tried here (tag [bad_input]).
//
// Tests that would crash or hang the test binary if a fixed bug came back run their body in a forked child
// (run_isolated), so that a regression fails the test instead of ending the run.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dips/image_io.h"
#include "dips/temp_files.h"
#include "dips/operation.h"
#include "dips/wire.h"
#include "dips/execute.h"
#include "harness.h"
#include "hostile_bytes.h"
#include "test_images.h"

namespace fs = std::filesystem;
using Catch::Contains;
using dips::Status;
using namespace dips::testing;

namespace {

size_t entry_count(const fs::path& dir) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++n;
  }
  return n;
}

// Runs fn in a forked child, so that a crash or a hang of the code under test fails the test instead of
// killing the test binary. fn returns true for "behaved as it should". A hang is a minute: far longer than
// any of these children takes on a loaded machine, so that only a real hang (a blocking open, an endless
// loop) reaches it.
enum class Isolated { kPassed, kFailed, kCrashed, kHung };
Isolated run_isolated(const std::function<bool()>& fn, int* signal_out = nullptr) {
  constexpr std::chrono::milliseconds timeout(60000);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Catch2's own handlers would print a test report from the child: let a crash be a plain crash.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::signal(sig, SIG_DFL);
    ::alarm(static_cast<unsigned>(timeout.count() / 1000 + 5));  // never outlive the parent's patience for long
    ::_exit(fn() ? 0 : 1);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return Isolated::kHung;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFSIGNALED(status)) {
    if (signal_out) *signal_out = WTERMSIG(status);
    return WTERMSIG(status) == SIGALRM ? Isolated::kHung : Isolated::kCrashed;
  }
  return WEXITSTATUS(status) == 0 ? Isolated::kPassed : Isolated::kFailed;
}

const char* isolated_name(Isolated r) {
  switch (r) {
    case Isolated::kPassed: return "passed";
    case Isolated::kFailed: return "failed";
    case Isolated::kCrashed: return "crashed";
    case Isolated::kHung: return "hung";
  }
  return "?";
}

}  // namespace

// ================================================================================================ images

TEST_CASE("decode_image and execute_item refuse empty bytes", "[bad_input][image]") {
  cv::Mat image;
  const Status status = dips::decode_image({}, kDefaultMaxPixels, &image);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("empty file"));
  CHECK(image.empty());

  const dips::ResultItem result = dips::execute_item(file_work({}));
  CHECK(result.piece_id == 7);
  CHECK_THAT(result.error, Contains("empty file"));
  CHECK(result.encoded.empty());
  CHECK(result.width == 0);
}

TEST_CASE("truncated PNG, BMP, TIFF, WebP and PNM files are errors at every cut", "[bad_input][image]") {
  const cv::Mat original = dips::testing::photo_like(64, 80, 11);
  for (const std::string ext : {".png", ".bmp", ".tif", ".webp", ".ppm"}) {
    const std::vector<uint8_t> full = encode(original, ext);
    for (size_t cut : {size_t(1), size_t(10), size_t(100), full.size() / 2, full.size() * 9 / 10, full.size() - 1}) {
      INFO(ext << " cut at " << cut << " of " << full.size() << " bytes");
      const std::vector<uint8_t> part = truncated(full, cut);
      cv::Mat image;
      const Status status = dips::decode_image(part, kDefaultMaxPixels, &image);
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Contains("cannot decode image"));
      const dips::ResultItem result = dips::execute_item(file_work(part));
      CHECK_THAT(result.error, Contains("cannot decode image"));
      CHECK(result.encoded.empty());
    }
  }
}

// OpenCV's JPEG decoder (libjpeg) treats a premature end of the data as a warning: once the headers are
// complete it returns a full-size image whose missing rows are filled in (measured with OpenCV 4.6: a
// 50% cut gave a 80x64 image whose top rows matched the full decode). dips therefore checks for the
// end-of-image marker itself (codec_sniff.cpp, jpeg_truncated): every cut is an error, with a message that
// says "truncated JPEG" once the cut is past the headers. Data after the end-of-image marker is tolerated.
TEST_CASE("truncated JPEGs are errors at every cut; trailing data after the end is tolerated", "[bad_input][image]") {
  const cv::Mat original = dips::testing::photo_like(64, 80, 12);
  for (const bool progressive : {false, true}) {
    const std::vector<uint8_t> full = encode(original, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0});
    cv::Mat reference;
    REQUIRE(dips::decode_image(full, kDefaultMaxPixels, &reference).ok());
    for (size_t cut : {size_t(1), size_t(2), size_t(10), size_t(100), full.size() / 4, full.size() / 2,
                       full.size() * 9 / 10, full.size() - 2, full.size() - 1}) {
      INFO((progressive ? "progressive" : "baseline") << ", cut at " << cut << " of " << full.size());
      const std::vector<uint8_t> part = truncated(full, cut);
      // What OpenCV alone does with a baseline JPEG cut past the headers: a full-size image, not an error.
      if (!progressive && cut >= full.size() / 2) CHECK(cv::imdecode(part, cv::IMREAD_COLOR).size() == original.size());
      cv::Mat image;
      const Status status = dips::decode_image(part, kDefaultMaxPixels, &image);
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Contains("cannot decode image"));
      if (cut >= full.size() / 4) CHECK_THAT(status.message(), Contains("truncated JPEG"));
      const dips::ResultItem result = dips::execute_item(file_work(part));
      CHECK(result.error == status.message());  // deterministic, and the same through the worker
      CHECK(result.encoded.empty());
    }
    std::vector<uint8_t> trailing = full;
    for (int i = 0; i < 300; ++i) trailing.push_back(static_cast<uint8_t>(i * 7));
    cv::Mat image;
    REQUIRE(dips::decode_image(trailing, kDefaultMaxPixels, &image).ok());
    CHECK(dips::testing::identical(image, reference));
  }
}

TEST_CASE("random bytes, text and garbage after a valid signature are not images", "[bad_input][image]") {
  std::mt19937 rng(2024);
  std::vector<std::vector<uint8_t>> inputs;
  for (size_t size : {1, 3, 17, 512, 4096, 65536}) {
    std::vector<uint8_t> bytes(size);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    inputs.push_back(bytes);
  }
  inputs.push_back(bytes_of("Hello, this is a plain text file.\nIt has two lines.\n"));
  inputs.push_back(bytes_of("#!/bin/sh\necho not an image\n"));
  inputs.push_back(bytes_of("{\"json\": true}"));
  inputs.push_back(std::vector<uint8_t>(1000, 0));
  // Valid magic, garbage body.
  for (std::vector<uint8_t> magic : {std::vector<uint8_t>{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                                     std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xE0}, std::vector<uint8_t>{'B', 'M'},
                                     std::vector<uint8_t>{'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'},
                                     std::vector<uint8_t>{'I', 'I', 42, 0}}) {
    std::vector<uint8_t> bytes = magic;
    for (int i = 0; i < 200; ++i) bytes.push_back(static_cast<uint8_t>(rng() % 200 + 1));  // no 0xFF markers
    inputs.push_back(bytes);
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("input " << i << " of " << inputs[i].size() << " bytes");
    cv::Mat image;
    const Status status = dips::decode_image(inputs[i], kDefaultMaxPixels, &image);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("cannot decode image") || Contains("over the limit"));
    CHECK(dips::execute_item(file_work(inputs[i])).error == status.message());
  }
}

TEST_CASE("a valid PNG under a .jpg name decodes by content", "[bad_input][image]") {
  TempDir dir;
  const cv::Mat original = dips::testing::photo_like(30, 40, 5);
  write_bytes(dir / "photo.jpg", encode(original, ".png"));
  std::vector<uint8_t> bytes;
  REQUIRE(dips::read_file(dir / "photo.jpg", 1 << 20, &bytes).ok());
  cv::Mat image;
  REQUIRE(dips::decode_image(bytes, kDefaultMaxPixels, &image).ok());
  CHECK(dips::testing::identical(image, original));  // PNG is lossless: the content, not the name, decided
  const dips::ResultItem result = dips::execute_item(file_work(bytes, "grayscale", ".jpg"));
  REQUIRE(result.error.empty());
  CHECK(result.width == 40);
  CHECK(result.height == 30);
  CHECK(cv::imdecode(std::vector<uint8_t>(result.encoded.data, result.encoded.data + result.encoded.size), cv::IMREAD_UNCHANGED).size() == cv::Size(40, 30));
}

TEST_CASE("16-bit, gray, alpha and 1x1 PNGs decode to 8-bit BGR and process", "[bad_input][image]") {
  const cv::Mat colour = dips::testing::photo_like(20, 24, 9);
  cv::Mat gray, alpha, deep, deep_gray;
  cv::cvtColor(colour, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(colour, alpha, cv::COLOR_BGR2BGRA);
  colour.convertTo(deep, CV_16UC3, 257.0);  // v * 257: the high byte is v again
  gray.convertTo(deep_gray, CV_16UC1, 257.0);

  SECTION("decoded values") {
    cv::Mat image;
    REQUIRE(dips::decode_image(encode(deep, ".png"), kDefaultMaxPixels, &image).ok());
    CHECK(image.type() == CV_8UC3);
    CHECK(dips::testing::identical(image, colour));

    REQUIRE(dips::decode_image(encode(gray, ".png"), kDefaultMaxPixels, &image).ok());
    CHECK(image.type() == CV_8UC3);
    cv::Mat expanded;
    cv::cvtColor(gray, expanded, cv::COLOR_GRAY2BGR);
    CHECK(dips::testing::identical(image, expanded));

    REQUIRE(dips::decode_image(encode(deep_gray, ".png"), kDefaultMaxPixels, &image).ok());
    CHECK(dips::testing::identical(image, expanded));

    REQUIRE(dips::decode_image(encode(alpha, ".png"), kDefaultMaxPixels, &image).ok());
    CHECK(image.type() == CV_8UC3);
    CHECK(dips::testing::identical(image, colour));  // alpha dropped, colour kept
  }

  SECTION("processing") {
    for (const cv::Mat& source : {deep, gray, alpha, deep_gray}) {
      const dips::ResultItem result = dips::execute_item(file_work(encode(source, ".png"), "blur=3,edge_detection,dilate=3"));
      REQUIRE(result.error.empty());
      CHECK(result.width == 24);
      CHECK(result.height == 20);
      const cv::Mat out = cv::imdecode(std::vector<uint8_t>(result.encoded.data, result.encoded.data + result.encoded.size), cv::IMREAD_UNCHANGED);
      CHECK(out.size() == cv::Size(24, 20));
    }
  }

  SECTION("1x1, 1xN and Nx1 images through every operation at its default and largest parameter") {
    for (const cv::Size size : {cv::Size(1, 1), cv::Size(17, 1), cv::Size(1, 17)}) {
      cv::Mat tiny(size, CV_8UC3, cv::Scalar(10, 120, 250));
      const std::vector<uint8_t> png = encode(tiny, ".png");
      for (const dips::Operation& op : dips::operations()) {
        std::vector<int> params = {op.param.default_value};
        if (op.param.accepted) params.push_back(op.name == "resize" ? 3 : op.param.max);
        for (int param : params) {
          INFO(size << " " << op.name << "=" << param);
          dips::WorkItem work = file_work(png);
          work.steps = {dips::Step{&op, param}};
          const dips::ResultItem result = dips::execute_item(work);
          CHECK(result.error.empty());
          const cv::Mat out = cv::imdecode(std::vector<uint8_t>(result.encoded.data, result.encoded.data + result.encoded.size), cv::IMREAD_UNCHANGED);
          REQUIRE_FALSE(out.empty());
          CHECK(out.size() == (op.name == "resize" && param ? cv::Size(param, param) : size));
        }
      }
    }
  }
}

TEST_CASE("decompression bombs are refused from the header, before decoding", "[bad_input][image][bomb]") {
  struct Bomb {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string claim;
  };
  std::vector<Bomb> bombs = {
      {"PNG 100000x100000", png_header(100000, 100000), "100000x100000"},
      {"JPEG 65000x65000 (baseline)", jpeg_claiming(65000, 65000), "65000x65000"},
      {"JPEG 65000x65000 (progressive)", jpeg_claiming(65000, 65000, true), "65000x65000"},
      {"BMP 100000x100000", bmp_header(100000, 100000), "100000x100000"},
      {"BMP 100000x-100000 (top-down)", bmp_header(100000, -100000), "100000x100000"},
      {"PPM 100000x100000", bytes_of("P6\n100000 100000\n255\n\x01\x02\x03"), "100000x100000"},
      {"PGM with a comment", bytes_of("P5\n# made by hand\n100000 100000\n255\n\x01"), "100000x100000"},
      {"WebP VP8X 100000x100000", webp_vp8x_header(100000, 100000), "100000x100000"},
      {"TIFF II 100000x100000", tiff_header(100000, 100000, false), "100000x100000"},
      {"TIFF MM 100000x100000", tiff_header(100000, 100000, true), "100000x100000"},
      // Just over dips' default limit yet under OpenCV's own (2^30 pixels): only dips' check stands
      // between these and a 1.2 GB allocation.
      {"PNG 20000x20000", png_header(20000, 20000), "20000x20000"},
      {"JPEG 20000x20000", jpeg_claiming(20000, 20000), "20000x20000"},
      {"BMP 20000x20000", bmp_header(20000, 20000), "20000x20000"},
      {"PPM 20000x20000", bytes_of("P6 20000 20000 255\n"), "20000x20000"},
      {"TIFF 20000x20000", tiff_header(20000, 20000, false, true), "20000x20000"},
  };
  for (const Bomb& bomb : bombs) {
    INFO(bomb.name << " (" << bomb.bytes.size() << " bytes)");
    CHECK(bomb.bytes.size() < 1024);
    cv::Mat image;
    const Status status = dips::decode_image(bomb.bytes, kDefaultMaxPixels, &image);
    REQUIRE_FALSE(status.ok());
    // dips' own message: the header was read and OpenCV never ran.
    CHECK_THAT(status.message(), Contains("image header claims " + bomb.claim));
    CHECK_THAT(status.message(), Contains("over the limit of 268435456 (--max-pixels)"));
    CHECK(image.empty());
    const dips::ResultItem result = dips::execute_item(file_work(bomb.bytes));
    CHECK(result.error == status.message());
  }
}

TEST_CASE("max_pixels is a strict upper bound for every sniffed format", "[bad_input][image][bomb]") {
  const cv::Mat original = dips::testing::photo_like(40, 50, 3);  // 2000 pixels
  cv::Mat gray;
  cv::cvtColor(original, gray, cv::COLOR_BGR2GRAY);
  for (const std::string ext : {".png", ".jpg", ".bmp", ".ppm", ".pgm", ".pbm", ".webp", ".tif"}) {
    INFO(ext);
    const std::vector<uint8_t> bytes = encode(ext == ".pgm" || ext == ".pbm" ? gray : original, ext);
    cv::Mat image;
    CHECK(dips::decode_image(bytes, 2000, &image).ok());
    const Status refused = dips::decode_image(bytes, 1999, &image);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.message(), Contains("50x40 = 2000 pixels, over the limit of 1999 (--max-pixels)"));
  }
}

TEST_CASE("sniff_image_size reads the size OpenCV's encoders write", "[bad_input][image][sniff]") {
  const cv::Mat image = dips::testing::photo_like(23, 37, 4);
  cv::Mat gray, bgra;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  cv::cvtColor(image, bgra, cv::COLOR_BGR2BGRA);
  bgra.forEach<cv::Vec4b>([](cv::Vec4b& p, const int*) { p[3] = 128; });  // real transparency: libwebp writes VP8X
  struct Sample {
    std::string name;
    std::vector<uint8_t> bytes;
  };
  const std::vector<Sample> samples = {
      {"png", encode(image, ".png")},
      {"jpg baseline", encode(image, ".jpg")},
      {"jpg progressive", encode(image, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
      {"bmp", encode(image, ".bmp")},
      {"ppm", encode(image, ".ppm")},
      {"pgm", encode(gray, ".pgm")},
      {"ppm ascii", encode(image, ".ppm", {cv::IMWRITE_PXM_BINARY, 0})},
      {"pbm", encode(gray, ".pbm")},
      {"webp lossy (VP8)", encode(image, ".webp", {cv::IMWRITE_WEBP_QUALITY, 60})},
      {"webp lossless (VP8L)", encode(image, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101})},
      {"webp alpha (VP8X)", encode(bgra, ".webp", {cv::IMWRITE_WEBP_QUALITY, 60})},
      {"tiff", encode(image, ".tif")},
      {"tiff by hand, big-endian SHORT", tiff_header(37, 23, true, true)},
      {"tiff by hand, little-endian SHORT", tiff_header(37, 23, false, true)},
      {"bmp by hand, top-down", bmp_header(37, -23)},
  };
  for (const Sample& sample : samples) {
    INFO(sample.name);
    int width = -1, height = -1;
    REQUIRE(dips::sniff_image_size(sample.bytes, &width, &height));
    CHECK(width == 37);
    CHECK(height == 23);
  }
  const auto webp_chunk = [&](size_t i) { return std::string(samples[i].bytes.begin() + 12, samples[i].bytes.begin() + 16); };
  CHECK(webp_chunk(8) == "VP8 ");  // the three WebP layouts really were exercised
  CHECK(webp_chunk(9) == "VP8L");
  CHECK(webp_chunk(10) == "VP8X");

  SECTION("headers cut short or unknown formats are not sniffed") {
    int width = 0, height = 0;
    const std::vector<uint8_t> png = encode(image, ".png");
    CHECK_FALSE(dips::sniff_image_size(truncated(png, 20), &width, &height));
    const std::vector<uint8_t> jpg = encode(image, ".jpg");
    CHECK_FALSE(dips::sniff_image_size(truncated(jpg, 30), &width, &height));
    const std::vector<uint8_t> tiff = tiff_header(37, 23, false);
    CHECK_FALSE(dips::sniff_image_size(truncated(tiff, 20), &width, &height));
    CHECK_FALSE(dips::sniff_image_size({}, &width, &height));
    CHECK_FALSE(dips::sniff_image_size(bytes_of("just some text"), &width, &height));
    CHECK_FALSE(dips::sniff_image_size(bytes_of("P6\n"), &width, &height));
  }
}

// ---- sniffing edge cases (regressions of bugs found here) and known bugs (see docs/bad-inputs.md)

// Regression (fixed in bbdcf6d): sniff_tiff computed `ifd + 2 > b.size()` in uint32_t, so an IFD offset of
// 0xFFFFFFFE wrapped to 0 and u16(ifd) read 4 GiB past the buffer: SIGSEGV from an 8-byte file, on rank 0
// (coordinator.cpp sniffs every input) or a worker. Run in a child so that a regression fails, not crashes.
TEST_CASE("sniff_image_size survives a TIFF whose IFD offset is near 2^32", "[bad_input][image]") {
  for (uint32_t ifd : {0xFFFFFFFFu, 0xFFFFFFFEu, 0xFFFFFFF0u, 0x80000000u}) {
    INFO("IFD offset " << ifd);
    std::vector<uint8_t> bytes = {'I', 'I', 42, 0};
    put_le32(bytes, ifd);
    int signal = 0;
    const Isolated outcome = run_isolated([&] {
      int width = 0, height = 0;
      cv::Mat image;
      return !dips::sniff_image_size(bytes, &width, &height) && !dips::decode_image(bytes, kDefaultMaxPixels, &image).ok();
    }, &signal);
    INFO("child " << isolated_name(outcome) << " (signal " << signal << ")");
    CHECK(outcome == Isolated::kPassed);
  }
}

// Regression (fixed in bbdcf6d): sniff_bmp read 32-bit sizes at offsets 18 and 22 for every BMP, but an
// OS/2 BITMAPCOREHEADER (header size 12) has 16-bit sizes at 18 and 20: a valid 100x100 OS/2 BMP, which
// OpenCV decodes, was refused as a "6553700x1572865" image.
TEST_CASE("a valid OS/2 (BITMAPCOREHEADER) BMP is not refused as a bomb", "[bad_input][image]") {
  const cv::Mat original = dips::testing::photo_like(100, 100, 8);
  std::vector<uint8_t> bytes = {'B', 'M'};
  const int row_bytes = (100 * 3 + 3) & ~3;
  put_le32(bytes, 14 + 12 + row_bytes * 100);
  put_le32(bytes, 0);
  put_le32(bytes, 26);
  put_le32(bytes, 12);
  for (uint16_t v : {100, 100, 1, 24}) put_le16(bytes, v);
  for (int y = 99; y >= 0; --y) {
    for (int x = 0; x < 100; ++x) {
      const cv::Vec3b p = original.at<cv::Vec3b>(y, x);
      bytes.insert(bytes.end(), {p[0], p[1], p[2]});
    }
    while ((bytes.size() - 26) % 4) bytes.push_back(0);
  }
  REQUIRE(dips::testing::identical(cv::imdecode(bytes, cv::IMREAD_COLOR), original));  // OpenCV reads it
  cv::Mat image;
  const Status status = dips::decode_image(bytes, kDefaultMaxPixels, &image);
  INFO(status.message());
  CHECK(status.ok());
  CHECK(dips::testing::identical(image, original));
  int width = 0, height = 0;
  REQUIRE(dips::sniff_image_size(bytes, &width, &height));
  CHECK(width == 100);
  CHECK(height == 100);
  CHECK_THAT(dips::decode_image(bytes, 9999, &image).message(), Contains("100x100 = 10000 pixels, over the limit of 9999"));
}

// Every format OpenCV decodes is sniffed, and decode_image fails closed on anything it cannot size: so
// --max-pixels holds for all of them (OpenCV's own limit is read once at load time and cannot follow it).
TEST_CASE("max_pixels holds for formats that sniffing does not know", "[bad_input][image][bomb]") {
  const cv::Mat original = dips::testing::photo_like(40, 50, 3);  // 2000 pixels
  for (const std::string ext : {".pam", ".pfm", ".hdr", ".exr", ".ras", ".jp2", ".ppm", ".tif", ".webp", ".bmp"}) {
    INFO(ext);
    std::vector<uint8_t> bytes;
    if (ext == ".pfm" || ext == ".hdr" || ext == ".exr") {
      cv::Mat floats;
      original.convertTo(floats, CV_32FC3, 1.0 / 255);
      bytes = encode(floats, ext);
    } else {
      bytes = encode(original, ext);
    }
    REQUIRE(cv::imdecode(bytes, cv::IMREAD_COLOR).size() == cv::Size(50, 40));  // OpenCV decodes this format
    int width = 0, height = 0;
    REQUIRE(dips::sniff_image_size(bytes, &width, &height));
    CHECK(width == 50);
    CHECK(height == 40);
    cv::Mat image;
    CHECK_THAT(dips::decode_image(bytes, 1999, &image).message(), Contains("over the limit of 1999"));
    CHECK(dips::decode_image(bytes, 2000, &image).ok());
  }
  // Unknown formats are refused before any decoder sees them; GIF, which OpenCV 4.6 cannot decode, by name
  // (test_codec.cpp).
  cv::Mat image;
  CHECK_THAT(dips::decode_image(bytes_of("XCF not supported anyway"), kDefaultMaxPixels, &image).message(),
             Contains("not a recognised image format"));
  CHECK_THAT(dips::decode_image(bytes_of("GIF89a not supported anyway"), kDefaultMaxPixels, &image).message(),
             Contains("GIF is not supported (convert it to PNG first)"));
}

// libjpeg skips "extraneous bytes" between segments with a warning; dips' segment walker must too, or one
// junk byte would hide the frame size from --max-pixels (found by this test: a 635-byte file claiming
// 60000 x 17000 made decode_image allocate and fill 3 GB) and hide truncation.
TEST_CASE("a junk byte between JPEG segments does not disable max_pixels", "[bad_input][image][bomb]") {
  const std::vector<uint8_t> clean = encode(dips::testing::photo_like(40, 50, 3), ".jpg");
  const size_t after_app0 = 4 + ((clean[4] << 8) | clean[5]);
  REQUIRE(clean[after_app0] == 0xFF);
  std::vector<uint8_t> junk = truncated(clean, after_app0);
  junk.push_back(0x00);
  junk.insert(junk.end(), clean.begin() + static_cast<long>(after_app0), clean.end());
  REQUIRE(cv::imdecode(junk, cv::IMREAD_COLOR).size() == cv::Size(50, 40));  // libjpeg accepts the file
  cv::Mat image;
  const Status status = dips::decode_image(junk, 1999, &image);
  CHECK_FALSE(status.ok());
  // The same junk byte hides truncation: jpeg_truncated stops at it too ("let the decoder judge").
  const std::vector<uint8_t> cut = truncated(junk, junk.size() * 3 / 4);
  CHECK_FALSE(dips::decode_image(cut, kDefaultMaxPixels, &image).ok());
}

// ============================================================================================ read_file

TEST_CASE("read_file explains what is wrong with a path", "[bad_input][files]") {
  TempDir dir;
  std::vector<uint8_t> bytes;

  SECTION("a directory with an image name") {
    fs::create_directory(dir / "x.jpg");
    const Status status = dips::read_file(dir / "x.jpg", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains((dir / "x.jpg").string()) && Contains("it is a directory, not an image file"));
  }
  SECTION("a broken symbolic link") {
    fs::create_symlink(dir / "gone.png", dir / "link.png");
    const Status status = dips::read_file(dir / "link.png", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("link.png") && Contains("broken symbolic link"));
  }
  SECTION("a symbolic link loop") {
    fs::create_symlink(dir / "b.png", dir / "a.png");
    fs::create_symlink(dir / "a.png", dir / "b.png");
    const Status status = dips::read_file(dir / "a.png", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("a.png") && Contains("symbolic link loop"));
  }
  SECTION("a missing file") {
    const Status status = dips::read_file(dir / "missing.png", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("cannot read") && Contains("missing.png") && Contains("No such file or directory"));
  }
  SECTION("a path through a regular file") {
    write_text(dir / "file", "x");
    const Status status = dips::read_file(dir / "file" / "x.png", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("Not a directory"));
  }
  SECTION("a file without read permission") {
    if (::geteuid() == 0) {
      WARN("running as root: permission bits do not stop root, check skipped");
      return;
    }
    write_text(dir / "secret.png", "data");
    fs::permissions(dir / "secret.png", fs::perms::none);
    const Status status = dips::read_file(dir / "secret.png", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("secret.png") && Contains("Permission denied"));
  }
  SECTION("a character device") {
    const Status status = dips::read_file("/dev/zero", 1 << 20, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("/dev/zero") && Contains("not a regular file"));
  }
  SECTION("a file over max_bytes, and one exactly at it") {
    write_bytes(dir / "big.png", std::vector<uint8_t>(1001, 7));
    Status status = dips::read_file(dir / "big.png", 1000, &bytes);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("big.png") && Contains("is 1001 bytes, over the limit of 1000 (--max-file-bytes)"));
    status = dips::read_file(dir / "big.png", 1001, &bytes);
    REQUIRE(status.ok());
    CHECK(bytes == std::vector<uint8_t>(1001, 7));
  }
  SECTION("an empty file reads as no bytes, then fails to decode") {
    write_text(dir / "empty.png", "");
    REQUIRE(dips::read_file(dir / "empty.png", 1000, &bytes).ok());
    CHECK(bytes.empty());
    cv::Mat image;
    CHECK_THAT(dips::decode_image(bytes, kDefaultMaxPixels, &image).message(), Contains("empty file"));
  }
}

// Regression (fixed in bbdcf6d): read_file opened with a plain O_RDONLY and checked S_ISREG only after
// open(); open() of a FIFO blocks until a writer appears, so a named pipe called x.jpg in an input folder
// hung the job forever. Run in a child so that a regression fails, not hangs.
TEST_CASE("read_file does not block on a named pipe", "[bad_input][files]") {
  TempDir dir;
  REQUIRE(::mkfifo((dir / "pipe.jpg").c_str(), 0644) == 0);
  const Isolated outcome = run_isolated([&] {
    std::vector<uint8_t> bytes;
    const Status status = dips::read_file(dir / "pipe.jpg", 1 << 20, &bytes);
    return !status.ok() && status.message().find("not a regular file") != std::string::npos;
  });
  INFO("child " << isolated_name(outcome));
  CHECK(outcome == Isolated::kPassed);
}

// ==================================================================================== write_file_atomic

TEST_CASE("write_file_atomic fails cleanly and never leaves temporaries", "[bad_input][files]") {
  TempDir dir;
  const std::vector<uint8_t> data = bytes_of("new contents");

  SECTION("into a folder that does not exist") {
    const Status status = dips::write_file_atomic(dir / "nowhere" / "out.png", data);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("cannot write") && Contains("out.png") && Contains("No such file or directory"));
    CHECK_FALSE(fs::exists(dir / "nowhere"));
    CHECK(entry_count(dir.path()) == 0);
  }
  SECTION("through a regular file") {
    write_text(dir / "plain", "x");
    const Status status = dips::write_file_atomic(dir / "plain" / "out.png", data);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("Not a directory"));
    CHECK(entry_count(dir.path()) == 1);
  }
  SECTION("into a folder without write permission") {
    if (::geteuid() == 0) {
      WARN("running as root: permission bits do not stop root (the read-only tmpfs case covers root)");
      return;
    }
    fs::create_directory(dir / "locked");
    fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    const Status status = dips::write_file_atomic(dir / "locked" / "out.png", data);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("Permission denied"));
    fs::permissions(dir / "locked", fs::perms::owner_all);
    CHECK(entry_count(dir / "locked") == 0);
  }
  SECTION("onto an existing directory") {
    fs::create_directory(dir / "taken.png");
    write_text(dir / "taken.png" / "inside", "keep");
    const Status status = dips::write_file_atomic(dir / "taken.png", data);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("taken.png"));
    CHECK(fs::is_directory(dir / "taken.png"));
    CHECK(read_text(dir / "taken.png" / "inside") == "keep");
    CHECK(dips_temp_files(dir.path()).empty());
    CHECK(entry_count(dir.path()) == 1);
  }
  SECTION("overwriting replaces the file by rename (new inode), leaving nothing else") {
    write_text(dir / "out.png", "old contents that are longer than the new ones");
    fs::create_hard_link(dir / "out.png", dir / "old-link");
    struct stat before {};
    REQUIRE(::stat((dir / "out.png").c_str(), &before) == 0);
    REQUIRE(dips::write_file_atomic(dir / "out.png", data).ok());
    struct stat after {};
    REQUIRE(::stat((dir / "out.png").c_str(), &after) == 0);
    CHECK(read_text(dir / "out.png") == "new contents");
    CHECK(after.st_ino != before.st_ino);  // a new file renamed over the old, not an in-place rewrite
    CHECK(read_text(dir / "old-link") == "old contents that are longer than the new ones");
    CHECK(dips_temp_files(dir.path()).empty());
    CHECK(entry_count(dir.path()) == 2);
  }
  SECTION("many writes leave exactly the written files") {
    for (int i = 0; i < 50; ++i) REQUIRE(dips::write_file_atomic(dir / ("f" + std::to_string(i % 5) + ".png"), data).ok());
    CHECK(entry_count(dir.path()) == 5);
    CHECK(dips_temp_files(dir.path()).empty());
  }
}

// A write that fails halfway, anywhere (no mount needed): the file size limit stops it after 4 KiB.
// Named temporary files off (a file system without unnamed files) or on, for the rest of a test.
struct UnnamedFiles {
  explicit UnnamedFiles(bool use) { dips::use_unnamed_files(use); }
  ~UnnamedFiles() { dips::use_unnamed_files(true); }
};

TEST_CASE("write_file_atomic without replace leaves whatever has the name, atomically", "[bad_input][files]") {
  const bool unnamed = GENERATE(true, false);
  INFO("unnamed files: " << unnamed);
  const UnnamedFiles mode(unnamed);
  TempDir dir;
  write_text(dir / "out.png", "made by someone else");
  Status status = dips::write_file_atomic(dir / "out.png", bytes_of("new contents"), false, false);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("output '") && Contains("out.png' exists") && Contains("--overwrite"));
  CHECK(read_text(dir / "out.png") == "made by someone else");
  fs::create_symlink(dir / "nowhere.png", dir / "link.png");  // a broken link has the name too
  CHECK_FALSE(dips::write_file_atomic(dir / "link.png", bytes_of("new contents"), false, false).ok());
  CHECK(fs::is_symlink(dir / "link.png"));
  CHECK(entry_count(dir.path()) == 2);  // no temporary left
  status = dips::write_file_atomic(dir / "fresh.png", bytes_of("new contents"), false, false);
  REQUIRE(status.ok());
  CHECK(read_text(dir / "fresh.png") == "new contents");
  CHECK(dips::write_file_atomic(dir / "out.png", bytes_of("replaced"), false, true).ok());
  CHECK(read_text(dir / "out.png") == "replaced");
}

TEST_CASE("write_file_atomic without replace takes a file holding exactly its bytes as written", "[bad_input][files]") {
  // A worker lost after its output was linked, before rank 0 heard of it: the piece done again finds the
  // very bytes it would write. Anything else under the name is still left as it is and refused.
  const bool unnamed = GENERATE(true, false);
  const bool sync = GENERATE(false, true);
  INFO("unnamed files: " << unnamed << ", sync: " << sync);
  const UnnamedFiles mode(unnamed);
  TempDir dir;
  std::vector<uint8_t> bytes(3 << 20);  // beyond the comparison's 1 MiB chunk
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + i / 4099);
  const std::vector<dips::ByteRange> parts = {{bytes.data(), 1000}, {bytes.data() + 1000, bytes.size() - 1000}};
  REQUIRE(dips::write_file_atomic(dir / "out.png", parts, sync, false).ok());
  struct stat before {};
  REQUIRE(::stat((dir / "out.png").c_str(), &before) == 0);
  REQUIRE(dips::write_file_atomic(dir / "out.png", parts, sync, false).ok());
  struct stat after {};
  REQUIRE(::stat((dir / "out.png").c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // left as it was
  CHECK(read_text(dir / "out.png") == std::string(bytes.begin(), bytes.end()));

  std::vector<uint8_t> other = bytes;
  other[other.size() - 1] ^= 1;  // the same size, one bit apart
  const Status changed = dips::write_file_atomic(dir / "out.png", other, sync, false);
  CHECK_THAT(changed.message(), Contains("out.png' exists"));
  other.resize(bytes.size() - 1);
  other.back() = bytes[other.size() - 1];  // a prefix of them
  CHECK_FALSE(dips::write_file_atomic(dir / "out.png", other, sync, false).ok());
  other = bytes;
  other.push_back(0);  // them and more
  CHECK_FALSE(dips::write_file_atomic(dir / "out.png", other, sync, false).ok());
  CHECK(read_text(dir / "out.png") == std::string(bytes.begin(), bytes.end()));

  fs::create_symlink(dir / "out.png", dir / "link.png");  // a link to them is someone else's
  CHECK_FALSE(dips::write_file_atomic(dir / "link.png", bytes, sync, false).ok());
  CHECK(fs::is_symlink(dir / "link.png"));
  write_text(dir / "empty.png", "");
  CHECK(dips::write_file_atomic(dir / "empty.png", std::vector<uint8_t>(), sync, false).ok());
  CHECK(entry_count(dir.path()) == 3);  // no temporary left
}

TEST_CASE("write_file_atomic without replace: a write that fails halfway leaves no file at all", "[bad_input][files]") {
  const bool unnamed = GENERATE(true, false);
  INFO("unnamed files: " << unnamed);
  const UnnamedFiles mode(unnamed);
  TempDir dir;
  struct rlimit before {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &before) == 0);
  struct rlimit small = before;
  small.rlim_cur = 4096;
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const Status status = dips::write_file_atomic(dir / "out.png", std::vector<uint8_t>(64 * 1024, 'n'), false, false);
  ::setrlimit(RLIMIT_FSIZE, &before);
  ::signal(SIGXFSZ, old_handler);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("out.png") && Contains("File too large"));
  CHECK(entry_count(dir.path()) == 0);
}

// The folder's own record of what happened in it: a write without replace makes one entry, its output, once
// whole; the named way makes a temporary file and renames it (two operations under the folder's lock).
TEST_CASE("write_file_atomic without replace makes its output in one step, through an unnamed file", "[files]") {
  TempDir dir;
  const int probe = ::open(dir.path().c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);  // does the file system have them?
  if (probe < 0) {
    WARN("this file system has no unnamed files (O_TMPFILE): writes take named temporary files; check skipped");
    return;
  }
  ::close(probe);
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(watch >= 0);
  REQUIRE(::inotify_add_watch(watch, dir.path().c_str(), IN_CREATE | IN_MOVED_TO) >= 0);
  const std::vector<uint8_t> data(100 * 1000, 'd');
  REQUIRE(dips::write_file_atomic(dir / "out.png", data, false, false).ok());
  std::vector<std::string> events;
  alignas(struct inotify_event) char buffer[4096];
  for (ssize_t n; (n = ::read(watch, buffer, sizeof(buffer))) > 0;) {
    for (char* at = buffer; at < buffer + n;) {
      const auto* event = reinterpret_cast<const struct inotify_event*>(at);
      const std::string name = event->len > 0 ? event->name : "";
      events.push_back(std::string(event->mask & IN_CREATE ? "create " : "rename ") + name);
      at += sizeof(struct inotify_event) + event->len;
    }
  }
  ::close(watch);
  CHECK(events == std::vector<std::string>{"create out.png"});
  CHECK(fs::file_size(dir / "out.png") == data.size());
  CHECK(entry_count(dir.path()) == 1);
}

TEST_CASE("unnamed and named writes give outputs the same permissions", "[files]") {
  TempDir dir;
  REQUIRE(dips::write_file_atomic(dir / "unnamed.png", bytes_of("x"), false, false).ok());
  {
    const UnnamedFiles mode(false);
    REQUIRE(dips::write_file_atomic(dir / "named.png", bytes_of("x"), false, false).ok());
  }
  CHECK(fs::status(dir / "unnamed.png").permissions() == fs::status(dir / "named.png").permissions());
}

TEST_CASE("write_file_atomic: a write that fails halfway leaves the old file whole", "[bad_input][files]") {
  TempDir dir;
  const fs::path victim = dir / "victim.png";
  REQUIRE(dips::write_file_atomic(victim, bytes_of("the old contents")).ok());
  struct rlimit before {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &before) == 0);
  struct rlimit small = before;
  small.rlim_cur = 4096;
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // EFBIG from write(), not a signal that ends the tests
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const Status status = dips::write_file_atomic(victim, std::vector<uint8_t>(64 * 1024, 'n'));
  ::setrlimit(RLIMIT_FSIZE, &before);
  ::signal(SIGXFSZ, old_handler);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("victim.png") && Contains("File too large"));
  CHECK(read_text(victim) == "the old contents");
  CHECK(dips_temp_files(dir.path()).empty());
  CHECK(entry_count(dir.path()) == 1);
}

// A full disk and a read-only file system, on a small tmpfs (needs root and a mount-capable container).
TEST_CASE("write_file_atomic on a full disk and a read-only file system", "[bad_input][files][mount]") {
  if (::geteuid() != 0) {
    WARN("not root: cannot mount a tmpfs, disk-full check skipped");
    return;
  }
  TempDir dir;
  const fs::path full = dir / "full", readonly = dir / "ro";
  const TmpfsMount full_disk(full, "size=64k");
  if (!full_disk.mounted()) {
    WARN("mount -t tmpfs failed (no CAP_SYS_ADMIN?): disk-full check skipped");
    return;
  }

  const std::vector<uint8_t> earlier(16 * 1024, 'e');
  REQUIRE(dips::write_file_atomic(full / "earlier.png", earlier).ok());
  REQUIRE(dips::write_file_atomic(full / "victim.png", bytes_of("victim's old contents")).ok());

  const std::vector<uint8_t> huge(256 * 1024, 'h');
  Status status = dips::write_file_atomic(full / "huge.png", huge);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("huge.png") && Contains("No space left on device"));
  CHECK_FALSE(fs::exists(full / "huge.png"));

  status = dips::write_file_atomic(full / "victim.png", huge);  // overwrite that does not fit
  REQUIRE_FALSE(status.ok());
  CHECK(read_text(full / "victim.png") == "victim's old contents");

  CHECK(dips_temp_files(full).empty());
  CHECK(entry_count(full) == 2);
  std::vector<uint8_t> back;
  REQUIRE(dips::read_file(full / "earlier.png", 1 << 20, &back).ok());
  CHECK(back == earlier);
  // The space of the failed writes was given back: a file that fits still goes in.
  CHECK(dips::write_file_atomic(full / "fits.png", std::vector<uint8_t>(8 * 1024, 'f')).ok());

  const TmpfsMount readonly_disk(readonly, "ro,size=64k");
  if (readonly_disk.mounted()) {
    status = dips::write_file_atomic(readonly / "out.png", earlier);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("Read-only file system"));
    CHECK(entry_count(readonly) == 0);
  } else {
    WARN("read-only tmpfs mount failed: read-only check skipped");
  }
}

// The temporary's name must not grow with the output's: a legal name of 230..255 bytes plus a suffix would
// exceed NAME_MAX (255).
TEST_CASE("write_file_atomic accepts any legal file name length", "[bad_input][files]") {
  TempDir dir;
  const std::string name = std::string(246, 'n') + ".png";  // 250 bytes: legal
  { std::ofstream probe(dir / name); REQUIRE(probe.good()); }  // the file system takes the name
  fs::remove(dir / name);
  const Status status = dips::write_file_atomic(dir / name, bytes_of("data"));
  INFO(status.message());
  CHECK(status.ok());
  CHECK(dips_temp_files(dir.path()).empty());
}
