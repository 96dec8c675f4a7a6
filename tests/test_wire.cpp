// wire: batches of work and result items and the hello messages round-trip exactly (every source and
// sink; pixels and bytes decoded without a copy, keeping the message alive), and hostile messages (every
// truncation, every bit flip, out-of-range fields, bytes that are not the canonical encoding) are errors,
// never a crash or a big allocation.
//
// docs/bad-inputs.md tabulates what dips does with each message tried here (tag [bad_input]).
#include <catch2/catch.hpp>

#include <array>
#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "dips/wire.h"
#include "hostile_bytes.h"
#include "test_images.h"
#include "wire_checks.h"

using Catch::Contains;
using dips::Status;
using namespace dips::testing;

namespace {

using Buffer = std::shared_ptr<const std::vector<uint8_t>>;

Buffer shared(std::vector<uint8_t> bytes) { return std::make_shared<const std::vector<uint8_t>>(std::move(bytes)); }

std::vector<uint8_t> work_bytes(const std::vector<dips::WorkItem>& items) { return dips::encode_work(items).flatten(); }
std::vector<uint8_t> result_bytes(const std::vector<dips::ResultItem>& items) { return dips::encode_result(items).flatten(); }

Status decode_work(const std::vector<uint8_t>& bytes, std::vector<dips::WorkItem>* items = nullptr) {
  std::vector<dips::WorkItem> ignored;
  return dips::decode_work(shared(bytes), items ? items : &ignored);
}

Status decode_result(const std::vector<uint8_t>& bytes, std::vector<dips::ResultItem>* items = nullptr) {
  std::vector<dips::ResultItem> ignored;
  return dips::decode_result(shared(bytes), items ? items : &ignored);
}

Status decode_hello(const std::vector<uint8_t>& bytes) {
  dips::Hello hello;
  return dips::decode_hello(bytes, &hello);
}

Status decode_hello_reply(const std::vector<uint8_t>& bytes) {
  dips::HelloReply reply;
  return dips::decode_hello_reply(bytes, &reply);
}

Status decode_progress(const std::vector<uint8_t>& bytes) {
  dips::DecodeProgress progress;
  return dips::decode_progress(bytes, &progress);
}

dips::DecodeProgress a_progress() {
  dips::DecodeProgress progress;
  progress.piece_id = 0x0102030405060708ull;
  progress.width = 8700;
  progress.height = 5802;
  progress.rows = 161;
  return progress;
}

std::vector<uint8_t> contents(const dips::Bytes& bytes) { return std::vector<uint8_t>(bytes.data, bytes.data + bytes.size); }

// True when `p` points into the buffer, at an offset that is a multiple of 64 (a payload's start).
bool aligned_inside(const void* p, const std::vector<uint8_t>& buffer) {
  const auto* byte = static_cast<const uint8_t*>(p);
  return byte >= buffer.data() && byte < buffer.data() + buffer.size() && (byte - buffer.data()) % 64 == 0;
}

void check_same(const dips::WorkItem& a, const dips::WorkItem& b) {
  INFO("piece " << a.piece_id);
  CHECK(a.piece_id == b.piece_id);
  CHECK(a.source == b.source);
  CHECK(a.path == b.path);
  CHECK(contents(a.file) == contents(b.file));
  CHECK(identical(a.pixels, b.pixels));
  CHECK(a.band == b.band);
  CHECK(std::array{a.rows.row0, a.rows.row1, a.rows.in_row0, a.rows.in_row1} ==
        std::array{b.rows.row0, b.rows.row1, b.rows.in_row0, b.rows.in_row1});
  CHECK(a.finish.op == b.finish.op);
  CHECK(a.finish.param == b.finish.param);
  CHECK(a.histogram == b.histogram);
  CHECK(dips::pipeline_text(a.steps) == dips::pipeline_text(b.steps));
  CHECK(a.probe == b.probe);
  CHECK(a.rows_from_file == b.rows_from_file);
  CHECK(a.sink == b.sink);
  CHECK(a.output_ext == b.output_ext);
  CHECK(a.output_path == b.output_path);
  CHECK(a.sync == b.sync);
  CHECK(a.max_pixels == b.max_pixels);
  CHECK(a.max_file_bytes == b.max_file_bytes);
  CHECK(a.thumbnails == b.thumbnails);
  CHECK(a.thumbnail_px == b.thumbnail_px);
  CHECK(a.replace == b.replace);
}

void check_same(const dips::ResultItem& a, const dips::ResultItem& b) {
  INFO("piece " << a.piece_id);
  CHECK(a.piece_id == b.piece_id);
  CHECK(a.error == b.error);
  CHECK(a.width == b.width);
  CHECK(a.height == b.height);
  CHECK(a.decoded == b.decoded);
  CHECK(a.histogram == b.histogram);
  CHECK(identical(a.pixels, b.pixels));
  CHECK(contents(a.encoded) == contents(b.encoded));
  CHECK(a.written == b.written);
  CHECK(a.input_size == b.input_size);
  CHECK(a.input_mtime_ns == b.input_mtime_ns);
  CHECK(a.compute_ms == b.compute_ms);
  CHECK(a.queue_ms == b.queue_ms);
  CHECK(contents(a.thumbnail_input) == contents(b.thumbnail_input));
  CHECK(contents(a.thumbnail_output) == contents(b.thumbnail_output));
  CHECK(identical(a.thumbnail_input_rows, b.thumbnail_input_rows));
  CHECK(identical(a.thumbnail_output_rows, b.thumbnail_output_rows));
}

// The prologue of a message of n items: magic, item count, the n piece ids, then the head size.
constexpr size_t kCountAt = 4;
constexpr size_t id_at(size_t i) { return 8 + 8 * i; }
constexpr size_t head_size_at(size_t n) { return 8 + 8 * n; }

// Byte offsets of the fields of a one-item work message (wire.cpp: little-endian, strings and payloads
// length-prefixed, a finish written as a list of 0 or 1 steps). The layout test pins them for band_work.
struct WorkLayout {
  size_t source = head_size_at(1) + 8, path_len = source + 1, file_len, mat_rows, mat_cols, mat_type, mat_len, band, rows,
         finish_count, histogram_count, steps_count, probe, rows_from_file, sink, ext_len, output_path_len, image_width, image_height, sync, max_pixels,
         max_file_bytes, thumbnails, thumbnail_px, replace, end;
  explicit WorkLayout(const dips::WorkItem& m) {
    file_len = path_len + 8 + m.path.size();
    mat_rows = file_len + 8;
    mat_cols = mat_rows + 4;
    mat_type = mat_rows + 8;
    mat_len = mat_rows + 12;
    band = mat_len + 8;
    rows = band + 1;
    finish_count = rows + 16;
    histogram_count = finish_count + 4 + (m.finish.op ? 8 : 0);
    steps_count = histogram_count + 4 + 8 * m.histogram.size();
    probe = steps_count + 4 + 8 * m.steps.size();
    rows_from_file = probe + 1;
    sink = rows_from_file + 1;
    ext_len = sink + 1;
    output_path_len = ext_len + 8 + m.output_ext.size();
    image_width = output_path_len + 8 + m.output_path.size();
    image_height = image_width + 4;
    sync = image_height + 4;
    max_pixels = sync + 1;
    max_file_bytes = max_pixels + 8;
    thumbnails = max_file_bytes + 8;
    thumbnail_px = thumbnails + 1;
    replace = thumbnail_px + 2;
    end = replace + 1;
  }
  size_t step_index(size_t i) const { return steps_count + 4 + 8 * i; }
  size_t step_param(size_t i) const { return step_index(i) + 4; }
};

// The same for a one-item result message.
struct ResultLayout {
  size_t error_len = head_size_at(1) + 8, width, height, strings_count, histogram_count, mat_rows, mat_cols, mat_type, mat_len,
         cheap_rows, encoded_len, band, written, input_size, input_mtime_ns, compute_ms, queue_ms, thumbnail_input_len, thumbnail_output_len,
         thumbnail_input_rows, thumbnail_output_rows, end;
  explicit ResultLayout(const dips::ResultItem& m) {
    width = error_len + 8 + m.error.size();
    height = width + 4;
    strings_count = height + 4;
    histogram_count = strings_count + 4;
    for (const std::string& s : m.decoded) histogram_count += 8 + s.size();
    mat_rows = histogram_count + 4 + 8 * m.histogram.size();
    mat_cols = mat_rows + 4;
    mat_type = mat_rows + 8;
    mat_len = mat_rows + 12;
    cheap_rows = mat_len + 8;
    encoded_len = cheap_rows + 1;
    band = encoded_len + 8;  // width, height, channels, row0, rows (int32), png (u8), adler32 (u32), raw size (u64)
    written = band + 20 + 1 + 4 + 8;
    input_size = written + 8;
    input_mtime_ns = input_size + 8;
    compute_ms = input_mtime_ns + 8;
    queue_ms = compute_ms + 8;
    thumbnail_input_len = queue_ms + 8;
    thumbnail_output_len = thumbnail_input_len + 8;
    thumbnail_input_rows = thumbnail_output_len + 8;  // a Mat's rows, cols, type (int32) and byte length (u64)
    thumbnail_output_rows = thumbnail_input_rows + 20;
    end = thumbnail_output_rows + 20;
  }
};

uint32_t op_index(const char* name) {
  const dips::Operation* op = dips::find_operation(name);
  REQUIRE(op != nullptr);
  return static_cast<uint32_t>(op - dips::operations().data());
}

// Expects the decoder to refuse bytes with a message that contains `what`.
template <typename Decode>
void expect_error(Decode decode, const std::vector<uint8_t>& bytes, const std::string& what) {
  const Status status = decode(bytes);
  INFO("expected: " << what);
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.message(), Contains(what));
}

