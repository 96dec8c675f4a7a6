// libFuzzer target: decode_work and decode_result on arbitrary bytes (docs/fuzzing.md).
// Invariants: no crash, hang or sanitizer report; whatever decodes is within the documented limits and
// re-encodes to exactly the same bytes. No image operation is run on a decoded message.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dips/operation.h"
#include "dips/tiling.h"
#include "dips/wire.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void check_work(const dips::WorkMessage& m) {
  check(!m.steps.empty() && m.steps.size() <= 64);
  const auto& ops = dips::operations();
  for (const dips::Step& step : m.steps) {
    check(step.op >= ops.data() && step.op < ops.data() + ops.size());
    int param = 0;
    check(step.param == step.op->param.default_value ||
          dips::parse_param(*step.op, std::to_string(step.param), true, &param).ok());
  }
  check(m.image.empty() || m.image.type() == CV_8UC1 || m.image.type() == CV_8UC3);
  check(m.kind == dips::WorkKind::kFile || m.kind == dips::WorkKind::kBand || m.kind == dips::WorkKind::kEncode);
  if (m.kind == dips::WorkKind::kBand) {
    const dips::PieceRows& r = m.rows;
    check(r.in_row0 >= 0 && r.in_row0 <= r.row0 && r.row0 < r.row1 && r.row1 <= r.in_row1);
    check(r.in_row1 - r.in_row0 == m.image.rows);
    check(dips::plan_stages(m.steps).size() == 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> input(data, data + size);

  dips::WorkMessage work;
  if (dips::decode_work(data, size, &work).ok()) {
    check_work(work);
    check(dips::encode_work(work) == input);
  }

  dips::ResultMessage result;
  if (dips::decode_result(data, size, &result).ok()) {
    check(result.histogram.empty() || result.histogram.size() == 256);
    check(result.decoded.size() <= (1u << 16));
    check(result.image.empty() || result.image.type() == CV_8UC1 || result.image.type() == CV_8UC3);
    check(dips::encode_result(result) == input);
  }
  return 0;
}
