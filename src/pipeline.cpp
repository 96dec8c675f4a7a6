#include "dips/pipeline.h"

#include <fmt/format.h>

namespace dips {

Status parse_pipeline(std::string_view text, Pipeline* pipeline) {
  pipeline->clear();
  if (text.empty()) return Status::Error("empty pipeline: give at least one operation (dips --list-ops lists them)");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    if (item.empty()) return Status::Error(fmt::format("empty step in pipeline '{}'", text));
    const size_t eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const Operation* op = find_operation(name);
    if (op == nullptr) {
      return Status::Error(fmt::format("unknown operation '{}' (dips --list-ops lists them)", name));
    }
    Step step{op, 0};
    const bool given = eq != std::string_view::npos;
    Status status = parse_param(*op, given ? item.substr(eq + 1) : std::string_view(), given, &step.param);
    if (!status.ok()) return status;
    pipeline->push_back(step);
    start = comma + 1;
  }
  return Status();
}

std::string pipeline_text(const Pipeline& pipeline) {
  std::string text;
  for (const Step& step : pipeline) {
    if (!text.empty()) text += ',';
    text += step.op->name;
    if (step.op->param.accepted && step.param != 0) text += fmt::format("={}", step.param);
  }
  return text;
}

Status run_pipeline_whole(const cv::Mat& image, const Pipeline& pipeline, OpResult* result) {
  cv::Mat current = image;
  result->decoded.clear();
  for (const Step& step : pipeline) {
    OpResult step_result;
    Status status = apply_step(step, current, &step_result);
    if (!status.ok()) return status;
    current = step_result.image;
    for (auto& text : step_result.decoded) result->decoded.push_back(std::move(text));
  }
  result->image = current;
  return Status();
}

}  // namespace dips
