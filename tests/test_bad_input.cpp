// Hostile and broken inputs at unit level: image bytes, files on disk, manifests, job layouts and wire
// messages. Every case calls the library directly and asserts the documented contract: a clear error
// message (or, where the input is legitimately usable, a deterministic result), never a crash or hang.
//
// docs/bad-inputs.md tabulates what dips does with each input tried here.
//
// Tests that would crash or hang the test binary if a fixed bug came back run their body in a forked child
// (run_isolated), so that a regression fails the test instead of ending the run.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
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
#include "dips/job.h"
#include "dips/operation.h"
#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "dips/wire.h"
#include "dips/worker.h"
#include "test_images.h"

namespace fs = std::filesystem;
using Catch::Contains;
using dips::Status;

namespace {

constexpr int64_t kDefaultMaxPixels = 268435456;  // dips' --max-pixels default (cli.h)

// ---------------------------------------------------------------------------------------------- helpers

// A fresh folder under the system temp folder, removed (permissions restored first) at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "dips-bad-input-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_symlink(ec) && it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> bytes_of(const std::string& text) { return std::vector<uint8_t>(text.begin(), text.end()); }

std::vector<uint8_t> encode(const cv::Mat& image, const std::string& ext, const std::vector<int>& params = {}) {
  std::vector<uint8_t> bytes;
  REQUIRE(cv::imencode(ext, image, bytes, params));
  return bytes;
}

// Names of files under dir (recursively) that look like write_file_atomic's temporaries.
std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().find(".dips-tmp-") != std::string::npos) found.push_back(it->path().string());
  }
  return found;
}

size_t entry_count(const fs::path& dir) {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++n;
  }
  return n;
}

void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_le32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_le16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put_be16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// ---- decompression-bomb headers: tiny, well-formed headers that claim a huge image

// PNG signature, an IHDR chunk with a correct CRC, and IEND: a valid PNG header claiming width x height RGB.
std::vector<uint8_t> png_header(uint32_t width, uint32_t height) {
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> chunk = {'I', 'H', 'D', 'R'};
  put_be32(chunk, width);
  put_be32(chunk, height);
  chunk.insert(chunk.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB, deflate, no filter, no interlace
  put_be32(b, 13);
  b.insert(b.end(), chunk.begin(), chunk.end());
  put_be32(b, dips::testing::crc32(chunk.data(), chunk.size()));
  put_be32(b, 0);
  const uint8_t iend[] = {'I', 'E', 'N', 'D'};
  b.insert(b.end(), iend, iend + 4);
  put_be32(b, dips::testing::crc32(iend, 4));
  return b;
}

// A real JPEG (quantisation and Huffman tables, scan data) whose SOF frame header is patched to claim
// width x height (JPEG stores 16-bit dimensions).
std::vector<uint8_t> jpeg_claiming(uint16_t width, uint16_t height, bool progressive = false) {
  std::vector<uint8_t> b = encode(dips::testing::photo_like(16, 16, 1), ".jpg",
                                  {cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0});
  for (size_t pos = 2; pos + 9 <= b.size();) {
    REQUIRE(b[pos] == 0xFF);
    const uint8_t marker = b[pos + 1];
    if (marker == 0xC0 || marker == 0xC2) {
      b[pos + 5] = static_cast<uint8_t>(height >> 8);
      b[pos + 6] = static_cast<uint8_t>(height);
      b[pos + 7] = static_cast<uint8_t>(width >> 8);
      b[pos + 8] = static_cast<uint8_t>(width);
      return b;
    }
    pos += 2 + ((b[pos + 2] << 8) | b[pos + 3]);
  }
  FAIL("no SOF marker in OpenCV's JPEG");
  return b;
}

// BITMAPFILEHEADER + BITMAPINFOHEADER of a 24-bit BMP claiming width x height, no pixel data.
std::vector<uint8_t> bmp_header(int32_t width, int32_t height) {
  std::vector<uint8_t> b = {'B', 'M'};
  put_le32(b, 54);  // file size (a lie, like any bomb's)
  put_le32(b, 0);
  put_le32(b, 54);  // pixel data offset
  put_le32(b, 40);  // BITMAPINFOHEADER
  put_le32(b, static_cast<uint32_t>(width));
  put_le32(b, static_cast<uint32_t>(height));
  put_le16(b, 1);   // planes
  put_le16(b, 24);  // bits per pixel
  for (int i = 0; i < 6; ++i) put_le32(b, 0);
  return b;
}

// A WebP RIFF with a VP8X chunk claiming a width x height canvas (24-bit fields: up to 16777216).
std::vector<uint8_t> webp_vp8x_header(uint32_t width, uint32_t height) {
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F'};
  put_le32(b, 22);
  b.insert(b.end(), {'W', 'E', 'B', 'P', 'V', 'P', '8', 'X'});
  put_le32(b, 10);
  put_le32(b, 0);  // flags + reserved
  for (uint32_t v : {width - 1, height - 1}) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v >> 16));
  }
  return b;
}

// A TIFF whose first IFD holds ImageWidth and ImageLength (type LONG, or SHORT when `short_type`).
std::vector<uint8_t> tiff_header(uint32_t width, uint32_t height, bool big_endian, bool short_type = false) {
  std::vector<uint8_t> b;
  const auto u16 = [&](uint16_t v) { big_endian ? put_be16(b, v) : put_le16(b, v); };
  const auto u32 = [&](uint32_t v) { big_endian ? put_be32(b, v) : put_le32(b, v); };
  if (big_endian) b.insert(b.end(), {'M', 'M', 0, 42});
  else b.insert(b.end(), {'I', 'I', 42, 0});
  u32(8);  // first IFD
  u16(2);  // entries
  for (auto [tag, value] : {std::pair<uint16_t, uint32_t>{256, width}, {257, height}}) {
    u16(tag);
    u16(short_type ? 3 : 4);
    u32(1);
    if (short_type) {
      u16(static_cast<uint16_t>(value));  // a SHORT value is left-justified in the 4-byte field
      u16(0);
    } else {
      u32(value);
    }
  }
  u32(0);  // no next IFD
  return b;
}