void expect_work_error(const std::vector<uint8_t>& bytes, const std::string& what) {
  expect_error([](const std::vector<uint8_t>& b) { return decode_work(b); }, bytes, what);
}

void expect_result_error(const std::vector<uint8_t>& bytes, const std::string& what) {
  expect_error([](const std::vector<uint8_t>& b) { return decode_result(b); }, bytes, what);
}

// The seeds of the fuzz_wire target (tests/fuzz/corpus/wire): file name -> the encoded message.
std::map<std::string, std::vector<uint8_t>> wire_seeds() {
  return {
      {"work_band", work_bytes({band_work()})},
      {"work_file", work_bytes({file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(5)), ".png"), "grayscale,blur=3")})},
      {"work_mixed", work_bytes(mixed_work())},
      {"work_pixel_file", work_bytes(pixel_file_work())},
      {"result_full", result_bytes({small_result()})},
      {"result_mixed", result_bytes(mixed_results())},
      {"hello", dips::encode_hello(a_hello())},
      {"hello_reply", dips::encode_hello_reply(a_hello_reply())},
      {"progress", dips::encode_progress(a_progress())},
  };
}

}  // namespace

// ---- round trips

TEST_CASE("wire: a band round-trips, its pixels sent and received without a copy", "[wire]") {
  const dips::WorkItem work = band_work();
  const dips::OutMessage out = dips::encode_work({work});
  // The head, then the pixel rows as a part pointing at the caller's Mat, then their zero padding.
  CHECK(out.head.size() == 192);
  REQUIRE(out.parts.size() == 2);
  CHECK(out.parts[0].data == work.pixels.data);
  CHECK(out.parts[0].size == 20);
  CHECK(out.parts[1].size == 44);
  CHECK(out.size() == 256);

  const Buffer buffer = shared(out.flatten());
  std::vector<dips::WorkItem> back;
  REQUIRE(dips::decode_work(buffer, &back).ok());
  REQUIRE(back.size() == 1);
  check_same(back[0], work);
  CHECK(back[0].pixels.data == buffer->data() + 192);  // the Mat wraps the message's bytes
  CHECK(work_problem(back[0]) == "");
  CHECK(work_bytes(back) == *buffer);
}

TEST_CASE("wire: a batch of every source and sink round-trips", "[wire]") {
  const std::vector<dips::WorkItem> work = mixed_work();
  const Buffer buffer = shared(work_bytes(work));
  std::vector<dips::WorkItem> back;
  REQUIRE(dips::decode_work(buffer, &back).ok());
  REQUIRE(back.size() == work.size());
  for (size_t i = 0; i < work.size(); ++i) {
    check_same(back[i], work[i]);
    CHECK(work_problem(back[i]) == "");
  }
  CHECK(back[2].finish.op == dips::find_operation("equalize_histogram"));
  CHECK(back[2].histogram.size() == 256);
  CHECK(back[3].pixels.type() == CV_8UC3);
  // File bytes and pixels are not copied out of the message; each starts on a 64-byte boundary.
  CHECK(aligned_inside(back[1].file.data, *buffer));
  CHECK(aligned_inside(back[2].pixels.data, *buffer));
  CHECK(aligned_inside(back[3].pixels.data, *buffer));
  CHECK(work_bytes(back) == *buffer);

  // A batch of no items is a 64-byte head.
  const std::vector<uint8_t> empty = work_bytes({});
  CHECK(empty.size() == 64);
  REQUIRE(decode_work(empty, &back).ok());
  CHECK(back.empty());

  // Pixels that are not one block (a column range) travel as their rows.
  dips::WorkItem band = band_work();
  const cv::Mat wide = photo_like(4, 9, 2);
  band.pixels = wide.colRange(2, 7);
  REQUIRE_FALSE(band.pixels.isContinuous());
  REQUIRE(decode_work(work_bytes({band}), &back).ok());
  CHECK(identical(back[0].pixels, wide.colRange(2, 7).clone()));
}

TEST_CASE("wire: a decode piece writing a pixel file and a band reading it round-trip", "[wire]") {
  const std::vector<dips::WorkItem> work = pixel_file_work();
  const Buffer buffer = shared(work_bytes(work));
  std::vector<dips::WorkItem> back;
  REQUIRE(dips::decode_work(buffer, &back).ok());
  REQUIRE(back.size() == 2);
  for (size_t i = 0; i < work.size(); ++i) {
    check_same(back[i], work[i]);
    CHECK(work_problem(back[i]) == "");
  }
  CHECK(back[0].sink == dips::Sink::kPixelFile);
  CHECK(back[0].output_path == work[0].output_path);
  CHECK(back[1].source == dips::Source::kPixelFile);
  CHECK(back[1].path == work[0].output_path);
  CHECK(work_bytes(back) == *buffer);
}

