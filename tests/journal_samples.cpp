#include "journal_samples.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace dips::testing {
namespace {

std::string json_string(const std::string& text) { return nlohmann::json(text).dump(); }

}  // namespace

std::string version1_journal(const std::vector<SampleTask>& tasks, bool interrupted) {
  std::string text = R"({"dips_report":1,"dips_version":"0.2.0","command":"dips --op blur=3 --output out in","workers":2,"resume":false})" "\n";
  size_t ok = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const SampleTask& t = tasks[i];
    ok += t.ok;
    const std::string lost = i == 1 ? R"("lost_on":[2],)" : "";
    const int worker = i == 1 ? 1 : 1 + static_cast<int>(i % 2);
    text += fmt::format(
        R"({{"input":{},"output":{},"ops":{},"status":"{}","error":{},"decoded":[],"width":64,"height":48,"ms":12.5,"ranks":[{}],)"
        R"("pieces":[{{"kind":"file","stage":0,"worker":{},{}"sent":{:.4f},"done":{:.4f},"compute_ms":3.25,"queue_ms":0.125,"bytes_out":0,"bytes_in":0,"ok":{}}}]}})"
        "\n",
        json_string(t.input), json_string(t.output), json_string(t.ops), t.ok ? "ok" : "error", t.ok ? "null" : "\"cannot decode image\"", worker, worker, lost, 0.01 + 0.1 * i,
        0.05 + 0.1 * i, t.ok ? "true" : "false");
    if (i == 1) text += R"({"event":"worker_lost","worker":2,"t":0.1,"why":"no answer within 1.5 s","pieces":1})" "\n";
  }
  if (!interrupted) {
    text += fmt::format(
        R"({{"summary":{{"tasks":{},"ok":{},"failed":{},"skipped":0,"unfinished":0,"wall_s":1.0,"megapixels":0.1,"mp_per_s":0.1,"workers":2,)"
        R"("workers_lost":[2],"io":"shared","rank0_cpu_s":0.05,"rank0_peak_rss_mb":40.0,"exit_code":{}}}}})"
        "\n",
        tasks.size(), ok, tasks.size() - ok, ok == tasks.size() ? 0 : 1);
  }
  return text;
}

std::string version1_journal_without_pieces(const std::vector<SampleTask>& tasks) {
  std::string text = R"({"dips_report":1,"dips_version":"0.1.0","command":"dips --op blur=3 --output out in","workers":2,"resume":false})" "\n";
  size_t ok = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const SampleTask& t = tasks[i];
    ok += t.ok;
    text += fmt::format(R"({{"input":{},"output":{},"ops":{},"status":"{}","error":{},"decoded":[],"width":64,"height":48,"ms":12.5,"ranks":[{}]}})" "\n",
                        json_string(t.input), json_string(t.output), json_string(t.ops), t.ok ? "ok" : "error",
                        t.ok ? "null" : "\"cannot decode image\"", 1 + static_cast<int>(i % 2));
  }
  text += fmt::format(
      R"({{"summary":{{"tasks":{},"ok":{},"failed":{},"skipped":0,"unfinished":0,"wall_s":1.0,"megapixels":0.1,"mp_per_s":0.1,"workers":2,)"
      R"("workers_lost":[],"rank0_cpu_s":0.05,"exit_code":{}}}}})" "\n",
      tasks.size(), ok, tasks.size() - ok, ok == tasks.size() ? 0 : 1);
  return text;
}

}  // namespace dips::testing