// Runs fn in a forked child, so that a crash or a hang of the code under test fails the test instead of
// killing the test binary. fn returns true for "behaved as it should".
enum class Isolated { kPassed, kFailed, kCrashed, kHung };
Isolated run_isolated(const std::function<bool()>& fn, std::chrono::milliseconds timeout, int* signal_out = nullptr) {
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

dips::WorkMessage file_work(std::vector<uint8_t> bytes, const std::string& ops = "blur=3",
                            const std::string& ext = ".png", int64_t max_pixels = kDefaultMaxPixels) {
  dips::WorkMessage work;
  work.piece_id = 7;
  work.kind = dips::WorkKind::kFile;
  REQUIRE(dips::parse_pipeline(ops, &work.steps).ok());
  work.output_ext = ext;
  work.max_pixels = max_pixels;
  work.bytes = std::move(bytes);
  return work;
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// ================================================================================================ images

TEST_CASE("decode_image and execute_work refuse empty bytes", "[bad_input][image]") {
  cv::Mat image;
  const Status status = dips::decode_image({}, kDefaultMaxPixels, &image);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains("empty file"));
  CHECK(image.empty());

  const dips::ResultMessage result = dips::execute_work(file_work({}));
  CHECK(result.piece_id == 7);
  CHECK_THAT(result.error, Contains("empty file"));
  CHECK(result.bytes.empty());
  CHECK(result.width == 0);
}

TEST_CASE("truncated PNG, BMP, TIFF, WebP and PNM files are errors at every cut", "[bad_input][image]") {
  const cv::Mat original = dips::testing::photo_like(64, 80, 11);
  for (const std::string ext : {".png", ".bmp", ".tif", ".webp", ".ppm"}) {
    const std::vector<uint8_t> full = encode(original, ext);
    for (size_t cut : {size_t(1), size_t(10), size_t(100), full.size() / 2, full.size() * 9 / 10, full.size() - 1}) {
      INFO(ext << " cut at " << cut << " of " << full.size() << " bytes");
      const std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<long>(cut));
      cv::Mat image;
      const Status status = dips::decode_image(part, kDefaultMaxPixels, &image);
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Contains("cannot decode image"));
      const dips::ResultMessage result = dips::execute_work(file_work(part));
      CHECK_THAT(result.error, Contains("cannot decode image"));
      CHECK(result.bytes.empty());
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
      const std::vector<uint8_t> part(full.begin(), full.begin() + static_cast<long>(cut));
      // What OpenCV alone does with a baseline JPEG cut past the headers: a full-size image, not an error.
      if (!progressive && cut >= full.size() / 2) CHECK(cv::imdecode(part, cv::IMREAD_COLOR).size() == original.size());
      cv::Mat image;
      const Status status = dips::decode_image(part, kDefaultMaxPixels, &image);
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Contains("cannot decode image"));
      if (cut >= full.size() / 4) CHECK_THAT(status.message(), Contains("truncated JPEG"));
      const dips::ResultMessage result = dips::execute_work(file_work(part));
      CHECK(result.error == status.message());  // deterministic, and the same through the worker
      CHECK(result.bytes.empty());
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
    CHECK(dips::execute_work(file_work(inputs[i])).error == status.message());
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
  const dips::ResultMessage result = dips::execute_work(file_work(bytes, "grayscale", ".jpg"));
  REQUIRE(result.error.empty());
  CHECK(result.width == 40);
  CHECK(result.height == 30);
  CHECK(cv::imdecode(result.bytes, cv::IMREAD_UNCHANGED).size() == cv::Size(40, 30));
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
      const dips::ResultMessage result = dips::execute_work(file_work(encode(source, ".png"), "blur=3,edge_detection,dilate=3"));
      REQUIRE(result.error.empty());
      CHECK(result.width == 24);
      CHECK(result.height == 20);
      const cv::Mat out = cv::imdecode(result.bytes, cv::IMREAD_UNCHANGED);
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
          dips::WorkMessage work = file_work(png);
          work.steps = {dips::Step{&op, param}};
          const dips::ResultMessage result = dips::execute_work(work);
          CHECK(result.error.empty());
          const cv::Mat out = cv::imdecode(result.bytes, cv::IMREAD_UNCHANGED);
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
    const auto start = std::chrono::steady_clock::now();
    cv::Mat image;
    const Status status = dips::decode_image(bomb.bytes, kDefaultMaxPixels, &image);
    CHECK(elapsed_ms(start) < 500);
    REQUIRE_FALSE(status.ok());
    // dips' own message: the header was read and OpenCV never ran.
    CHECK_THAT(status.message(), Contains("image header claims " + bomb.claim));
    CHECK_THAT(status.message(), Contains("over the limit of 268435456 (--max-pixels)"));
    CHECK(image.empty());
    const dips::ResultMessage result = dips::execute_work(file_work(bomb.bytes));
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
    CHECK_FALSE(dips::sniff_image_size(std::vector<uint8_t>(png.begin(), png.begin() + 20), &width, &height));
    const std::vector<uint8_t> jpg = encode(image, ".jpg");
    CHECK_FALSE(dips::sniff_image_size(std::vector<uint8_t>(jpg.begin(), jpg.begin() + 30), &width, &height));
    const std::vector<uint8_t> tiff = tiff_header(37, 23, false);
    CHECK_FALSE(dips::sniff_image_size(std::vector<uint8_t>(tiff.begin(), tiff.begin() + 20), &width, &height));
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
    }, std::chrono::milliseconds(5000), &signal);
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
  std::vector<uint8_t> junk(clean.begin(), clean.begin() + static_cast<long>(after_app0));
  junk.push_back(0x00);
  junk.insert(junk.end(), clean.begin() + static_cast<long>(after_app0), clean.end());
  REQUIRE(cv::imdecode(junk, cv::IMREAD_COLOR).size() == cv::Size(50, 40));  // libjpeg accepts the file
  cv::Mat image;
  const Status status = dips::decode_image(junk, 1999, &image);
  CHECK_FALSE(status.ok());
  // The same junk byte hides truncation: jpeg_truncated stops at it too ("let the decoder judge").
  const std::vector<uint8_t> cut(junk.begin(), junk.begin() + static_cast<long>(junk.size() * 3 / 4));
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
  }, std::chrono::milliseconds(2000));
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
    CHECK(temp_files(dir.path()).empty());
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
    CHECK(temp_files(dir.path()).empty());
    CHECK(entry_count(dir.path()) == 2);
  }
  SECTION("many writes leave exactly the written files") {
    for (int i = 0; i < 50; ++i) REQUIRE(dips::write_file_atomic(dir / ("f" + std::to_string(i % 5) + ".png"), data).ok());
    CHECK(entry_count(dir.path()) == 5);
    CHECK(temp_files(dir.path()).empty());
  }
}

