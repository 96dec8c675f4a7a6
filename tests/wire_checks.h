#pragma once
// What every item that decode_work or decode_result accepts must satisfy, however hostile its bytes were:
// the limits and consistency rules of wire.h. Shared by the unit tests (test_wire.cpp) and the fuzz target
// (fuzz/fuzz_wire.cpp, which has no Catch2), so that both check the same rules. Each function returns the
// first rule the item breaks, or "" when it is sane.
#include <algorithm>
#include <opencv2/core.hpp>
#include <string>

#include "dips/operation.h"
#include "dips/tiling.h"
#include "dips/wire.h"

namespace dips::testing {

inline std::string step_problem(const Step& step) {
  const auto& ops = operations();
  if (std::none_of(ops.begin(), ops.end(), [&](const Operation& op) { return &op == step.op; })) return "an operation not in the table";
  int param = 0;
  const bool valid = step.param == step.op->param.default_value ||
                     parse_param(*step.op, std::to_string(step.param), true, &param).ok();
  return valid ? "" : "parameter " + std::to_string(step.param) + " out of range for " + std::string(step.op->name);
}

inline std::string pixels_problem(const cv::Mat& m) {
  if (m.empty()) return "";
  if (m.type() != CV_8UC1 && m.type() != CV_8UC3) return "pixels neither 8-bit gray nor 8-bit BGR";
  if (m.dims != 2 || m.rows <= 0 || m.cols <= 0 || !m.isContinuous()) return "pixels not one block of rows";
  return "";
}

inline std::string bytes_problem(const Bytes& bytes) {
  if (bytes.size > 0 && (bytes.data == nullptr || bytes.owner == nullptr)) return "bytes without data or owner";
  return "";
}

inline std::string work_problem(const WorkItem& m) {
  if (m.source != Source::kPath && m.source != Source::kFile && m.source != Source::kPixels && m.source != Source::kPixelFile) {
    return "unknown source";
  }
  if (m.sink != Sink::kPixels && m.sink != Sink::kEncoded && m.sink != Sink::kWriteFile && m.sink != Sink::kBand &&
      m.sink != Sink::kPixelFile) {
    return "unknown sink";
  }
  if ((m.source == Source::kPath || m.source == Source::kPixelFile) && m.path.empty()) return "a path source without a path";
  if (m.source == Source::kFile && m.file.empty()) return "a file source without bytes";
  if (m.source == Source::kPixels && m.pixels.empty()) return "a pixel source without pixels";
  if (!bytes_problem(m.file).empty()) return "file " + bytes_problem(m.file);
  if (!pixels_problem(m.pixels).empty()) return pixels_problem(m.pixels);
  if (m.steps.size() > 64) return "more than 64 steps";
  for (const Step& step : m.steps) {
    if (!step_problem(step).empty()) return step_problem(step);
  }
  if (m.finish.op != nullptr) {
    if (!step_problem(m.finish).empty()) return "finish: " + step_problem(m.finish);
    if (m.finish.op->finish == nullptr) return "a finish of an operation that has none";
  }
  if (!m.histogram.empty() && m.histogram.size() != 256) return "a histogram that is not 256 bins";
  if (m.sink != Sink::kPixels && m.sink != Sink::kPixelFile && m.output_ext.empty()) return "an encoding sink without a format";
  if ((m.sink == Sink::kWriteFile || m.sink == Sink::kPixelFile) && m.output_path.empty()) return "a file sink without a path";
  if (m.sink == Sink::kPixelFile && !m.probe) return "a pixel file sink on a piece that is no probe";
  if (!m.rows_from_file && !m.probe) return "a probe's choice of decoding on a piece that is no probe";
  if (m.probe && (m.source == Source::kPixels || m.source == Source::kPixelFile || m.band || !m.steps.empty() ||
                  (m.sink != Sink::kPixels && m.sink != Sink::kPixelFile))) {
    return "a probe that is not a plain file decode";
  }
  if (m.thumbnails != Thumbnails::kNone && m.thumbnails != Thumbnails::kOnError && m.thumbnails != Thumbnails::kAlways) return "unknown thumbnail request";
  if ((m.thumbnails == Thumbnails::kNone) != (m.thumbnail_px == 0) || m.thumbnail_px > kMaxThumbnailPx) return "thumbnail size out of range";
  if (!m.band) return "";
  const PieceRows& r = m.rows;
  if (!(r.in_row0 >= 0 && r.in_row0 <= r.row0 && r.row0 < r.row1 && r.row1 <= r.in_row1)) return "band rows out of order";
  if (m.source == Source::kPixels && r.in_row1 - r.in_row0 != m.pixels.rows) return "band rows do not match its image";
  if (plan_stages(m.steps).size() > 1) return "band steps are not one stage";
  return "";
}

inline std::string result_problem(const ResultItem& m) {
  if (!m.histogram.empty() && m.histogram.size() != 256) return "a histogram that is not 256 bins";
  if (m.decoded.size() > (1u << 16)) return "more than 65536 strings";
  if (!bytes_problem(m.encoded).empty()) return "encoded " + bytes_problem(m.encoded);
  if (!bytes_problem(m.thumbnail_input).empty()) return "thumbnail " + bytes_problem(m.thumbnail_input);
  if (!bytes_problem(m.thumbnail_output).empty()) return "thumbnail " + bytes_problem(m.thumbnail_output);
  if (!pixels_problem(m.thumbnail_input_rows).empty()) return "thumbnail rows: " + pixels_problem(m.thumbnail_input_rows);
  if (!pixels_problem(m.thumbnail_output_rows).empty()) return "thumbnail rows: " + pixels_problem(m.thumbnail_output_rows);
  return pixels_problem(m.pixels);
}

inline std::string hello_reply_problem(const HelloReply& reply) {
  if (reply.threads < 1 || reply.threads > 4096) return "thread count out of range";
  return "";
}

}  // namespace dips::testing
