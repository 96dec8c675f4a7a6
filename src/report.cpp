#include "dips/report.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

namespace dips {
namespace fs = std::filesystem;

namespace {

bool ends_with_newline(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() <= 0) return true;
  in.seekg(-1, std::ios::end);
  return in.get() == '\n';
}

double rounded(double value, double scale) { return std::round(value * scale) / scale; }

}  // namespace

ReportWriter::~ReportWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status ReportWriter::open(const fs::path& path, const nlohmann::ordered_json& run) {
  std::error_code ec;
  const bool existing = fs::exists(path, ec) && fs::file_size(path, ec) > 0;
  if (existing) {
    std::set<std::string> ignored;
    Status status = read_finished_tasks(path, &ignored);  // refuses files that are not dips reports
    if (!status.ok()) return status;
  }
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr) return Status::Error(fmt::format("cannot write report '{}': {}", path.string(), std::strerror(errno)));
  path_ = path;
  // A crash of rank 0 can leave its last line cut short: the new run starts on a line of its own.
  if (existing && !ends_with_newline(path) && std::fputc('\n', file_) == EOF) {
    return Status::Error(fmt::format("cannot write report '{}': {}", path.string(), std::strerror(errno)));
  }
  // A new report starts with its version; a continued one gets a line describing the new run.
  nlohmann::ordered_json first = existing ? nlohmann::ordered_json{{"run", "continued"}, {"dips_report", kReportVersion}}
                                          : nlohmann::ordered_json{{"dips_report", kReportVersion}};
  first.update(run);
  Status status = write_line(first);
  return status.ok() ? flush() : status;
}

Status ReportWriter::write_line(const nlohmann::ordered_json& line) {
  const std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
    return Status::Error(fmt::format("cannot write report '{}': {}", path_.string(), std::strerror(errno)));
  }
  return Status();
}

Status ReportWriter::flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) {
    return Status::Error(fmt::format("cannot write report '{}': {}", path_.string(), std::strerror(errno)));
  }
  return Status();
}

Status ReportWriter::write_event(const nlohmann::ordered_json& event) { return write_line(event); }

nlohmann::ordered_json piece_json(const PieceRecord& p) {
  nlohmann::ordered_json piece = {{"kind", p.kind}, {"stage", p.stage}};
  if (p.row1 > p.row0) piece["rows"] = {p.row0, p.row1};
  piece["worker"] = p.worker;
  if (!p.lost_on.empty()) piece["lost_on"] = p.lost_on;
  piece["sent"] = rounded(p.sent, 1e4);
  piece["done"] = rounded(p.done, 1e4);
  piece["compute_ms"] = rounded(p.compute_ms, 1e3);
  piece["queue_ms"] = rounded(p.queue_ms, 1e3);
  piece["bytes_out"] = p.bytes_out;
  piece["bytes_in"] = p.bytes_in;
  piece["ok"] = p.ok;
  // Version 2.
  if (p.id != 0) piece["id"] = p.id;
  if (!p.lost_sent.empty()) {
    nlohmann::ordered_json sent = nlohmann::ordered_json::array();
    for (double t : p.lost_sent) sent.push_back(rounded(t, 1e4));
    piece["lost_sent"] = std::move(sent);
  }
  if (!p.outcome.empty()) piece["outcome"] = p.outcome;
  return piece;
}

nlohmann::ordered_json task_json(const TaskRecord& r) {
  nlohmann::ordered_json j = {{"input", r.input},   {"output", r.output}, {"ops", r.ops},
                      {"status", r.ok ? "ok" : "error"},
                      {"error", r.ok ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.error)},
                      {"decoded", r.decoded}, {"width", r.width}, {"height", r.height},
                      {"ms", rounded(r.ms, 1e3)}, {"ranks", r.ranks}};
  if (!r.origin.empty()) j["origin"] = r.origin;
  nlohmann::ordered_json pieces = nlohmann::ordered_json::array();
  for (const PieceRecord& p : r.pieces) pieces.push_back(piece_json(p));
  j["pieces"] = std::move(pieces);
  // Version 2.
  if (r.task >= 0) j["task"] = r.task;
  if (r.t > 0) j["t"] = rounded(r.t, 1e4);
  if (!r.rank0.empty()) {
    nlohmann::ordered_json spans = nlohmann::ordered_json::array();
    for (const Rank0Span& span : r.rank0) {
      spans.push_back({{"op", span.op}, {"t0", rounded(span.t0, 1e4)}, {"t1", rounded(span.t1, 1e4)}, {"bytes", span.bytes}});
    }
    j["rank0"] = std::move(spans);
  }
  if (!r.thumbnail_input.empty() || !r.thumbnail_output.empty()) {
    nlohmann::ordered_json thumbnails = nlohmann::ordered_json::object();
    if (!r.thumbnail_input.empty()) thumbnails["input"] = r.thumbnail_input;
    if (!r.thumbnail_output.empty()) thumbnails["output"] = r.thumbnail_output;
    j["thumbnails"] = std::move(thumbnails);
  }
  return j;
}

Status ReportWriter::write_task(const TaskRecord& record) { return write_line(task_json(record)); }

Status ReportWriter::write_summary(const nlohmann::ordered_json& summary) {
  Status status = write_line(nlohmann::ordered_json{{"summary", summary}});
  if (status.ok()) status = flush();
  if (status.ok()) ::fsync(fileno(file_));
  return status;
}

std::string resume_key(const std::string& input, const std::string& ops, const std::string& output) {
  return input + '\0' + ops + '\0' + output;
}

Status read_finished_tasks(const fs::path& path, std::set<std::string>* finished) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status();
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (first) {
      first = false;
      if (j.is_discarded() || !j.is_object() || !j.contains("dips_report")) {
        return Status::Error(fmt::format("'{}' is not a dips report; refusing to resume from it or append to it", path.string()));
      }
      if (!j["dips_report"].is_number_integer() || j["dips_report"].get<int>() > kReportVersion) {  // 1 and 2 read alike
        return Status::Error(fmt::format("'{}' is a report of a newer dips; resume it with that version", path.string()));
      }
      continue;
    }
    if (j.is_discarded() || !j.is_object() || !j.contains("input") || j.value("status", "") != "ok") continue;
    if (!j["input"].is_string() || !j["ops"].is_string() || !j["output"].is_string()) continue;
    finished->insert(resume_key(j["input"], j["ops"], j["output"]));
  }
  return Status();
}

}  // namespace dips