// A full disk and a read-only file system, on a small tmpfs (needs root and a mount-capable container).
TEST_CASE("write_file_atomic on a full disk and a read-only file system", "[bad_input][files][mount]") {
  if (::geteuid() != 0) {
    WARN("not root: cannot mount a tmpfs, disk-full check skipped");
    return;
  }
  TempDir dir;
  const fs::path full = dir / "full", readonly = dir / "ro";
  fs::create_directory(full);
  fs::create_directory(readonly);
  if (std::system(("mount -t tmpfs -o size=64k tmpfs '" + full.string() + "' 2>/dev/null").c_str()) != 0) {
    WARN("mount -t tmpfs failed (no CAP_SYS_ADMIN?): disk-full check skipped");
    return;
  }
  struct Unmount {
    fs::path path;
    ~Unmount() { (void)std::system(("umount '" + path.string() + "'").c_str()); }
  } unmount{full};

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

  CHECK(temp_files(full).empty());
  CHECK(entry_count(full) == 2);
  std::vector<uint8_t> back;
  REQUIRE(dips::read_file(full / "earlier.png", 1 << 20, &back).ok());
  CHECK(back == earlier);
  // The space of the failed writes was given back: a file that fits still goes in.
  CHECK(dips::write_file_atomic(full / "fits.png", std::vector<uint8_t>(8 * 1024, 'f')).ok());

  if (std::system(("mount -t tmpfs -o ro,size=64k tmpfs '" + readonly.string() + "' 2>/dev/null").c_str()) == 0) {
    Unmount unmount_ro{readonly};
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
  CHECK(temp_files(dir.path()).empty());
}

// ============================================================================================ manifests

namespace {

struct ManifestRun {
  Status status;
  std::vector<dips::Task> tasks;
};

// Parses text as the manifest <dir>/jobs/m.tsv with output folder <dir>/out.
ManifestRun parse(const TempDir& dir, const std::string& text, const std::string& format = "") {
  ManifestRun run;
  run.status = dips::parse_manifest(text, dir / "jobs/m.tsv", dir / "out", format, &run.tasks);
  return run;
}

std::string where(const TempDir& dir, int line) { return (dir / "jobs/m.tsv").string() + ":" + std::to_string(line) + ": "; }

}  // namespace

TEST_CASE("manifest errors name the file and line, and each problem", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");

  SECTION("unknown operation") {
    const ManifestRun run = parse(dir, "a.jpg\tblur=3\nb.jpg\tsharpen\n");
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("1 problem in the job, nothing was run"));
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "unknown operation 'sharpen'"));
  }
  SECTION("bad parameters, all reported") {
    const ManifestRun run = parse(dir, "a.jpg\tblur=0\nb.jpg\tblur=abc\nc.jpg\tgrayscale=3\nd.jpg\tresize=99999999999\n");
    REQUIRE_FALSE(run.status.ok());
    const std::string& m = run.status.message();
    CHECK_THAT(m, Contains("4 problems in the job, nothing was run"));
    CHECK_THAT(m, Contains(where(dir, 1) + "blur: parameter 0 is out of range"));
    CHECK_THAT(m, Contains(where(dir, 2) + "blur: parameter 'abc' is not an integer"));
    CHECK_THAT(m, Contains(where(dir, 3) + "grayscale takes no parameter"));
    CHECK_THAT(m, Contains(where(dir, 4) + "resize: parameter 99999999999 is out of range"));
    CHECK(run.tasks.size() == 0);
  }
  SECTION("empty pipeline column and steps") {
    const ManifestRun run = parse(dir, "a.jpg\t\tout.png\nb.jpg\tblur,,grayscale\nc.jpg\tblur,\n");
    REQUIRE_FALSE(run.status.ok());
    const std::string& m = run.status.message();
    CHECK_THAT(m, Contains(where(dir, 1) + "the pipeline column is empty"));
    CHECK_THAT(m, Contains(where(dir, 2) + "empty step in pipeline 'blur,,grayscale'"));
    CHECK_THAT(m, Contains(where(dir, 3) + "empty step in pipeline 'blur,'"));
  }
  SECTION("missing and extra columns") {
    const ManifestRun run = parse(dir, "a.jpg\nb.jpg blur\nc.jpg\tblur\tc.png\textra\n\tblur\n");
    REQUIRE_FALSE(run.status.ok());
    const std::string& m = run.status.message();
    CHECK_THAT(m, Contains(where(dir, 1) + "expected 'input<TAB>pipeline[<TAB>output]', got 1 tab-separated column"));
    CHECK_THAT(m, Contains(where(dir, 2) + "expected 'input<TAB>pipeline[<TAB>output]', got 1 tab-separated column"));
    CHECK_THAT(m, Contains(where(dir, 3) + "expected 'input<TAB>pipeline[<TAB>output]', got 4 tab-separated columns"));
    CHECK_THAT(m, Contains(where(dir, 4) + "the input column is empty"));
    CHECK_THAT(m, Contains("4 problems"));
  }
  SECTION("overlong line") {
    const std::string longline = std::string(64 * 1024 + 1, 'x');
    const ManifestRun run = parse(dir, "a.jpg\tblur\n" + longline + "\nb.jpg\tblur\n");
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "line is longer than 65536 bytes"));
    CHECK_THAT(run.status.message(), Contains("1 problem"));
    CHECK(run.status.message().size() < 1000);  // the line itself is not echoed back
  }
  SECTION("a line of exactly 64 KiB is not too long") {
    std::string line = "a.jpg\tblur\t" + std::string(64 * 1024 - 15, 'o') + ".png";
    REQUIRE(line.size() == 64 * 1024);
    const ManifestRun run = parse(dir, line + "\n");
    if (!run.status.ok()) CHECK_THAT(run.status.message(), !Contains("longer than"));
  }
  SECTION("NUL byte") {
    const ManifestRun run = parse(dir, std::string("a.jpg\tblur\nb\0.jpg\tblur\n", 22));
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "line contains a NUL byte"));
  }
  SECTION("invalid UTF-8") {
    const ManifestRun run = parse(dir, "\xff.jpg\tblur\n\xc3\tblur\nx\x80y.jpg\tblur\na.jpg\tblur\t\xe2\x82\n");
    REQUIRE_FALSE(run.status.ok());
    for (int line = 1; line <= 4; ++line) CHECK_THAT(run.status.message(), Contains(where(dir, line) + "line is not valid UTF-8"));
  }
  SECTION("a problem on the last line without a newline, and in a CRLF file") {
    ManifestRun run = parse(dir, "a.jpg\tblur\nb.jpg\tnope");
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "unknown operation 'nope'"));
    run = parse(dir, "a.jpg\tblur\r\nb.jpg\tnope\r\n");
    CHECK_THAT(run.status.message(), Contains(where(dir, 2) + "unknown operation 'nope'"));
    CHECK_THAT(run.status.message(), !Contains("\r"));
  }
  SECTION("more than 50 problems are summarised") {
    std::string text;
    for (int i = 0; i < 60; ++i) text += "a.jpg\tbad\n";
    const ManifestRun run = parse(dir, text);
    CHECK_THAT(run.status.message(), Contains("60 problems") && Contains(where(dir, 50)) && Contains("... and 10 more"));
    CHECK_THAT(run.status.message(), !Contains(where(dir, 51)));
  }
}

