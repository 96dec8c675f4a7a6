#include "dips/report.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

namespace dips {
namespace fs = std::filesystem;

Status ReportWriter::open(const fs::path& path, const nlohmann::ordered_json& run) {
  Status status = file_.open(path);
  if (!status.ok()) return status;
  const bool existing = file_.had_content();
  if (existing) {
    std::set<std::string> ignored;
    status = read_finished_tasks(path, &ignored);  // refuses files that are not dips reports
    if (!status.ok()) return status;
  }
  // A new report starts with its version; a continued one gets a line describing the new run.
  nlohmann::ordered_json first = existing ? nlohmann::ordered_json{{"run", "continued"}} : nlohmann::ordered_json{{"dips_report", kReportVersion}};
  first.update(run);
  status = write_line(first);
  return status.ok() ? flush() : status;
}

Status ReportWriter::write_line(const nlohmann::ordered_json& line) {
  file_.append(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  return Status();
}

Status ReportWriter::flush() { return file_.flush(); }

Status ReportWriter::write_event(const nlohmann::ordered_json& event) { return write_line(event); }

nlohmann::ordered_json task_json(const TaskRecord& r) {
  nlohmann::ordered_json j = {{"input", r.input},   {"output", r.output}, {"ops", r.ops},
                      {"status", r.ok ? "ok" : "error"},
                      {"error", r.ok ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.error)},
                      {"decoded", r.decoded}, {"width", r.width}, {"height", r.height},
                      {"ms", std::round(r.ms * 1000) / 1000}, {"ranks", r.ranks}};
  if (!r.origin.empty()) j["origin"] = r.origin;
  nlohmann::ordered_json pieces = nlohmann::ordered_json::array();
  for (const PieceRecord& p : r.pieces) {
    nlohmann::ordered_json piece = {{"kind", p.kind}, {"stage", p.stage}};
    if (p.row1 > p.row0) piece["rows"] = {p.row0, p.row1};
    piece["worker"] = p.worker;
    if (!p.lost_on.empty()) piece["lost_on"] = p.lost_on;
    piece["sent"] = std::round(p.sent * 1e4) / 1e4;
    piece["done"] = std::round(p.done * 1e4) / 1e4;
    piece["compute_ms"] = std::round(p.compute_ms * 1000) / 1000;
    piece["queue_ms"] = std::round(p.queue_ms * 1000) / 1000;
    piece["bytes_out"] = p.bytes_out;
    piece["bytes_in"] = p.bytes_in;
    piece["ok"] = p.ok;
    pieces.push_back(std::move(piece));
  }
  j["pieces"] = std::move(pieces);
  return j;
}

Status ReportWriter::write_task(const TaskRecord& record) { return write_line(task_json(record)); }

Status ReportWriter::write_summary(const nlohmann::ordered_json& summary) {
  Status status = write_line(nlohmann::ordered_json{{"summary", summary}});
  if (status.ok()) status = flush();
  if (status.ok()) file_.sync();
  return status;
}

std::string resume_key(const std::string& input, const std::string& ops, const std::string& output) {
  return input + '\0' + ops + '\0' + output;
}

Status read_finished_tasks(const fs::path& path, std::set<std::string>* finished) {
  Status readable = check_readable_report(path);
  if (!readable.ok()) return readable;
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
      if (!j["dips_report"].is_number_integer() || j["dips_report"].get<int>() > kReportVersion) {
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
