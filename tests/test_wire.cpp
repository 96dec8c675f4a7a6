// wire: encode_work/decode_work and encode_result/decode_result round-trip, and hostile messages (every
// truncation, every bit flip, out-of-range fields) are errors, never a crash or a big allocation.
//
// docs/bad-inputs.md tabulates what dips does with each message tried here (tag [bad_input]).
#include <catch2/catch.hpp>

#include <array>
#include <climits>
#include <string>
#include <vector>

#include "dips/operation.h"
#include "dips/pipeline.h"
#include "dips/tiling.h"
#include "dips/wire.h"
#include "hostile_bytes.h"
#include "test_images.h"

using Catch::Contains;
using dips::Status;
using namespace dips::testing;

TEST_CASE("wire: work and result messages round-trip", "[wire]") {
  using namespace dips;
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
      const Status status = decode_work(truncated(full, size));
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
    const Status status = decode_result(truncated(result, size));
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
    const std::vector<uint8_t> flipped = bit_flipped(work, i);
    dips::WorkMessage m;
    INFO("work bit " << i);
    if (dips::decode_work(flipped.data(), flipped.size(), &m).ok()) {
      ++work_ok;
      check_work_invariants(m);
      CHECK(dips::encode_work(m) == flipped);
    }
  }
  for (size_t i = 0; i < result.size() * 8; ++i) {
    const std::vector<uint8_t> flipped = bit_flipped(result, i);
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