TEST_CASE("manifest lines that are accepted", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");
  const fs::path base = dir / "jobs", out = dir / "out";
  const fs::path out_canonical = fs::canonical(out);

  SECTION("CRLF line ends") {
    const ManifestRun run = parse(dir, "a.jpg\tblur=3\r\nb.jpg\tgrayscale\tb.png\r\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 2);
    CHECK(run.tasks[0].input == base / "a.jpg");
    CHECK(run.tasks[0].output == out_canonical / "a.jpg");
    CHECK(run.tasks[1].output == out_canonical / "b.png");  // no stray '\r' in the last column
    CHECK(dips::pipeline_text(run.tasks[0].pipeline) == "blur=3");
  }
  SECTION("comments, blank and whitespace-only lines") {
    const ManifestRun run = parse(dir, "# a comment\n\n   \n\t\n  # indented comment\n\t# tab comment\na.jpg\tblur\n\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 1);
    CHECK(run.tasks[0].origin == (dir / "jobs/m.tsv").string() + ":7");
  }
  SECTION("an empty manifest gives no tasks") {
    const ManifestRun run = parse(dir, "");
    CHECK(run.status.ok());
    CHECK(run.tasks.empty());
  }
  SECTION("spaces, parentheses and UTF-8 in names") {
    const ManifestRun run = parse(dir, "Image 1 (Panda).jpg\tgrayscale\nBild \xc3\xbc \xe6\x97\xa5.png\tblur\tOut (1).png\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 2);
    CHECK(run.tasks[0].input == base / "Image 1 (Panda).jpg");
    CHECK(run.tasks[0].output == out_canonical / "Image 1 (Panda).jpg");
    CHECK(run.tasks[1].input == base / "Bild \xc3\xbc \xe6\x97\xa5.png");
    CHECK(run.tasks[1].output == out_canonical / "Out (1).png");
  }
  SECTION("relative inputs are relative to the manifest, relative outputs to the output folder") {
    const ManifestRun run = parse(dir,
                                  "sub/a.jpg\tblur\n"
                                  "sub/b.jpg\tblur\tres/b.png\n"
                                  "../elsewhere/c.jpg\tblur\n"
                                  "/data/d.jpg\tblur\n"
                                  "./e.jpg\tblur\n"
                                  "sub/f.jpg\tblur\tsub/../f.png\n");
    REQUIRE(run.status.ok());
    REQUIRE(run.tasks.size() == 6);
    CHECK(run.tasks[0].input == base / "sub/a.jpg");
    CHECK(run.tasks[0].output == out_canonical / "sub/a.jpg");
    CHECK(run.tasks[1].output == out_canonical / "res/b.png");
    CHECK(run.tasks[2].input == base / "../elsewhere/c.jpg");
    CHECK(run.tasks[2].output == out_canonical / "c.jpg");  // an input outside: its name only
    CHECK(run.tasks[3].input == fs::path("/data/d.jpg"));
    CHECK(run.tasks[3].output == out_canonical / "d.jpg");
    CHECK(run.tasks[4].output == out_canonical / "e.jpg");
    CHECK(run.tasks[5].output == out_canonical / "f.png");
  }
  SECTION("format replaces the output extension") {
    const ManifestRun run = parse(dir, "a.jpg\tblur\nb.tif\tblur\tx/b.bmp\n", "png");
    REQUIRE(run.status.ok());
    CHECK(run.tasks[0].output == out_canonical / "a.png");
    CHECK(run.tasks[1].output == out_canonical / "x/b.png");
  }
  SECTION("absolute output inside the output folder") {
    const ManifestRun run = parse(dir, "a.jpg\tblur\t" + (out / "deep/a.png").string() + "\n");
    REQUIRE(run.status.ok());
    CHECK(run.tasks[0].output == out_canonical / "deep/a.png");
  }
  SECTION("a trailing tab means 'default output'") {
    const ManifestRun run = parse(dir, "a.jpg\tblur\t\n");
    REQUIRE(run.status.ok());
    CHECK(run.tasks[0].output == out_canonical / "a.jpg");
  }
}

TEST_CASE("manifest outputs outside the output folder are refused", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");
  fs::create_directories(dir / "elsewhere");
  fs::create_directory_symlink(dir / "elsewhere", dir / "out/link");
  const std::vector<std::string> outputs = {
      "../evil.png",
      "sub/../../evil.png",
      "..",
      "sub/",
      (dir / "evil.png").string(),
      "/etc/passwd",
      (dir / "out").string(),
      (dir / "out-sibling/x.png").string(),  // shares a prefix with the output folder's name
  };
  std::string text;
  for (const std::string& output : outputs) text += "a.jpg\tblur\t" + output + "\n";
  text += "b.jpg\tblur\tlink/x.png\n";
  const ManifestRun run = parse(dir, text);
  REQUIRE_FALSE(run.status.ok());
  const std::string& m = run.status.message();
  CHECK_THAT(m, Contains(std::to_string(outputs.size() + 1) + " problems"));
  for (size_t i = 0; i < outputs.size(); ++i) {
    INFO(outputs[i]);
    const bool folder = outputs[i] == ".." || outputs[i] == "sub/" || outputs[i] == (dir / "out").string();
    CHECK_THAT(m, Contains(where(dir, static_cast<int>(i + 1)) + "output '" + outputs[i] +
                           (folder ? "' names a folder, not a file" : "' is outside the output directory")));
  }
  CHECK_THAT(m, Contains(where(dir, static_cast<int>(outputs.size() + 1)) +
                         "output 'link/x.png' leads outside the output directory '" + (dir / "out").string() +
                         "' through a symbolic link"));
  CHECK_FALSE(fs::exists(dir / "evil.png"));
}

// lexically_normal turns "out/." into "out/" (a trailing separator): "." and "sub/.." must be refused as
// naming a folder, not accepted as the output folder itself.
TEST_CASE("an output that names a folder is refused", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "out");
  for (const std::string& requested : std::vector<std::string>{".", "sub/..", "sub/.", "./", (dir / "out/.").string()}) {
    INFO(requested);
    fs::path resolved;
    const Status status = dips::resolve_output(dir / "out", requested, &resolved);
    CHECK_FALSE(status.ok());
    CHECK(resolved.empty());
  }
}

// with_format() must not give a folder output ("sub/") an extension: it would become the hidden file
// "sub/.png" with --format png.
TEST_CASE("--format does not turn a folder output into a hidden file", "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "jobs");
  fs::create_directories(dir / "out");
  REQUIRE_FALSE(parse(dir, "a.jpg\tblur\tsub/\n").status.ok());
  const ManifestRun run = parse(dir, "a.jpg\tblur\tsub/\n", "png");
  INFO((run.tasks.empty() ? std::string("no task") : run.tasks[0].output.string()));
  CHECK_FALSE(run.status.ok());
}

// An absolute output spelled through the same symlink as the output folder is inside it.
TEST_CASE("an absolute output inside an output folder named through a symlink is accepted",
          "[bad_input][manifest]") {
  TempDir dir;
  fs::create_directories(dir / "real");
  fs::create_directory_symlink(dir / "real", dir / "outlink");
  fs::path resolved;
  const Status status = dips::resolve_output(dir / "outlink", dir / "outlink/x.png", &resolved);
  INFO(status.message());
  CHECK(status.ok());
}

// ============================================================================================ build_job

namespace {

ManifestRun build(const dips::JobSpec& spec) {
  ManifestRun run;
  run.status = dips::build_job(spec, &run.tasks);
  return run;
}

void touch_image(const fs::path& path) { write_text(path, "not decoded by build_job"); }

}  // namespace

TEST_CASE("build_job refuses jobs whose outputs collide or overwrite inputs", "[bad_input][job]") {
  TempDir dir;

  SECTION("two manifest tasks with one output") {
    write_text(dir / "m.tsv", "a.jpg\tblur\tsame.png\nb.jpg\tgrayscale\tsame.png\nc.jpg\tblur\tother.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("1 problem in the job, nothing was run"));
    CHECK_THAT(run.status.message(), Contains((dir / "m.tsv").string() + ":2: output '") &&
                                         Contains("same.png' is also the output of " + (dir / "m.tsv").string() + ":1"));
    CHECK_FALSE(fs::exists(dir / "out"));  // nothing ran, nothing was created
  }
  SECTION("two inputs of one name in --op mode") {
    touch_image(dir / "d1/x.jpg");
    touch_image(dir / "d2/x.jpg");
    dips::JobSpec spec;
    spec.inputs = {(dir / "d1/x.jpg").string(), (dir / "d2/x.jpg").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("is also the output of " + (dir / "d1/x.jpg").string()));
  }
  SECTION("--format makes two inputs collide") {
    touch_image(dir / "in/a.jpg");
    touch_image(dir / "in/a.tif");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    spec.format = "png";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("a.png' is also the output of"));
  }
  SECTION("output equal to an input (manifest)") {
    write_text(dir / "m.tsv", "a.png\tblur\ta.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir.path();
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains((dir / "m.tsv").string() + ":1: output '") &&
                                         Contains("is an input of this job; inputs are never overwritten"));
  }
  SECTION("output equal to another task's input") {
    write_text(dir / "m.tsv", "a.png\tblur\tb.png\nb.png\tblur\tc.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir.path();
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains(":1: output '") && Contains("b.png' is an input of this job"));
  }
  SECTION("output folder equal to the input folder (--op mode)") {
    touch_image(dir / "in/a.png");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "in";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains("is an input of this job"));
  }
  SECTION("an output reaching an input through a symlinked folder") {
    touch_image(dir / "in/a.png");
    fs::create_directories(dir / "out");
    fs::create_directory_symlink(dir / "in", dir / "out/in");
    write_text(dir / "m.tsv", (dir / "in/a.png").string() + "\tblur\tin/a.png\n");
    dips::JobSpec spec;
    spec.manifest = (dir / "m.tsv").string();
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());  // refused one way or the other: outside, or an input
    CHECK_THAT(run.status.message(), Contains("through a symbolic link") || Contains("is an input of this job"));
  }
}