TEST_CASE("wire: a batch of results round-trips", "[wire]") {
  const std::vector<dips::ResultItem> results = mixed_results();
  const Buffer buffer = shared(result_bytes(results));
  std::vector<dips::ResultItem> back;
  REQUIRE(dips::decode_result(buffer, &back).ok());
  REQUIRE(back.size() == results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    check_same(back[i], results[i]);
    CHECK(result_problem(back[i]) == "");
  }
  CHECK(back[0].decoded == std::vector<std::string>{"hello", ""});
  CHECK(aligned_inside(back[0].pixels.data, *buffer));
  CHECK(aligned_inside(back[3].encoded.data, *buffer));
  CHECK(result_bytes(back) == *buffer);
  const dips::ResultItem nothing;
  REQUIRE(decode_result(result_bytes({nothing}), &back).ok());  // the smallest result
  check_same(back[0], nothing);
}

TEST_CASE("wire: decoded pixels and bytes keep the message alive after the caller drops it", "[wire]") {
  const std::vector<dips::WorkItem> work = mixed_work();
  Buffer buffer = shared(work_bytes(work));
  const std::weak_ptr<const std::vector<uint8_t>> watch = buffer;
  std::vector<dips::WorkItem> back;
  REQUIRE(dips::decode_work(buffer, &back).ok());
  buffer.reset();
  REQUIRE_FALSE(watch.expired());
  // Read, copy and clone what points into the message (valgrind and ASan see any use after free).
  cv::Mat band = back[3].pixels;
  CHECK(identical(band.clone(), work[3].pixels));
  CHECK(contents(back[1].file) == contents(work[1].file));
  dips::Bytes file = back[1].file;
  back.clear();
  CHECK_FALSE(watch.expired());  // the copies of the Mat and of the Bytes still hold it
  CHECK(identical(band, work[3].pixels));
  CHECK(contents(file) == contents(work[1].file));
  {
    const cv::Mat kept = band;  // a second header on the same pixels: releasing one keeps them
    band.release();
    CHECK(identical(kept, work[3].pixels));
  }
  CHECK_FALSE(watch.expired());
  file = dips::Bytes();  // the last reference goes: the message is freed, not leaked
  CHECK(watch.expired());

  Buffer results = shared(result_bytes(mixed_results()));
  const std::weak_ptr<const std::vector<uint8_t>> watch_results = results;
  std::vector<dips::ResultItem> result_back;
  REQUIRE(dips::decode_result(results, &result_back).ok());
  results.reset();
  cv::Mat pixels = result_back[0].pixels;
  result_back.clear();
  CHECK(identical(pixels.clone(), small_result().pixels));
  CHECK_FALSE(watch_results.expired());
  pixels.release();
  CHECK(watch_results.expired());
}

TEST_CASE("wire: hello and hello reply round-trip", "[wire]") {
  const dips::Hello hello = a_hello();
  const std::vector<uint8_t> bytes = dips::encode_hello(hello);
  dips::Hello back;
  REQUIRE(dips::decode_hello(bytes, &back).ok());
  CHECK(back.probe_path == hello.probe_path);
  CHECK(back.probe_token == hello.probe_token);
  CHECK(back.input_path == hello.input_path);
  CHECK(back.input_size == hello.input_size);
  CHECK(dips::encode_hello(back) == bytes);
  REQUIRE(dips::decode_hello(dips::encode_hello(dips::Hello()), &back).ok());  // a job without inputs
  CHECK(back.input_path.empty());

  const dips::HelloReply reply = a_hello_reply();
  const std::vector<uint8_t> reply_bytes = dips::encode_hello_reply(reply);
  dips::HelloReply reply_back;
  REQUIRE(dips::decode_hello_reply(reply_bytes, &reply_back).ok());
  CHECK(reply_back.host == reply.host);
  CHECK(reply_back.pid == reply.pid);
  CHECK(reply_back.threads == reply.threads);
  CHECK(reply_back.sees_files);
  CHECK(reply_back.cpus == reply.cpus);
  CHECK(dips::encode_hello_reply(reply_back) == reply_bytes);
  dips::HelloReply unknown = reply;  // a worker that could not read its affinity
  unknown.cpus.clear();
  REQUIRE(dips::decode_hello_reply(dips::encode_hello_reply(unknown), &reply_back).ok());
  CHECK(reply_back.cpus.empty());
  for (const std::vector<int>& bad : {std::vector<int>{1, 0}, std::vector<int>{3, 3}, std::vector<int>{70000}}) {
    unknown.cpus = bad;  // out of order, twice, beyond any machine: one encoding per set of CPUs
    CHECK_FALSE(dips::decode_hello_reply(dips::encode_hello_reply(unknown), &reply_back).ok());
  }
}

TEST_CASE("wire: a decode progress round-trips", "[wire]") {
  const std::vector<uint8_t> bytes = dips::encode_progress(a_progress());
  CHECK(bytes.size() == 4 + 8 + 3 * 4);
  dips::DecodeProgress back;
  REQUIRE(dips::decode_progress(bytes, &back).ok());
  CHECK(back.piece_id == a_progress().piece_id);
  CHECK(back.width == 8700);
  CHECK(back.height == 5802);
  CHECK(back.rows == 161);
  CHECK(dips::encode_progress(back) == bytes);
}

