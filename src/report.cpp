#include "dips/report.h"

#include "dips/json_line.h"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/archive/iterators/base64_from_binary.hpp>
#include <boost/archive/iterators/binary_from_base64.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <cerrno>
#include <cmath>
#include <fstream>

namespace dips {
namespace fs = std::filesystem;
namespace {

// Base64 (RFC 4648, padded) through Boost's dataflow iterators: already a dependency, header-only.
std::string base64_encode(const std::string& bytes) {
  using namespace boost::archive::iterators;
  using Encoder = base64_from_binary<transform_width<std::string::const_iterator, 6, 8>>;
  std::string text(Encoder(bytes.begin()), Encoder(bytes.end()));
  return text.append((3 - bytes.size() % 3) % 3, '=');
}

// False for text that is not base64 (a hand-edited or damaged report).
bool base64_decode(std::string text, std::string* bytes) {
  using namespace boost::archive::iterators;
  while (!text.empty() && text.back() == '=') text.pop_back();
  if (text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != std::string::npos) return false;
  using Decoder = transform_width<binary_from_base64<std::string::const_iterator>, 8, 6>;
  bytes->assign(Decoder(text.cbegin()), Decoder(text.cend()));
  return true;
}

// A name as a task line records it: "input" for display, "input_base64" when that lost bytes.
void put_name(JsonLine& line, std::string_view field, const std::string& name) {
  line.field(field, name);
  if (!is_utf8(name)) line.field(std::string(field) + "_base64", base64_encode(name));
}

// The exact name of a task line's field; false when the line has no usable one.
bool exact_name(const nlohmann::json& line, const std::string& field, std::string* name) {
  const auto exact = line.find(field + "_base64");
  if (exact != line.end()) return exact->is_string() && base64_decode(exact->get<std::string>(), name);
  const auto shown = line.find(field);
  if (shown == line.end() || !shown->is_string()) return false;
  *name = shown->get<std::string>();
  return true;
}

int64_t recorded(const nlohmann::json& line, const char* field) {
  const auto it = line.find(field);
  return it != line.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
}


}  // namespace

Status ReportWriter::open(const fs::path& path, const nlohmann::ordered_json& run) {
  Status status = file_.open(path);
  if (!status.ok()) return status;
  const bool existing = file_.had_content();
  if (existing) {
    FinishedTasks ignored;
    status = read_finished_tasks(path, &ignored);  // refuses files that are not dips reports
    if (!status.ok()) return status;
  }
  // A new report starts with its version; a continued one gets a line describing the new run.
  nlohmann::ordered_json first = existing ? nlohmann::ordered_json{{"run", "continued"}, {"dips_report", kReportVersion}}
                                          : nlohmann::ordered_json{{"dips_report", kReportVersion}};
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

namespace {

// Times of the job (seconds), as the report writes them: to 0.1 ms.
void put_times(JsonLine& line, const char* key, const std::vector<double>& times) {
  line.key(key).begin_array();
  for (double t : times) line.rounded(t, 4);
  line.end_array();
}

void put_piece(JsonLine& line, const PieceRecord& p) {
  line.begin_object().field("kind", p.kind).field("stage", p.stage);
  if (p.row1 > p.row0) line.key("rows").begin_array().value(p.row0).value(p.row1).end_array();
  line.field("worker", p.worker);
  if (!p.lost_on.empty()) line.array_field("lost_on", p.lost_on);
  line.key("sent").rounded(p.sent, 4).key("done").rounded(p.done, 4);
  line.key("compute_ms").rounded(p.compute_ms, 3).key("queue_ms").rounded(p.queue_ms, 3);
  line.field("bytes_out", p.bytes_out).field("bytes_in", p.bytes_in).field("ok", p.ok);
  // Version 2.
  if (p.id != 0) line.field("id", p.id);
  if (!p.lost_sent.empty()) put_times(line, "lost_sent", p.lost_sent);
  if (!p.outcome.empty()) line.field("outcome", p.outcome);
  if (!p.also_on.empty()) {
    line.array_field("also_on", p.also_on);
    put_times(line, "also_sent", p.also_sent);
  }
  line.end_object();
}

void put_pieces(JsonLine& line, const std::vector<PieceRecord>& pieces) {
  line.key("pieces").begin_array();
  for (const PieceRecord& p : pieces) put_piece(line, p);
  line.end_array();
}

void put_task_line(JsonLine& line, const TaskRecord& r) {
  // A thumbnail task's line is about 300 bytes beside its names; every piece about 200 more.
  line.reserve(320 + 2 * (r.input.size() + r.output.size()) + r.error.size() + 224 * r.pieces.size() +
               r.thumbnail_input.size() + r.thumbnail_output.size());
  line.begin_object();
  put_name(line, "input", r.input);
  put_name(line, "output", r.output);
  line.field("ops", r.ops).field("status", r.ok ? "ok" : "error");
  if (r.ok) line.key("error").null();
  else line.field("error", r.error);
  line.array_field("decoded", r.decoded);
  line.field("width", r.width).field("height", r.height).key("ms").rounded(r.ms, 3);
  line.array_field("ranks", r.ranks);
  if (!r.origin.empty()) line.field("origin", r.origin);
  if (r.input_size >= 0) line.field("input_size", r.input_size);
  if (r.input_mtime_ns >= 0) line.field("input_mtime_ns", r.input_mtime_ns);
  if (r.output_size >= 0) line.field("output_size", r.output_size);
  put_pieces(line, r.pieces);
  // Version 2.
  if (r.task >= 0) line.field("task", r.task);
  if (r.t > 0) line.key("t").rounded(r.t, 4);
  if (!r.rank0.empty()) {
    line.key("rank0").begin_array();
    for (const Rank0Span& span : r.rank0) {
      line.begin_object().field("op", span.op).key("t0").rounded(span.t0, 4).key("t1").rounded(span.t1, 4);
      line.field("bytes", span.bytes).end_object();
    }
    line.end_array();
  }
  if (!r.thumbnail_input.empty() || !r.thumbnail_output.empty()) {
    line.key("thumbnails").begin_object();
    if (!r.thumbnail_input.empty()) line.field("input", r.thumbnail_input);
    if (!r.thumbnail_output.empty()) line.field("output", r.thumbnail_output);
    line.end_object();
  }
  line.end_object();
}

}  // namespace

std::string task_line(const TaskRecord& r) {
  JsonLine line;
  put_task_line(line, r);
  return std::string(line.text());
}

std::string unfinished_task_line(const UnfinishedTaskRecord& r) {
  JsonLine line;
  line.begin_object().field("event", "task_unfinished").field("task", r.task).field("input", r.input).field("output", r.output);
  line.field("ops", r.ops).field("status", "unfinished").key("t").rounded(r.t, 4);
  put_pieces(line, r.pieces);
  return std::string(line.end_object().text());
}

Status ReportWriter::write_task(const TaskRecord& record) {
  JsonLine line;
  put_task_line(line, record);
  file_.append(line.text());
  return Status();
}

Status ReportWriter::write_unfinished_task(const UnfinishedTaskRecord& record) {
  file_.append(unfinished_task_line(record));
  return Status();
}

Status ReportWriter::write_summary(const nlohmann::ordered_json& summary) {
  Status status = write_line(nlohmann::ordered_json{{"summary", summary}});
  if (status.ok()) status = flush();
  if (status.ok()) file_.sync();
  return status;
}

std::string resume_key(const std::string& input, const std::string& ops, const std::string& output) {
  return input + '\0' + ops + '\0' + output;
}

Status read_finished_tasks(const fs::path& path, FinishedTasks* finished) {
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
      if (!j["dips_report"].is_number_integer() || j["dips_report"].get<int>() > kReportVersion) {  // 1 and 2 read alike
        return Status::Error(fmt::format("'{}' is a report of a newer dips; resume it with that version", path.string()));
      }
      continue;
    }
    if (j.is_discarded() || !j.is_object() || !j.contains("input") || !j.contains("ops") || !j["ops"].is_string()) continue;
    std::string input, output;
    if (!exact_name(j, "input", &input) || !exact_name(j, "output", &output)) continue;
    const std::string key = resume_key(input, j["ops"], output);
    if (j.value("status", "") != "ok") {
      finished->erase(key);  // the latest outcome counts
      continue;
    }
    (*finished)[key] = FinishedTask{recorded(j, "input_size"), recorded(j, "input_mtime_ns"), recorded(j, "output_size")};
  }
  return Status();
}

bool still_finished(const FinishedTasks& finished, const std::string& key, const fs::path& input, const fs::path& output) {
  const auto it = finished.find(key);
  if (it == finished.end()) return false;
  const FinishedTask& task = it->second;
  std::error_code ec;
  if (task.output_size < 0 ? !fs::exists(output, ec) : file_identity(output).size != task.output_size) return false;
  const FileIdentity now = file_identity(input);
  if (task.input_size >= 0 && now.size != task.input_size) return false;
  return task.input_mtime_ns < 0 || now.mtime_ns == task.input_mtime_ns;
}

}  // namespace dips