TEST_CASE("build_job and symbolic links", "[bad_input][job]") {
  TempDir dir;

  SECTION("a symlinked folder inside the output folder that points outside (--op, recursive)") {
    touch_image(dir / "in/sub/a.png");
    fs::create_directories(dir / "out");
    fs::create_directories(dir / "elsewhere");
    fs::create_directory_symlink(dir / "elsewhere", dir / "out/sub");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    spec.recursive = true;
    const ManifestRun run = build(spec);
    REQUIRE_FALSE(run.status.ok());
    CHECK_THAT(run.status.message(), Contains((dir / "in/sub/a.png").string() + ": output 'sub/a.png' leads outside the output directory") &&
                                         Contains("through a symbolic link"));
  }
  SECTION("a symlink loop in a recursive directory job terminates") {
    touch_image(dir / "in/a.png");
    touch_image(dir / "in/sub/b.png");
    touch_image(dir / "in/sub/deeper/c.png");
    fs::create_directory_symlink(dir / "in", dir / "in/sub/up");       // a cycle back to the root
    fs::create_directory_symlink(dir / "in/sub", dir / "in/sub/deeper/again");
    fs::create_directory_symlink("self", dir / "in/self");           // points at itself: ELOOP
    fs::create_symlink(dir / "in/l2.jpg", dir / "in/l1.jpg");          // a file-name loop
    fs::create_symlink(dir / "in/l1.jpg", dir / "in/l2.jpg");
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    spec.recursive = true;
    const auto start = std::chrono::steady_clock::now();
    const ManifestRun run = build(spec);
    CHECK(elapsed_ms(start) < 2000);
    REQUIRE(run.status.ok());
    std::vector<std::string> inputs;
    for (const auto& task : run.tasks) inputs.push_back(fs::path(task.input).lexically_relative(dir / "in").string());
    // The looped file names become tasks that fail with a clear read error; no directory symlink is followed.
    CHECK(inputs == std::vector<std::string>{"a.png", "l1.jpg", "l2.jpg", "sub/b.png", "sub/deeper/c.png"});
    std::vector<uint8_t> bytes;
    CHECK_THAT(dips::read_file(dir / "in/l1.jpg", 1 << 20, &bytes).message(), Contains("symbolic link loop"));
  }
  SECTION("the output folder inside a recursive input folder is not scanned") {
    touch_image(dir / "in/a.png");
    touch_image(dir / "in/sub/b.png");
    touch_image(dir / "in/out/a.png");  // a previous run's output
    touch_image(dir / "in/out/sub/b.png");
    for (const std::string out : {"in/out", "in/out/", "in/./out", "in/sub/../out"}) {
      INFO("output folder " << out);
      dips::JobSpec spec;
      spec.inputs = {(dir / "in").string()};
      spec.ops = "blur";
      spec.output_dir = dir.path() / out;
      spec.recursive = true;
      const ManifestRun run = build(spec);
      REQUIRE(run.status.ok());
      REQUIRE(run.tasks.size() == 2);
      CHECK(run.tasks[0].input == dir / "in/a.png");
      CHECK(run.tasks[1].input == dir / "in/sub/b.png");
      CHECK(run.tasks[1].output == fs::canonical(dir / "in/out") / "sub/b.png");
    }
  }
  SECTION("a directory without images") {
    write_text(dir / "in/readme.txt", "hi");
    fs::create_directories(dir / "in/sub.png");  // a directory with an image name is not an image
    dips::JobSpec spec;
    spec.inputs = {(dir / "in").string()};
    spec.ops = "blur";
    spec.output_dir = dir / "out";
    const ManifestRun run = build(spec);
    // Non-recursive: sub.png is listed as a file name and becomes a task that fails on read.
    if (run.status.ok()) {
      REQUIRE(run.tasks.size() == 1);
      std::vector<uint8_t> bytes;
      CHECK_THAT(dips::read_file(run.tasks[0].input, 1 << 20, &bytes).message(), Contains("it is a directory"));
    } else {
      CHECK_THAT(run.status.message(), Contains("no image files in this directory"));
    }
    write_text(dir / "empty/readme.txt", "hi");
    spec.inputs = {(dir / "empty").string()};
    const ManifestRun empty = build(spec);
    REQUIRE_FALSE(empty.status.ok());
    CHECK_THAT(empty.status.message(), Contains("no image files in this directory (--recursive descends into sub-directories)"));
  }
  SECTION("a manifest that does not exist, and a bad --format") {
    dips::JobSpec spec;
    spec.manifest = (dir / "missing.tsv").string();
    spec.output_dir = dir / "out";
    CHECK_THAT(build(spec).status.message(), Contains("cannot read manifest") && Contains("missing.tsv"));
    spec.format = "docx";
    CHECK_THAT(build(spec).status.message(), Contains("--format docx: OpenCV cannot write this format"));
  }
}