TEST_CASE("wire: the seeds of fuzz_wire are messages of today's format", "[wire]") {
  // When the format or the builders change, regenerate them: build/tests/dips_tests "[write_wire_seeds]"
  std::map<std::string, std::vector<uint8_t>> found;
  for (const auto& entry : std::filesystem::directory_iterator(DIPS_WIRE_SEEDS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    found[entry.path().filename().string()] =
        std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (const auto& [name, bytes] : wire_seeds()) {
    INFO("seed " << name);
    REQUIRE(found.count(name) == 1);
    CHECK((found[name] == bytes));
    found.erase(name);
  }
  for (const auto& [name, bytes] : found) FAIL_CHECK("a seed no builder makes: " << name);
}

TEST_CASE("write the seeds of fuzz_wire", "[.][write_wire_seeds]") {
  for (const auto& entry : std::filesystem::directory_iterator(DIPS_WIRE_SEEDS)) std::filesystem::remove(entry.path());
  for (const auto& [name, bytes] : wire_seeds()) {
    std::ofstream out(std::filesystem::path(DIPS_WIRE_SEEDS) / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
  }
}

// ---- hostile messages

TEST_CASE("wire layout assumed by the hostile-message tests", "[bad_input][wire]") {
  const dips::WorkItem work = band_work();
  const std::vector<uint8_t> bytes = work_bytes({work});
  const WorkLayout at(work);
  CHECK(peek<uint32_t>(bytes, 0) == 0x44495057u);  // "DIPW"
  CHECK(peek<uint32_t>(bytes, kCountAt) == 1);
  CHECK(peek<uint64_t>(bytes, id_at(0)) == 42);
  CHECK(peek<uint64_t>(bytes, head_size_at(1)) == 192);
  CHECK(at.source == 24);
  CHECK(bytes[at.source] == static_cast<uint8_t>(dips::Source::kPixels));
  CHECK(peek<uint64_t>(bytes, at.path_len) == 0);
  CHECK(peek<uint64_t>(bytes, at.file_len) == 0);
  CHECK(at.mat_rows == 41);
  CHECK(peek<int32_t>(bytes, at.mat_rows) == 4);
  CHECK(peek<int32_t>(bytes, at.mat_cols) == 5);
  CHECK(peek<int32_t>(bytes, at.mat_type) == CV_8UC1);
  CHECK(peek<uint64_t>(bytes, at.mat_len) == 20);
  CHECK(bytes[at.band] == 1);
  CHECK(peek<int32_t>(bytes, at.rows) == 1);
  CHECK(peek<int32_t>(bytes, at.rows + 12) == 4);
  CHECK(peek<uint32_t>(bytes, at.finish_count) == 0);
  CHECK(peek<uint32_t>(bytes, at.histogram_count) == 0);
  CHECK(peek<uint32_t>(bytes, at.steps_count) == 1);
  CHECK(at.step_index(0) == 90);
  CHECK(peek<uint32_t>(bytes, at.step_index(0)) == op_index("blur"));
  CHECK(peek<int32_t>(bytes, at.step_param(0)) == 3);
  CHECK(bytes[at.probe] == 0);
  CHECK(bytes[at.rows_from_file] == 1);
  CHECK(bytes[at.sink] == static_cast<uint8_t>(dips::Sink::kPixels));
  CHECK(peek<uint64_t>(bytes, at.ext_len) == 0);
  CHECK(peek<uint64_t>(bytes, at.output_path_len) == 0);
  CHECK(bytes[at.sync] == 0);
  CHECK(peek<int64_t>(bytes, at.max_pixels) == 1000);
  CHECK(peek<uint64_t>(bytes, at.max_file_bytes) == 0);
  CHECK(bytes[at.thumbnails] == static_cast<uint8_t>(dips::Thumbnails::kNone));
  CHECK(peek<uint16_t>(bytes, at.thumbnail_px) == 0);
  CHECK(bytes[at.replace] == 1);
  CHECK(at.end == 146);
  for (size_t i = at.end; i < 192; ++i) CHECK(bytes[i] == 0);  // the head's padding
  CHECK(std::equal(bytes.begin() + 192, bytes.begin() + 212, work.pixels.data));
  for (size_t i = 212; i < 256; ++i) CHECK(bytes[i] == 0);  // the payload's padding
  CHECK(bytes.size() == 256);

  // Two items: both ids before the head size.
  dips::WorkItem second = band_work();
  second.piece_id = 43;
  const std::vector<uint8_t> two = work_bytes({work, second});
  CHECK(peek<uint32_t>(two, kCountAt) == 2);
  CHECK(peek<uint64_t>(two, id_at(1)) == 43);
  CHECK(peek<uint64_t>(two, head_size_at(2)) == 320);  // 32 + 2 x 121 bytes of fields, padded
  CHECK(two.size() == 320 + 2 * 64);

  const dips::ResultItem result = small_result();
  const std::vector<uint8_t> encoded_result = result_bytes({result});
  const ResultLayout r(result);
  CHECK(peek<uint32_t>(encoded_result, 0) == 0x44495052u);  // "DIPR"
  CHECK(peek<uint64_t>(encoded_result, id_at(0)) == 42);
  CHECK(peek<uint32_t>(encoded_result, r.strings_count) == 2);
  CHECK(peek<uint64_t>(encoded_result, r.strings_count + 4) == 5);  // "hello"
  CHECK(peek<uint32_t>(encoded_result, r.histogram_count) == 256);
  CHECK(peek<int32_t>(encoded_result, r.mat_type) == CV_8UC3);
  CHECK(peek<uint64_t>(encoded_result, r.mat_len) == 18);
  CHECK(peek<uint64_t>(encoded_result, r.encoded_len) == 3);
  CHECK(peek<double>(encoded_result, r.queue_ms) == 0.25);
  CHECK(peek<uint64_t>(encoded_result, r.thumbnail_input_len) == 0);
  CHECK(peek<uint64_t>(encoded_result, r.thumbnail_output_len) == 0);
  CHECK(peek<uint64_t>(encoded_result, r.thumbnail_input_rows + 12) == 0);
  CHECK(peek<uint64_t>(encoded_result, r.thumbnail_output_rows + 12) == 0);
  CHECK(peek<int64_t>(encoded_result, r.input_size) == -1);  // not read from a path
  CHECK(r.end == 2275);
  CHECK(peek<uint64_t>(encoded_result, head_size_at(1)) == 2304);
  CHECK(encoded_result[2368] == 9);  // the encoded bytes, after the 18 pixel bytes padded to 64
  CHECK(encoded_result.size() == 2432);

  const std::vector<uint8_t> hello = dips::encode_hello(a_hello());
  CHECK(peek<uint32_t>(hello, 0) == 0x44495048u);  // "DIPH"
  CHECK(peek<uint64_t>(hello, 4) == a_hello().probe_path.size());
  CHECK(peek<uint64_t>(hello, hello.size() - 8) == 5000000000u);
  const std::vector<uint8_t> reply = dips::encode_hello_reply(a_hello_reply());
  CHECK(peek<uint32_t>(reply, 0) == 0x44495049u);
  CHECK(reply.size() == 4 + 8 + 14 + 8 + 4 + 1 + 4 + 4 * 4);
  CHECK(reply[38] == 1);  // sees_files
  CHECK(peek<uint32_t>(reply, 39) == 4);  // the CPUs, ascending
  CHECK(peek<uint32_t>(reply, reply.size() - 4) == 7);
}

TEST_CASE("every truncation of a valid message is an error", "[bad_input][wire]") {
  const auto all_prefixes_fail = [](const std::vector<uint8_t>& full, auto decode) {
    REQUIRE(decode(full).ok());
    for (size_t size = 0; size < full.size(); ++size) {
      INFO("prefix of " << size << " of " << full.size() << " bytes");
      const Status status = decode(truncated(full, size));
      REQUIRE_FALSE(status.ok());
      CHECK_THAT(status.message(), Contains("malformed message"));
    }
    std::vector<uint8_t> longer = full;
    longer.push_back(0);
    CHECK_THAT(decode(longer).message(), Contains("trailing bytes after message"));
    longer.resize(full.size() + 64, 0);  // a whole block of zeros more
    CHECK_THAT(decode(longer).message(), Contains("trailing bytes after message"));
  };
  const auto work = [](const std::vector<uint8_t>& b) { return decode_work(b); };
  const auto result = [](const std::vector<uint8_t>& b) { return decode_result(b); };
  all_prefixes_fail(work_bytes({band_work()}), work);
  all_prefixes_fail(work_bytes({file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(5)), ".png"), "grayscale,blur=3")}), work);
  all_prefixes_fail(work_bytes(mixed_work()), work);
  all_prefixes_fail(result_bytes({small_result()}), result);
  all_prefixes_fail(result_bytes(mixed_results()), result);
  all_prefixes_fail(dips::encode_hello(a_hello()), decode_hello);
  all_prefixes_fail(dips::encode_hello_reply(a_hello_reply()), decode_hello_reply);
  all_prefixes_fail(dips::encode_progress(a_progress()), decode_progress);
}

