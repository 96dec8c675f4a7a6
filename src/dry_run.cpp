#include "dips/dry_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "dips/granularity.h"
#include "dips/image_io.h"
#include "dips/tiling.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

// A dry run takes every other thread as still busy with an earlier task when this one starts.
std::string plan_text(const Options& options, const Task& task, const SniffedImage& image, size_t tasks_before, size_t tasks_left,
                      int workers) {
  if (image.height <= 0) return "-";
  ShapeInput input;
  input.tile_rows_option = options.tile_rows;
  input.width = image.width;
  input.height = image.height;
  input.top_down = image.top_down && options.io != IoMode::kMpi;
  input.working_threads = workers;
  input.tasks_left = tasks_left;
  input.other_tasks = static_cast<int>(std::min<size_t>(tasks_before, static_cast<size_t>(std::max(0, workers - 1))));
  const std::vector<Stage> stages = plan_stages(task.pipeline);
  input.band_work = band_work(stages);
  const TaskShape shape = choose_shape(input);
  if (!shape.bands) return "whole image to one worker";
  std::string plan;
  for (const Stage& stage : stages) {
    if (!plan.empty()) plan += " | ";
    const size_t pieces = plan_pieces(stage, image.height, shape.tile_rows).size();
    plan += fmt::format("{} piece{} ({}, halo {})", pieces, pieces == 1 ? "" : "s", tiling_name(stage.kind), stage.halo);
  }
  return plan;
}

// Length of the valid UTF-8 sequence starting at text[i] (overlong forms, surrogates and code points
// past U+10FFFF are not valid), or 0.
size_t utf8_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned c = byte(i);
  const auto cont = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  if (c == 0xC2 && byte(i + 1) < 0xA0) return 0;  // C1 controls (U+0080..U+009F): terminals obey some
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return byte(i + 1) >= lo && byte(i + 1) <= hi && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return byte(i + 1) >= lo && byte(i + 1) <= hi && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

std::string printable_name(const std::string& name) {
  std::string text;
  for (size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7F) {
      text += c == '\\' ? "\\\\" : std::string(1, static_cast<char>(c));
      ++i;
    } else if (const size_t n = c >= 0x80 ? utf8_length(name, i) : 0; n > 0) {
      text.append(name, i, n);
      i += n;
    } else {
      text += c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return text;
}

void print_plan(const Options& options, const std::vector<Task>& tasks, const SkippedFiles& skipped, int workers, int working) {
  const std::string standby =
      working < workers ? fmt::format(" ({} at work, {} standing by beyond this machine's cores; --host-cores all: every worker works)", working, workers - working) : "";
  std::printf("dry run: %zu tasks, %d worker%s%s, nothing will be written\n", tasks.size(), workers, workers == 1 ? "" : "s", standby.c_str());
  if (!skipped.empty()) std::printf("not taken from the input folders: %s\n", printable_name(skipped_files_text(skipped)).c_str());
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Task& task = tasks[i];
    std::vector<uint8_t> bytes;
    SniffedImage image;
    std::string size = "size unknown";
    if (read_file(task.input, options.max_file_bytes, &bytes).ok()) image = sniff_image(bytes);
    if (image.height > 0) {
      size = fmt::format("{}x{}", image.width, image.height);
    } else if (!fs::exists(task.input)) {
      size = "missing";
    }
    const std::string plan = task.refused.empty() ? plan_text(options, task, image, i, tasks.size() - i, working) : "refused: " + task.refused;
    std::printf("%s%s  [%s]  %s -> %s  (%s)\n", task.origin.empty() ? "" : printable_name(task.origin + "  ").c_str(),
                printable_name(task.input).c_str(), size.c_str(), pipeline_text(task.pipeline).c_str(),
                printable_name(task.output).c_str(), printable_name(plan).c_str());
  }
}

}  // namespace dips