// std::ifstream opens a directory without error on Linux and reading it yields nothing: `--manifest
// some_folder` must be an error, not an ok job of zero tasks.
TEST_CASE("a manifest that is a directory is an error", "[bad_input][job]") {
  TempDir dir;
  fs::create_directories(dir / "manifest.tsv");
  dips::JobSpec spec;
  spec.manifest = (dir / "manifest.tsv").string();
  spec.output_dir = dir / "out";
  const ManifestRun run = build(spec);
  INFO("tasks: " << run.tasks.size());
  CHECK_FALSE(run.status.ok());
}

// ================================================================================================= wire

namespace {

// Byte offsets in an encoded WorkMessage (wire.cpp: little-endian, length-prefixed), for n steps and an
// output extension of ext_len bytes. The "wire layout" test checks them against encode_work.
struct WorkLayout {
  size_t steps_count = 13, rows, ext_len, max_pixels, mat_rows, mat_cols, mat_type, mat_size, mat_data;
  WorkLayout(size_t n, size_t ext_size) {
    rows = 17 + 8 * n;
    ext_len = rows + 16;
    max_pixels = ext_len + 8 + ext_size;
    mat_rows = max_pixels + 8;
    mat_cols = mat_rows + 4;
    mat_type = mat_rows + 8;
    mat_size = mat_rows + 12;
    mat_data = mat_rows + 20;
  }
  static size_t step_index(size_t i) { return 17 + 8 * i; }
  static size_t step_param(size_t i) { return 21 + 8 * i; }
};

template <typename T>
void poke(std::vector<uint8_t>& bytes, size_t offset, T value) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <typename T>
T peek(const std::vector<uint8_t>& bytes, size_t offset) {
  T value{};
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// A small valid band: 4 gray rows 0..3 of a 5-column image, computing rows [1, 3) of blur=3.
dips::WorkMessage band_work() {
  dips::WorkMessage work;
  work.piece_id = 42;
  work.kind = dips::WorkKind::kBand;
  REQUIRE(dips::parse_pipeline("blur=3", &work.steps).ok());
  work.rows = dips::PieceRows{1, 3, 0, 4};
  work.output_ext = ".png";
  work.max_pixels = 1000;
  work.image = cv::Mat(4, 5, CV_8UC1);
  for (int i = 0; i < 20; ++i) work.image.data[i] = static_cast<uchar>(i * 11);
  return work;
}

dips::ResultMessage small_result() {
  dips::ResultMessage result;
  result.piece_id = 42;
  result.error = "";
  result.width = 5;
  result.height = 4;
  result.decoded = {"hello", ""};
  result.histogram.assign(256, 0.0);
  result.histogram[3] = 20;
  result.image = cv::Mat(2, 3, CV_8UC3, cv::Scalar(1, 2, 3));
  result.bytes = {9, 8, 7};
  result.compute_ms = 1.5;
  return result;
}

Status decode_work(const std::vector<uint8_t>& bytes) {
  dips::WorkMessage message;
  return dips::decode_work(bytes.data(), bytes.size(), &message);
}

Status decode_result(const std::vector<uint8_t>& bytes) {
  dips::ResultMessage message;
  return dips::decode_result(bytes.data(), bytes.size(), &message);
}

// What any successfully decoded WorkMessage must satisfy, however hostile the bytes were.
void check_work_invariants(const dips::WorkMessage& m) {
  REQUIRE(!m.steps.empty());
  REQUIRE(m.steps.size() <= 64);
  for (const dips::Step& step : m.steps) {
    REQUIRE(step.op >= dips::operations().data());
    REQUIRE(step.op < dips::operations().data() + dips::operations().size());
    int param = 0;
    const bool default_param = step.param == step.op->param.default_value;
    REQUIRE((default_param || dips::parse_param(*step.op, std::to_string(step.param), true, &param).ok()));
  }
  REQUIRE((m.image.empty() || m.image.type() == CV_8UC1 || m.image.type() == CV_8UC3));
  REQUIRE((m.kind == dips::WorkKind::kFile || m.kind == dips::WorkKind::kBand || m.kind == dips::WorkKind::kEncode));
  if (m.kind == dips::WorkKind::kBand) {
    REQUIRE(m.rows.in_row0 >= 0);
    REQUIRE(m.rows.in_row0 <= m.rows.row0);
    REQUIRE(m.rows.row0 < m.rows.row1);
    REQUIRE(m.rows.row1 <= m.rows.in_row1);
    REQUIRE(m.rows.in_row1 - m.rows.in_row0 == m.image.rows);
    REQUIRE(dips::plan_stages(m.steps).size() == 1);
  }
}

}  // namespace

TEST_CASE("wire layout assumed by the hostile-message tests", "[bad_input][wire]") {
  const dips::WorkMessage work = band_work();
  const std::vector<uint8_t> bytes = dips::encode_work(work);
  const WorkLayout at(1, 4);
  CHECK(peek<uint32_t>(bytes, 0) == 0x44495057u);
  CHECK(bytes[12] == static_cast<uint8_t>(dips::WorkKind::kBand));
  CHECK(peek<uint32_t>(bytes, at.steps_count) == 1);
  CHECK(peek<uint32_t>(bytes, WorkLayout::step_index(0)) == static_cast<uint32_t>(dips::find_operation("blur") - dips::operations().data()));
  CHECK(peek<int32_t>(bytes, WorkLayout::step_param(0)) == 3);
  CHECK(peek<int32_t>(bytes, at.rows) == 1);
  CHECK(peek<int32_t>(bytes, at.rows + 12) == 4);
  CHECK(peek<uint64_t>(bytes, at.ext_len) == 4);
  CHECK(peek<int64_t>(bytes, at.max_pixels) == 1000);
  CHECK(peek<int32_t>(bytes, at.mat_rows) == 4);
  CHECK(peek<int32_t>(bytes, at.mat_cols) == 5);
  CHECK(peek<int32_t>(bytes, at.mat_type) == CV_8UC1);
  CHECK(peek<uint64_t>(bytes, at.mat_size) == 20);
  CHECK(bytes.size() == at.mat_data + 20 + 8);

  dips::WorkMessage back;
  REQUIRE(dips::decode_work(bytes.data(), bytes.size(), &back).ok());
  CHECK(dips::encode_work(back) == bytes);
  dips::ResultMessage result_back;
  const std::vector<uint8_t> result_bytes = dips::encode_result(small_result());
  REQUIRE(dips::decode_result(result_bytes.data(), result_bytes.size(), &result_back).ok());
  CHECK(dips::encode_result(result_back) == result_bytes);
}

TEST_CASE("every truncation of a valid message is an error", "[bad_input][wire]") {
  dips::WorkMessage file = file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(5)), ".png"), "grayscale,blur=3");
  for (const std::vector<uint8_t>& full : {dips::encode_work(band_work()), dips::encode_work(file)}) {
    REQUIRE(decode_work(full).ok());
    for (size_t size = 0; size < full.size(); ++size) {
      INFO("work prefix of " << size << " of " << full.size() << " bytes");
      const Status status = decode_work(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<long>(size)));
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Contains("malformed message"));
    }
    std::vector<uint8_t> longer = full;
    longer.push_back(0);
    CHECK_THAT(decode_work(longer).message(), Contains("trailing bytes after message"));
  }
  const std::vector<uint8_t> result = dips::encode_result(small_result());
  REQUIRE(decode_result(result).ok());
  for (size_t size = 0; size < result.size(); ++size) {
    INFO("result prefix of " << size << " of " << result.size() << " bytes");
    const Status status = decode_result(std::vector<uint8_t>(result.begin(), result.begin() + static_cast<long>(size)));
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains("malformed message"));
  }
  std::vector<uint8_t> longer = result;
  longer.push_back(0);
  CHECK_THAT(decode_result(longer).message(), Contains("trailing bytes after message"));
  CHECK_FALSE(dips::decode_work(nullptr, 0, &file).ok());
}