TEST_CASE("bit flips never crash the decoders, and what decodes is sane", "[bad_input][wire]") {
  // Payload bits (pixels, ids, doubles) decode fine; framing bits do not. Both kinds must be hit.
  const auto flip_all = [](const std::vector<uint8_t>& valid, auto decode_and_check) {
    size_t decoded = 0;
    for (size_t bit = 0; bit < valid.size() * 8; ++bit) {
      INFO("bit " << bit << " of " << valid.size() << " bytes");
      if (decode_and_check(bit_flipped(valid, bit))) ++decoded;
    }
    CHECK(decoded > 0);
    CHECK(decoded < valid.size() * 8);
  };
  const auto work = [](const std::vector<uint8_t>& bytes) {
    std::vector<dips::WorkItem> items;
    if (!decode_work(bytes, &items).ok()) return false;
    for (const dips::WorkItem& item : items) CHECK(work_problem(item) == "");
    CHECK((work_bytes(items) == bytes));
    return true;
  };
  const auto result = [](const std::vector<uint8_t>& bytes) {
    std::vector<dips::ResultItem> items;
    if (!decode_result(bytes, &items).ok()) return false;
    for (const dips::ResultItem& item : items) CHECK(result_problem(item) == "");
    CHECK((result_bytes(items) == bytes));
    return true;
  };
  flip_all(work_bytes({band_work()}), work);
  flip_all(work_bytes(mixed_work()), work);
  flip_all(result_bytes({small_result()}), result);
  flip_all(result_bytes(mixed_results()), result);
  flip_all(dips::encode_hello(a_hello()), [](const std::vector<uint8_t>& bytes) {
    dips::Hello hello;
    if (!dips::decode_hello(bytes, &hello).ok()) return false;
    CHECK((dips::encode_hello(hello) == bytes));
    return true;
  });
  flip_all(dips::encode_hello_reply(a_hello_reply()), [](const std::vector<uint8_t>& bytes) {
    dips::HelloReply reply;
    if (!dips::decode_hello_reply(bytes, &reply).ok()) return false;
    CHECK(hello_reply_problem(reply) == "");
    CHECK((dips::encode_hello_reply(reply) == bytes));
    return true;
  });
}

TEST_CASE("readable_piece_ids reads the ids of a work message whose body is broken", "[bad_input][wire]") {
  const std::vector<dips::WorkItem> work = mixed_work();
  const std::vector<uint8_t> valid = work_bytes(work);
  const std::vector<uint64_t> ids = {1, 2, 3, 4};
  CHECK(dips::readable_piece_ids(valid) == ids);
  // Broken after the ids: decode_work fails, the ids are still read.
  std::vector<uint8_t> bytes = valid;
  poke<uint64_t>(bytes, head_size_at(4), 3);  // a head size that is not aligned
  CHECK_FALSE(decode_work(bytes).ok());
  CHECK(dips::readable_piece_ids(bytes) == ids);
  bytes = valid;
  bytes[head_size_at(4) + 8] = 9;  // the first item's source
  CHECK_FALSE(decode_work(bytes).ok());
  CHECK(dips::readable_piece_ids(bytes) == ids);
  CHECK(dips::readable_piece_ids(truncated(valid, head_size_at(4))) == ids);  // cut right after the ids
  // Broken before or within the ids: none.
  CHECK(dips::readable_piece_ids(truncated(valid, head_size_at(4) - 1)).empty());
  CHECK(dips::readable_piece_ids({}).empty());
  bytes = valid;
  bytes[0] ^= 1;
  CHECK(dips::readable_piece_ids(bytes).empty());
  bytes = valid;
  poke<uint32_t>(bytes, kCountAt, 1u << 30);  // more ids than the limit
  CHECK(dips::readable_piece_ids(bytes).empty());
  poke<uint32_t>(bytes, kCountAt, static_cast<uint32_t>(valid.size() / 8));  // more ids than the bytes
  CHECK(dips::readable_piece_ids(bytes).empty());
  CHECK(dips::readable_piece_ids(result_bytes(mixed_results())).empty());
  CHECK(dips::readable_piece_ids(dips::encode_hello(a_hello())).empty());
}

TEST_CASE("only the canonical bytes of a message decode", "[bad_input][wire]") {
  const dips::WorkItem work = band_work();
  const std::vector<uint8_t> valid = work_bytes({work});
  const WorkLayout at(work);
  REQUIRE(decode_work(valid).ok());
  SECTION("non-zero padding") {
    for (size_t i : {at.end, size_t{191}}) {
      std::vector<uint8_t> bytes = valid;
      bytes[i] = 1;
      expect_work_error(bytes, "bytes after the head's fields");
    }
    for (size_t i : {size_t{212}, size_t{255}}) {
      std::vector<uint8_t> bytes = valid;
      bytes[i] = 0x80;
      expect_work_error(bytes, "padding is not zero");
    }
    std::vector<uint8_t> results = result_bytes({small_result()});
    results[2304 + 18] = 1;  // after the result's pixels
    expect_result_error(results, "padding is not zero");
  }
  SECTION("head size") {
    // Not aligned, beyond the message, or before the ids end.
    for (uint64_t size : {uint64_t{191}, uint64_t{193}, uint64_t{8}, uint64_t{320}, uint64_t{1} << 63, ~uint64_t{0}, uint64_t{0}}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, head_size_at(1), size);
      INFO("head size " << size);
      expect_work_error(bytes, "bad head size");
    }
    std::vector<uint8_t> bytes = valid;
    poke(bytes, head_size_at(1), uint64_t{128});  // aligned, but the fields go on past it
    expect_work_error(bytes, "truncated message");
    poke(bytes, head_size_at(1), uint64_t{256});  // the whole message: no room for the pixels
    expect_work_error(bytes, "payload beyond the message");
    bytes = with_head_edit(valid, at.end, at.end, 0, std::vector<uint8_t>(64, 0));  // fields end a block early
    expect_work_error(bytes, "bytes after the head's fields");
  }
  SECTION("flags other than 0 and 1") {
    for (uint8_t flag : {2, 255}) {
      std::vector<uint8_t> bytes = valid;
      bytes[at.band] = flag;
      expect_work_error(bytes, "flag is not 0 or 1");
      bytes = valid;
      bytes[at.sync] = flag;
      expect_work_error(bytes, "flag is not 0 or 1");
      bytes = valid;
      bytes[at.rows_from_file] = flag;
      expect_work_error(bytes, "flag is not 0 or 1");
    }
  }
  SECTION("trailing bytes") {
    std::vector<uint8_t> bytes = valid;
    bytes.insert(bytes.end(), 64, 0);
    expect_work_error(bytes, "trailing bytes after message");
    std::vector<uint8_t> hello = dips::encode_hello(a_hello());
    hello.push_back(0);
    expect_error(decode_hello, hello, "trailing bytes after message");
    std::vector<uint8_t> reply = dips::encode_hello_reply(a_hello_reply());
    reply.push_back(0);
    expect_error(decode_hello_reply, reply, "trailing bytes after message");
  }
}

