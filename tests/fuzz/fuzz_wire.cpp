// libFuzzer target: decode_work and decode_result on arbitrary bytes (docs/fuzzing.md).
// Invariants: no crash, hang or sanitizer report; whatever decodes is within the documented limits and
// re-encodes to exactly the same bytes. No image operation is run on a decoded message.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "dips/operation.h"
#include "dips/tiling.h"
#include "dips/wire.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void check_steps(const dips::Pipeline& steps) {
  check(steps.size() <= 64);
  const auto& ops = dips::operations();
  for (const dips::Step& step : steps) {
    check(step.op >= ops.data() && step.op < ops.data() + ops.size());
    int param = 0;
    check(step.param == step.op->param.default_value || dips::parse_param(*step.op, std::to_string(step.param), true, &param).ok());
  }
}

void check_work(const dips::WorkItem& m) {
  check_steps(m.steps);
  check(m.pixels.empty() || m.pixels.type() == CV_8UC1 || m.pixels.type() == CV_8UC3);
  check(m.histogram.empty() || m.histogram.size() == 256);
  if (m.band) {
    const dips::PieceRows& r = m.rows;
    check(r.in_row0 >= 0 && r.in_row0 <= r.row0 && r.row0 < r.row1 && r.row1 <= r.in_row1);
    if (m.source == dips::Source::kPixels) check(r.in_row1 - r.in_row0 == m.pixels.rows);
    check(dips::plan_stages(m.steps).size() <= 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = std::make_shared<const std::vector<uint8_t>>(data, data + size);

  std::vector<dips::WorkItem> work;
  if (dips::decode_work(input, &work).ok()) {
    for (const dips::WorkItem& item : work) check_work(item);
    check(dips::encode_work(work).flatten() == *input);
  }

  std::vector<dips::ResultItem> results;
  if (dips::decode_result(input, &results).ok()) {
    for (const dips::ResultItem& result : results) {
      check(result.histogram.empty() || result.histogram.size() == 256);
      check(result.decoded.size() <= (1u << 16));
      check(result.pixels.empty() || result.pixels.type() == CV_8UC1 || result.pixels.type() == CV_8UC3);
    }
    check(dips::encode_result(results).flatten() == *input);
  }
  return 0;
}