TEST_CASE("bit flips never crash the decoders, and what decodes is sane", "[bad_input][wire]") {
  const std::vector<uint8_t> work = dips::encode_work(band_work());
  const std::vector<uint8_t> result = dips::encode_result(small_result());
  size_t work_ok = 0, result_ok = 0;
  for (size_t i = 0; i < work.size() * 8; ++i) {
    std::vector<uint8_t> flipped = work;
    flipped[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    dips::WorkMessage m;
    INFO("work bit " << i);
    if (dips::decode_work(flipped.data(), flipped.size(), &m).ok()) {
      ++work_ok;
      check_work_invariants(m);
      CHECK(dips::encode_work(m) == flipped);
    }
  }
  for (size_t i = 0; i < result.size() * 8; ++i) {
    std::vector<uint8_t> flipped = result;
    flipped[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
    dips::ResultMessage m;
    INFO("result bit " << i);
    if (dips::decode_result(flipped.data(), flipped.size(), &m).ok()) {
      ++result_ok;
      CHECK(dips::encode_result(m) == flipped);
      CHECK((m.histogram.empty() || m.histogram.size() == 256));
    }
  }
  // Payload bits (pixels, ids, doubles) decode fine; framing bits do not. Both kinds were hit.
  CHECK(work_ok > 0);
  CHECK(work_ok < work.size() * 8);
  CHECK(result_ok > 0);
  CHECK(result_ok < result.size() * 8);
}

TEST_CASE("hostile fields in a work message are errors", "[bad_input][wire]") {
  const std::vector<uint8_t> valid = dips::encode_work(band_work());
  const WorkLayout at(1, 4);
  const auto expect = [&](std::vector<uint8_t> bytes, const std::string& what) {
    const Status status = decode_work(bytes);
    INFO("expected: " << what);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains(what));
  };

  SECTION("wrong magic") {
    expect(dips::encode_result(small_result()), "not a work message");
    std::vector<uint8_t> bytes = valid;
    bytes[0] ^= 0x20;
    expect(bytes, "not a work message");
    CHECK_THAT(decode_result(valid).message(), Contains("not a result message"));
  }
  SECTION("huge length fields") {
    for (uint64_t length : {uint64_t(1) << 32, uint64_t(1) << 63, ~uint64_t(0), uint64_t(valid.size())}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.ext_len, length);
      expect(bytes, "field length beyond the message");
    }
    std::vector<uint8_t> bytes = valid;
    poke(bytes, at.mat_size, ~uint64_t(0));
    expect(bytes, "field length beyond the message");
    bytes = valid;
    poke(bytes, valid.size() - 8, uint64_t(1) << 40);  // the file bytes' length
    expect(bytes, "field length beyond the message");
  }
  SECTION("step count") {
    for (uint32_t count : {0u, 65u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.steps_count, count);
      expect(bytes, "bad step count");
    }
    std::vector<uint8_t> bytes = valid;
    poke(bytes, at.steps_count, uint32_t(64));  // plausible count, but the steps are not there
    CHECK_FALSE(decode_work(bytes).ok());
  }
  SECTION("unknown operation index") {
    for (uint32_t index : {static_cast<uint32_t>(dips::operations().size()), 1000u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, WorkLayout::step_index(0), index);
      expect(bytes, "unknown operation index");
    }
  }
  SECTION("out-of-range parameters") {
    for (int32_t param : {0, 2, 256, -1, INT32_MIN, INT32_MAX}) {
      if (param == 2) continue;  // 2 is a valid kernel (taken as 1)
      std::vector<uint8_t> bytes = valid;
      poke(bytes, WorkLayout::step_param(0), param);
      expect(bytes, "parameter " + std::to_string(param) + " out of range for blur");
    }
    const auto with_op = [&](const char* name, int32_t param) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, WorkLayout::step_index(0), static_cast<uint32_t>(dips::find_operation(name) - dips::operations().data()));
      poke(bytes, WorkLayout::step_param(0), param);
      return bytes;
    };
    expect(with_op("grayscale", 1), "out of range for grayscale");
    expect(with_op("resize", 32769), "out of range for resize");
    expect(with_op("resize", -5), "out of range for resize");
    CHECK(decode_work(with_op("grayscale", 0)).ok());
    CHECK(decode_work(with_op("resize", 0)).ok());  // resize's default: unchanged
  }
  SECTION("unknown work kind") {
    for (uint8_t kind : {0, 4, 255}) {
      std::vector<uint8_t> bytes = valid;
      bytes[12] = kind;
      expect(bytes, "unknown work kind");
    }
  }
  SECTION("band rows that do not match the image") {
    const std::vector<std::array<int32_t, 4>> bad_rows = {
        {1, 3, 0, 5},                 // needs 5 input rows, the image has 4
        {1, 3, 0, 3},                 // 3 rows
        {2, 2, 0, 4},                 // empty band
        {3, 1, 0, 4},                 // reversed
        {0, 3, 1, 5},                 // starts before its input
        {1, 5, 0, 4},                 // ends after its input
        {-3, -1, -4, 0},              // negative
        {INT32_MIN, 0, INT32_MIN, 4},
        {1, 3, INT32_MIN, INT32_MAX},  // difference overflows int
    };
    for (const auto& rows : bad_rows) {
      std::vector<uint8_t> bytes = valid;
      for (int k = 0; k < 4; ++k) poke(bytes, at.rows + 4 * k, rows[k]);
      INFO(rows[0] << " " << rows[1] << " " << rows[2] << " " << rows[3]);
      expect(bytes, "band rows do not match its image");
    }
  }
  SECTION("a band of more than one stage") {
    dips::WorkMessage work = band_work();
    REQUIRE(dips::parse_pipeline("blur=3,edge_detection,blur=3", &work.steps).ok());
    expect(dips::encode_work(work), "band steps are not one stage");
    REQUIRE(dips::parse_pipeline("grayscale,resize=2", &work.steps).ok());
    expect(dips::encode_work(work), "band steps are not one stage");
  }
  SECTION("image headers") {
    const auto with_header = [&](int32_t rows, int32_t cols, int32_t type) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.mat_rows, rows);
      poke(bytes, at.mat_cols, cols);
      poke(bytes, at.mat_type, type);
      return bytes;
    };
    for (int32_t type : {CV_16UC1, CV_8UC2, CV_8UC4, CV_32FC1, -1, 1 << 20}) expect(with_header(4, 5, type), "bad image header");
    expect(with_header(-4, 5, CV_8UC1), "bad image header");
    expect(with_header(4, -5, CV_8UC1), "bad image header");
    expect(with_header(0, 5, CV_8UC1), "bad image header");
    expect(with_header(4, 6, CV_8UC1), "image byte count does not match its size");
    expect(with_header(4, 5, CV_8UC3), "image byte count does not match its size");
    expect(with_header(INT32_MAX, INT32_MAX, CV_8UC3), "image byte count does not match its size");
    // An empty image header in a band: the rows cannot match.
    dips::WorkMessage work = band_work();
    work.image = cv::Mat();
    expect(dips::encode_work(work), "band rows do not match its image");
  }
}