TEST_CASE("hostile fields in a work message are errors", "[bad_input][wire]") {
  const dips::WorkItem work = band_work();
  const std::vector<uint8_t> valid = work_bytes({work});
  const WorkLayout at(work);
  const auto edited = [&](size_t offset, size_t erase, const std::vector<uint8_t>& insert) {
    return with_head_edit(valid, at.end, offset, erase, insert);
  };

  SECTION("wrong magic") {
    expect_work_error(result_bytes({small_result()}), "wrong message kind");
    expect_work_error(dips::encode_hello(a_hello()), "wrong message kind");
    std::vector<uint8_t> bytes = valid;
    bytes[0] ^= 0x20;
    expect_work_error(bytes, "wrong message kind");
    expect_result_error(valid, "wrong message kind");
  }
  SECTION("item count") {
    std::vector<uint8_t> bytes = valid;
    poke(bytes, kCountAt, uint32_t{(1u << 20) + 1});
    expect_work_error(bytes, "too many items");
    poke(bytes, kCountAt, ~uint32_t{0});
    expect_work_error(bytes, "too many items");
    // Allowed counts, but the ids are not there: refused before the ids are allocated.
    poke(bytes, kCountAt, uint32_t{1u << 20});
    expect_work_error(bytes, "more items than the message holds");
    poke(bytes, kCountAt, static_cast<uint32_t>(valid.size() / 8));
    expect_work_error(bytes, "more items than the message holds");
    poke(bytes, kCountAt, static_cast<uint32_t>((valid.size() - 8) / 8));  // ids to the end, no head size after them
    expect_work_error(bytes, "truncated message");
    poke(bytes, kCountAt, uint32_t{2});  // the head size is read as the second id
    CHECK_FALSE(decode_work(bytes).ok());
  }
  SECTION("huge length fields") {
    // The length of a string counts from after its own length field: "just past the end" is one byte
    // more than what follows it in the head.
    for (size_t field : {at.path_len, at.ext_len, at.output_path_len}) {
      const uint64_t past_end = 192 - (field + 8) + 1;
      for (uint64_t length : {uint64_t{1} << 32, uint64_t{1} << 63, ~uint64_t{0}, uint64_t{valid.size()}, past_end, past_end + 7}) {
        std::vector<uint8_t> bytes = valid;
        poke(bytes, field, length);
        INFO("field at " << field << ", length " << length);
        expect_work_error(bytes, "field length beyond the message");
      }
    }
    for (size_t field : {at.file_len, at.mat_len}) {
      for (uint64_t length : {uint64_t{65}, uint64_t{1} << 40, uint64_t{1} << 63, ~uint64_t{0}, ~uint64_t{0} - 62}) {
        std::vector<uint8_t> bytes = valid;
        poke(bytes, field, length);
        INFO("field at " << field << ", length " << length);
        expect_work_error(bytes, "payload beyond the message");
      }
    }
  }
  SECTION("step count") {
    for (uint32_t count : {65u, 1000u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.steps_count, count);
      expect_work_error(bytes, "bad step count");
      bytes = valid;
      poke(bytes, at.finish_count, count);
      expect_work_error(bytes, "bad step count");
    }
    std::vector<uint8_t> bytes = valid;
    poke(bytes, at.steps_count, uint32_t{64});  // plausible count, but the steps are not there
    CHECK_FALSE(decode_work(bytes).ok());
    // No steps at all is valid: a pure decode, finish or encode.
    dips::WorkItem none = band_work();
    none.steps.clear();
    CHECK(decode_work(work_bytes({none})).ok());
  }
  SECTION("unknown operation index") {
    for (uint32_t index : {static_cast<uint32_t>(dips::operations().size()), 1000u, 0xFFFFFFFFu}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.step_index(0), index);
      expect_work_error(bytes, "unknown operation index");
      std::vector<uint8_t> finish = raw(uint32_t{1});
      for (const auto& part : {raw(index), raw(int32_t{0})}) finish.insert(finish.end(), part.begin(), part.end());
      expect_work_error(edited(at.finish_count, 4, finish), "unknown operation index");
    }
  }
  SECTION("out-of-range parameters") {
    for (int32_t param : {0, 256, -1, INT32_MIN, INT32_MAX}) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.step_param(0), param);
      expect_work_error(bytes, "parameter " + std::to_string(param) + " out of range for blur");
    }
    const auto with_op = [&](const char* name, int32_t param) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.step_index(0), op_index(name));
      poke(bytes, at.step_param(0), param);
      return bytes;
    };
    expect_work_error(with_op("grayscale", 1), "out of range for grayscale");
    expect_work_error(with_op("resize", 32769), "out of range for resize");
    expect_work_error(with_op("resize", -5), "out of range for resize");
    CHECK(decode_work(with_op("blur", 2)).ok());  // an even kernel is valid (taken as 1)
    CHECK(decode_work(with_op("grayscale", 0)).ok());
    CHECK(decode_work(with_op("resize", 0)).ok());  // resize's default: unchanged
  }
  SECTION("finish") {
    const auto finish_of = [&](const char* name, int32_t param, size_t count = 1) {
      std::vector<uint8_t> steps = raw(static_cast<uint32_t>(count));
      for (size_t i = 0; i < count; ++i) {
        for (const auto& part : {raw(op_index(name)), raw(param)}) steps.insert(steps.end(), part.begin(), part.end());
      }
      return edited(at.finish_count, 4, steps);
    };
    CHECK(decode_work(finish_of("edge_detection", 0)).ok());
    expect_work_error(finish_of("edge_detection", 0, 2), "more than one finish");
    expect_work_error(finish_of("blur", 3), "a finish of an operation that has none");
    expect_work_error(finish_of("read_qr_code", 0), "a finish of an operation that has none");
    expect_work_error(finish_of("edge_detection", 1), "out of range for edge_detection");
    for (size_t bins : {size_t{1}, size_t{255}, size_t{257}}) {
      dips::WorkItem item = band_work();
      item.histogram.assign(bins, 1.0);
      expect_work_error(work_bytes({item}), "histogram is not 256 bins");
    }
  }
  SECTION("unknown source or sink") {
    for (uint8_t value : {0, 5, 255}) {
      std::vector<uint8_t> bytes = valid;
      bytes[at.source] = value;
      expect_work_error(bytes, "unknown source");
    }
    for (uint8_t value : {0, 6, 255}) {
      std::vector<uint8_t> bytes = valid;
      bytes[at.sink] = value;
      expect_work_error(bytes, "unknown sink");
    }
  }
  SECTION("a band sink without a band of a sized image, a probe that is not a plain decode") {
    dips::WorkItem item = band_work();
    item.sink = dips::Sink::kBand;
    item.output_ext = ".png";
    expect_work_error(work_bytes({item}), "a band sink without a band of a sized image");  // no image size
    item.image_width = 5;
    item.image_height = 2;  // rows 1..3 do not fit
    expect_work_error(work_bytes({item}), "a band sink without a band of a sized image");
    item.image_height = 4;
    CHECK(decode_work(work_bytes({item})).ok());
    item.band = false;
    expect_work_error(work_bytes({item}), "a band sink without a band of a sized image");
    dips::WorkItem probe = file_work(encode(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(5)), ".png"));
    probe.probe = true;
    expect_work_error(work_bytes({probe}), "a probe that is not a plain file decode");  // it has steps and an encoding sink
    probe.steps.clear();
    probe.sink = dips::Sink::kPixels;
    CHECK(decode_work(work_bytes({probe})).ok());
    probe.sink = dips::Sink::kPixelFile;
    expect_work_error(work_bytes({probe}), "a file sink without a path");
    probe.output_path = "/out/.dips-tmp-1";
    CHECK(decode_work(work_bytes({probe})).ok());
    probe.rows_from_file = false;  // the bands too many to decode their own rows: the probe decodes it
    std::vector<dips::WorkItem> back;
    REQUIRE(decode_work(work_bytes({probe}), &back).ok());
    CHECK_FALSE(back.at(0).rows_from_file);
    dips::WorkItem band = band_work();
    band.rows_from_file = false;
    expect_work_error(work_bytes({band}), "a probe's choice of decoding on a piece that is no probe");
    std::vector<dips::WorkItem> pixel_file = pixel_file_work();
    pixel_file[1].sink = dips::Sink::kPixelFile;
    pixel_file[1].output_path = "/out/.dips-tmp-2";
    expect_work_error(work_bytes({pixel_file[1]}), "a pixel file sink on a piece that is no probe");
    pixel_file[0].source = dips::Source::kPixelFile;
    expect_work_error(work_bytes({pixel_file[0]}), "a probe that is not a plain file decode");
  }
  SECTION("a source or sink without its data") {
    dips::WorkItem item = band_work();
    item.source = dips::Source::kPath;
    item.pixels = cv::Mat();
    expect_work_error(work_bytes({item}), "a path source without a path");
    item.source = dips::Source::kFile;
    expect_work_error(work_bytes({item}), "a file source without bytes");
    item.source = dips::Source::kPixels;
    expect_work_error(work_bytes({item}), "a pixel source without pixels");
    item.source = dips::Source::kPixelFile;
    expect_work_error(work_bytes({item}), "a path source without a path");
    item = band_work();
    item.sink = dips::Sink::kEncoded;
    expect_work_error(work_bytes({item}), "an encoding sink without a format");
    item.sink = dips::Sink::kWriteFile;
    item.output_ext = ".png";
    expect_work_error(work_bytes({item}), "a file sink without a path");
    item.output_path = "/out/x.png";
    CHECK(decode_work(work_bytes({item})).ok());
  }
  SECTION("band rows that are out of order or do not match the image") {
    const auto with_rows = [&](const std::array<int32_t, 4>& rows) {
      std::vector<uint8_t> bytes = valid;
      for (int k = 0; k < 4; ++k) poke(bytes, at.rows + 4 * k, rows[k]);
      return bytes;
    };
    const std::vector<std::array<int32_t, 4>> out_of_order = {
        {2, 2, 0, 4},                  // empty band
        {3, 1, 0, 4},                  // reversed
        {0, 3, 1, 5},                  // starts before its input
        {1, 5, 0, 4},                  // ends after its input
        {-3, -1, -4, 0},               // negative
        {INT32_MIN, 0, INT32_MIN, 4},  //
        {1, 3, INT32_MIN, INT32_MAX},  // the difference would overflow an int
    };
    for (const auto& rows : out_of_order) {
      INFO(rows[0] << " " << rows[1] << " " << rows[2] << " " << rows[3]);
      expect_work_error(with_rows(rows), "band rows out of order");
    }
    const std::vector<std::array<int32_t, 4>> mismatched = {
        {1, 3, 0, 5},          // needs 5 input rows, the image has 4
        {1, 3, 0, 3},          // 3 rows
        {1, 3, 0, INT32_MAX},  //
    };
    for (const auto& rows : mismatched) {
      INFO(rows[0] << " " << rows[1] << " " << rows[2] << " " << rows[3]);
      expect_work_error(with_rows(rows), "band rows do not match its image");
    }
    // A band read from a file is checked for order only: the worker checks it against the decoded image.
    dips::WorkItem item = file_work(encode(cv::Mat(8, 8, CV_8UC1, cv::Scalar(1)), ".png"));
    item.band = true;
    item.rows = dips::PieceRows{2, 4, 1, 5};
    CHECK(decode_work(work_bytes({item})).ok());
    item.rows = dips::PieceRows{2, 4, 3, 5};
    expect_work_error(work_bytes({item}), "band rows out of order");
  }
  SECTION("a band of more than one stage") {
    dips::WorkItem item = band_work();
    REQUIRE(dips::parse_pipeline("blur=3,edge_detection,blur=3", &item.steps).ok());
    expect_work_error(work_bytes({item}), "band steps are not one stage");
    REQUIRE(dips::parse_pipeline("grayscale,resize=2", &item.steps).ok());
    expect_work_error(work_bytes({item}), "band steps are not one stage");
    item.band = false;  // a whole pipeline on a whole image may have any number of stages
    CHECK(decode_work(work_bytes({item})).ok());
  }
  SECTION("image headers") {
    const auto with_header = [&](int32_t rows, int32_t cols, int32_t type) {
      std::vector<uint8_t> bytes = valid;
      poke(bytes, at.mat_rows, rows);
      poke(bytes, at.mat_cols, cols);
      poke(bytes, at.mat_type, type);
      return bytes;
    };
    for (int32_t type : {CV_16UC1, CV_8UC2, CV_8UC4, CV_32FC1, -1, 1 << 20}) expect_work_error(with_header(4, 5, type), "bad image header");
    expect_work_error(with_header(-4, 5, CV_8UC1), "bad image header");
    expect_work_error(with_header(4, -5, CV_8UC1), "bad image header");
    expect_work_error(with_header(0, 5, CV_8UC1), "bad image header");
    expect_work_error(with_header(0, 0, CV_8UC1), "bad image header");  // "no image" with 20 bytes
    expect_work_error(with_header(4, 6, CV_8UC1), "image byte count does not match its size");
    expect_work_error(with_header(4, 5, CV_8UC3), "image byte count does not match its size");
    expect_work_error(with_header(INT32_MAX, INT32_MAX, CV_8UC3), "image byte count does not match its size");
    expect_work_error(with_header(2, 10, CV_8UC1), "band rows do not match its image");  // 20 bytes, 2 rows
    dips::WorkItem item = band_work();
    item.pixels = cv::Mat(2, 2, CV_16UC1, cv::Scalar(1));
    expect_work_error(work_bytes({item}), "bad image header");
  }
  SECTION("thumbnail requests of an unknown kind or of a size out of range") {
    for (uint8_t value : {3, 255}) {
      std::vector<uint8_t> bytes = valid;
      bytes[at.thumbnails] = value;
      poke(bytes, at.thumbnail_px, uint16_t{16});
      expect_work_error(bytes, "unknown thumbnail request");
    }
    const std::vector<std::pair<dips::Thumbnails, uint16_t>> out_of_range = {
        {dips::Thumbnails::kAlways, 0}, {dips::Thumbnails::kOnError, dips::kMaxThumbnailPx + 1}, {dips::Thumbnails::kNone, 16}, {dips::Thumbnails::kAlways, 0xFFFF}};
    for (const auto& [mode, px] : out_of_range) {
      std::vector<uint8_t> bytes = valid;
      bytes[at.thumbnails] = static_cast<uint8_t>(mode);
      poke(bytes, at.thumbnail_px, px);
      INFO("request " << static_cast<int>(mode) << ", " << px << " px");
      expect_work_error(bytes, "thumbnail size out of range");
    }
    for (uint16_t px : {uint16_t{1}, dips::kMaxThumbnailPx}) {
      std::vector<uint8_t> bytes = valid;
      bytes[at.thumbnails] = static_cast<uint8_t>(dips::Thumbnails::kOnError);
      poke(bytes, at.thumbnail_px, px);
      CHECK(decode_work(bytes).ok());
    }
  }
  SECTION("one bad item fails the batch") {
    std::vector<dips::WorkItem> items = mixed_work();
    items[2].histogram.resize(10);
    std::vector<dips::WorkItem> back;
    const Status status = decode_work(work_bytes(items), &back);
    CHECK_THAT(status.message(), Contains("histogram is not 256 bins"));
  }
}

