#include "dips/dry_run.h"

#include <fmt/format.h>

#include <cstdio>

#include "dips/granularity.h"
#include "dips/image_io.h"
#include "dips/tiling.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

std::string plan_text(const Options& options, const Task& task, int width, int height, size_t tasks_left, int workers) {
  if (height <= 0) return "-";
  ShapeInput input;
  input.tile_rows_option = options.tile_rows;
  input.width = width;
  input.height = height;
  input.live_threads = workers;
  input.tasks_left = tasks_left;
  const std::vector<Stage> stages = plan_stages(task.pipeline);
  input.has_band_stage = std::any_of(stages.begin(), stages.end(), [](const Stage& s) { return s.kind != Tiling::kWholeImage; });
  const TaskShape shape = choose_shape(input);
  if (!shape.bands) return "whole image to one worker";
  std::string plan;
  for (const Stage& stage : stages) {
    if (!plan.empty()) plan += " | ";
    const size_t pieces = plan_pieces(stage, height, shape.tile_rows).size();
    plan += fmt::format("{} piece{} ({}, halo {})", pieces, pieces == 1 ? "" : "s", tiling_name(stage.kind), stage.halo);
  }
  return plan;
}

}  // namespace

void print_plan(const Options& options, const std::vector<Task>& tasks, int workers) {
  std::printf("dry run: %zu tasks, %d worker%s, nothing will be written\n", tasks.size(), workers, workers == 1 ? "" : "s");
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Task& task = tasks[i];
    std::vector<uint8_t> bytes;
    int width = 0, height = 0;
    std::string size = "size unknown";
    if (read_file(task.input, options.max_file_bytes, &bytes).ok() && sniff_image_size(bytes, &width, &height)) {
      size = fmt::format("{}x{}", width, height);
    } else if (!fs::exists(task.input)) {
      size = "missing";
    }
    const std::string plan = plan_text(options, task, width, height, tasks.size() - i, workers);
    std::printf("%s%s  [%s]  %s -> %s  (%s)\n", task.origin.empty() ? "" : (task.origin + "  ").c_str(), task.input.c_str(), size.c_str(),
                pipeline_text(task.pipeline).c_str(), task.output.c_str(), plan.c_str());
  }
}

}  // namespace dips