TEST_CASE("hostile fields in a result message are errors", "[bad_input][wire]") {
  dips::ResultMessage result = small_result();
  const std::vector<uint8_t> valid = dips::encode_result(result);
  // Layout: magic 4, id 8, error (8 + 0), width 4, height 4, string count 4 at 28.
  REQUIRE(peek<uint32_t>(valid, 28) == 2);
  const auto expect = [&](const std::vector<uint8_t>& bytes, const std::string& what) {
    const Status status = decode_result(bytes);
    INFO("expected: " << what);
    REQUIRE_FALSE(status.ok());
    CHECK_THAT(status.message(), Contains(what));
  };
  std::vector<uint8_t> bytes = valid;
  poke(bytes, 12, ~uint64_t(0));
  expect(bytes, "field length beyond the message");
  bytes = valid;
  poke(bytes, 28, uint32_t(70000));
  expect(bytes, "too many strings");
  bytes = valid;
  poke(bytes, 28, uint32_t(65536));  // allowed count, strings missing: truncated, quickly
  expect(bytes, "malformed message");
  bytes = valid;
  poke(bytes, 32, ~uint64_t(0));  // the first string's length
  expect(bytes, "field length beyond the message");

  for (size_t bins : {size_t(1), size_t(255), size_t(257)}) {
    result = small_result();
    result.histogram.assign(bins, 1.0);
    expect(dips::encode_result(result), "histogram is not 256 bins");
  }
  result = small_result();
  result.image = cv::Mat(2, 2, CV_16UC1, cv::Scalar(1));
  expect(dips::encode_result(result), "bad image header");
  result = small_result();
  result.histogram.clear();
  result.decoded.clear();
  result.image = cv::Mat();
  result.bytes.clear();
  CHECK(decode_result(dips::encode_result(result)).ok());  // the smallest valid result
}

TEST_CASE("decoded but inconsistent work is an error from execute_work, not a crash", "[bad_input][wire]") {
  SECTION("a whole-image stage sent as a band gives its whole output") {
    dips::WorkMessage work = band_work();
    REQUIRE(dips::parse_pipeline("resize=1", &work.steps).ok());
    work.rows = dips::PieceRows{1, 4, 0, 4};
    const std::vector<uint8_t> bytes = dips::encode_work(work);
    dips::WorkMessage decoded;
    REQUIRE(dips::decode_work(bytes.data(), bytes.size(), &decoded).ok());
    const dips::ResultMessage result = dips::execute_work(decoded);
    CHECK(result.piece_id == 42);
    CHECK(result.error.empty());
    CHECK(result.image.size() == cv::Size(1, 1));
  }
  SECTION("band rows that do not match the image (not through decode_work)") {
    for (const dips::PieceRows rows : {dips::PieceRows{1, 3, 0, 5}, dips::PieceRows{1000, 4000, 0, 4}, dips::PieceRows{0, 1, 0, 1}}) {
      dips::WorkMessage work = band_work();
      work.rows = rows;
      const dips::ResultMessage result = dips::execute_work(work);
      CHECK_FALSE(result.error.empty());
      CHECK(result.image.empty());
    }
  }
  SECTION("an encode of an empty image, or to an unknown extension") {
    dips::WorkMessage work;
    work.kind = dips::WorkKind::kEncode;
    work.output_ext = ".png";
    CHECK_FALSE(dips::execute_work(work).error.empty());
    work.image = cv::Mat(3, 3, CV_8UC3, cv::Scalar::all(1));
    for (const std::string& ext : std::vector<std::string>{"", ".nope", "png", "../../etc/passwd", std::string("\0.png", 5)}) {
      work.output_ext = ext;
      const dips::ResultMessage result = dips::execute_work(work);
      CHECK_FALSE(result.error.empty());
      CHECK(result.bytes.empty());
    }
  }
  SECTION("a file whose max_pixels is zero or negative") {
    for (int64_t max_pixels : {int64_t(0), int64_t(-1), INT64_MIN}) {
      const dips::ResultMessage result =
          dips::execute_work(file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(1)), ".png"), "blur=3", ".png", max_pixels));
      CHECK_THAT(result.error, Contains("over the limit"));
    }
  }
  SECTION("a valid band gives its rows") {
    const dips::WorkMessage work = band_work();
    const dips::ResultMessage result = dips::execute_work(work);
    REQUIRE(result.error.empty());
    CHECK(result.image.rows == 2);
    CHECK(result.image.cols == 5);
  }
}