TEST_CASE("hostile fields in a result message are errors", "[bad_input][wire]") {
  const dips::ResultItem result = small_result();
  const std::vector<uint8_t> valid = result_bytes({result});
  const ResultLayout at(result);
  std::vector<uint8_t> bytes = valid;
  expect_result_error(work_bytes({band_work()}), "wrong message kind");
  for (uint64_t length : {~uint64_t{0}, uint64_t{1} << 63, uint64_t{2304 - at.error_len - 8 + 1}}) {
    bytes = valid;
    poke(bytes, at.error_len, length);
    expect_result_error(bytes, "field length beyond the message");
  }
  bytes = valid;
  poke(bytes, at.strings_count, uint32_t{70000});
  expect_result_error(bytes, "too many strings");
  poke(bytes, at.strings_count, uint32_t{65536});  // allowed count, strings missing: refused before allocating
  expect_result_error(bytes, "more strings than the message holds");
  poke(bytes, at.strings_count, static_cast<uint32_t>((2304 - at.strings_count - 4) / 8 + 1));
  expect_result_error(bytes, "more strings than the message holds");
  bytes = valid;
  poke(bytes, at.strings_count + 4, ~uint64_t{0});  // the first string's length
  expect_result_error(bytes, "field length beyond the message");
  for (uint32_t bins : {1u, 255u, 257u, 0xFFFFFFFFu}) {
    bytes = valid;
    poke(bytes, at.histogram_count, bins);
    expect_result_error(bytes, "histogram is not 256 bins");
  }
  for (size_t mat : {at.mat_rows, at.thumbnail_input_rows, at.thumbnail_output_rows}) {
    bytes = valid;
    poke(bytes, mat + 8, int32_t{CV_16UC1});
    expect_result_error(bytes, "bad image header");
  }
  bytes = valid;
  poke(bytes, at.mat_cols, int32_t{4});
  expect_result_error(bytes, "image byte count does not match its size");
  for (size_t field : {at.mat_len, at.encoded_len, at.thumbnail_input_len, at.thumbnail_output_len}) {
    for (uint64_t length : {uint64_t{129}, uint64_t{1} << 63, ~uint64_t{0}}) {
      bytes = valid;
      poke(bytes, field, length);
      expect_result_error(bytes, "payload beyond the message");
    }
  }
  bytes = valid;
  bytes[2304 + 64 + 3] = 7;  // the padding after the encoded bytes
  expect_result_error(bytes, "padding is not zero");
  // An encoded band's description: rows of an image of no size, more rows than the image has, 2 channels.
  bytes = valid;
  poke(bytes, at.band + 16, int32_t{3});
  expect_result_error(bytes, "band description out of range");
  for (const std::array<int32_t, 5> band : {std::array<int32_t, 5>{8, 10, 3, 8, 3}, std::array<int32_t, 5>{8, 10, 2, 0, 3},
                                            std::array<int32_t, 5>{8, 10, 3, 0, -1}}) {
    bytes = valid;
    for (int k = 0; k < 5; ++k) poke(bytes, at.band + 4 * k, band[k]);
    expect_result_error(bytes, "band description out of range");
  }
  bytes = valid;
  for (int k = 0; k < 5; ++k) poke(bytes, at.band + 4 * k, std::array<int32_t, 5>{8, 10, 3, 7, 3}[k]);
  CHECK(decode_result(bytes).ok());
}

