// libFuzzer target: parse_pipeline on arbitrary text (docs/fuzzing.md).
// Invariants: no crash or sanitizer report; a parsed pipeline is non-empty, its parameters are valid, it
// survives pipeline_text -> parse_pipeline unchanged, and plan_stages covers every step exactly once.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dips/pipeline.h"
#include "dips/tiling.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input that got here
}

bool same(const dips::Pipeline& a, const dips::Pipeline& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].op != b[i].op || a[i].param != b[i].param) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // a pipeline is one short command-line value
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dips::Pipeline pipeline;
  const dips::Status status = dips::parse_pipeline(text, &pipeline);
  if (!status.ok()) {
    check(!status.message().empty());
    return 0;
  }
  check(!pipeline.empty());
  for (const dips::Step& step : pipeline) {
    check(step.op != nullptr && dips::find_operation(step.op->name) == step.op);
    int param = 0;
    check(step.param == step.op->param.default_value ||
          dips::parse_param(*step.op, std::to_string(step.param), true, &param).ok());
  }
  const std::string canonical = dips::pipeline_text(pipeline);
  dips::Pipeline again;
  check(dips::parse_pipeline(canonical, &again).ok());
  check(same(pipeline, again));
  check(dips::pipeline_text(again) == canonical);

  size_t covered = 0;
  for (const dips::Stage& stage : dips::plan_stages(pipeline)) {
    check(!stage.steps.empty());
    check(stage.halo >= 0);
    check(stage.kind != dips::Tiling::kWholeImage || stage.steps.size() == 1);
    covered += stage.steps.size();
  }
  check(covered == pipeline.size());
  return 0;
}