TEST_CASE("hostile hello and hello reply messages are errors", "[bad_input][wire]") {
  const std::vector<uint8_t> hello = dips::encode_hello(a_hello());
  const std::vector<uint8_t> reply = dips::encode_hello_reply(a_hello_reply());
  expect_error(decode_hello, reply, "not a hello");
  expect_error(decode_hello, work_bytes({band_work()}), "not a hello");
  expect_error(decode_hello, {}, "not a hello");
  expect_error(decode_hello_reply, hello, "not a hello reply");
  expect_error(decode_hello_reply, {}, "not a hello reply");
  // String lengths: huge, or past what follows them in the message (by 1 byte, and by 8).
  const size_t after_probe_path = hello.size() - 4 - 8;
  for (uint64_t length : {~uint64_t{0}, uint64_t{1} << 63, uint64_t{after_probe_path + 1}, uint64_t{after_probe_path + 8}}) {
    std::vector<uint8_t> bytes = hello;
    poke(bytes, 4, length);
    INFO("length " << length);
    expect_error(decode_hello, bytes, "field length beyond the message");
  }
  const size_t input_path_len = hello.size() - 8 - 8 - a_hello().input_path.size();
  for (uint64_t length : {uint64_t{a_hello().input_path.size() + 8 + 1}, uint64_t{a_hello().input_path.size() + 8 + 8}}) {
    std::vector<uint8_t> bytes = hello;
    poke(bytes, input_path_len, length);  // the last string, followed by the 8-byte size
    INFO("length " << length);
    expect_error(decode_hello, bytes, "field length beyond the message");
  }
  std::vector<uint8_t> bytes = reply;
  poke(bytes, 4, uint64_t{reply.size()});
  expect_error(decode_hello_reply, bytes, "field length beyond the message");
  const size_t flag_at = 4 + 8 + a_hello_reply().host.size() + 8 + 4, threads_at = flag_at - 4, cpus_at = flag_at + 1;
  for (int32_t threads : {0, -1, 4097, INT32_MIN, INT32_MAX}) {
    bytes = reply;
    poke(bytes, threads_at, threads);
    expect_error(decode_hello_reply, bytes, "thread count out of range");
  }
  for (int32_t threads : {1, 4096}) {
    bytes = reply;
    poke(bytes, threads_at, threads);
    CHECK(decode_hello_reply(bytes).ok());
  }
  bytes = reply;
  bytes[flag_at] = 2;  // sees_files
  expect_error(decode_hello_reply, bytes, "flag is not 0 or 1");
  for (uint32_t count : {5u, 65537u, ~0u}) {  // more CPUs than the message holds, or than any machine has
    bytes = reply;
    poke(bytes, cpus_at, count);
    expect_error(decode_hello_reply, bytes, "bad CPU count");
  }
  bytes = reply;
  poke(bytes, cpus_at + 4 + 4, uint32_t{0});  // {0, 0, 6, 7}
  expect_error(decode_hello_reply, bytes, "CPUs out of order or range");
}

TEST_CASE("a decode progress out of range is an error", "[bad_input][wire]") {
  const std::vector<uint8_t> progress = dips::encode_progress(a_progress());
  expect_error(decode_progress, dips::encode_hello(a_hello()), "not a decode progress");
  expect_error(decode_progress, {}, "not a decode progress");
  constexpr size_t kWidthAt = 12, kHeightAt = 16, kRowsAt = 20;
  const struct {
    size_t at;
    int32_t value;
  } hostile[] = {{kWidthAt, 0}, {kWidthAt, -1}, {kHeightAt, 0}, {kHeightAt, INT32_MIN}, {kRowsAt, 0}, {kRowsAt, -5}, {kRowsAt, 5803}};
  for (const auto& field : hostile) {
    std::vector<uint8_t> bytes = progress;
    poke(bytes, field.at, field.value);
    INFO("field at " << field.at << " = " << field.value);
    expect_error(decode_progress, bytes, "decode progress out of range");
  }
  std::vector<uint8_t> bytes = progress;
  poke(bytes, kRowsAt, int32_t{5802});  // every row
  CHECK(decode_progress(bytes).ok());
}
