#include "dips/report_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <simdjson.h>

namespace dips {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::json;

// A thumbnail larger than this in the journal is not a thumbnail dips wrote: left out of the page.
constexpr size_t kMaxThumbnailChars = 256 * 1024;
// Points of a throughput curve: enough for a smooth plot of any job.
constexpr size_t kMaxCurvePoints = 400;

std::string text(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double number(const Json& j, const char* key, double fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

int64_t integer(const Json& j, const char* key, int64_t fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

std::vector<int> integers(const Json& j, const char* key) {
  std::vector<int> values;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return values;
  for (const Json& v : *it) {
    if (v.is_number_integer()) values.push_back(v.get<int>());
  }
  return values;
}

// The same readings of a line parsed by simdjson: a missing key or a value of another type gives the fallback.
using Element = simdjson::dom::element;

bool has(const Element& j, const char* key) { return !j[key].error(); }

std::string text(const Element& j, const char* key) {
  std::string_view value;
  return j[key].get(value) ? std::string() : std::string(value);
}

double number(const Element& value, double fallback = 0) {
  switch (value.type()) {
    case simdjson::dom::element_type::INT64: return static_cast<double>(int64_t(value));
    case simdjson::dom::element_type::UINT64: return static_cast<double>(uint64_t(value));
    case simdjson::dom::element_type::DOUBLE: return double(value);
    default: return fallback;
  }
}

double number(const Element& j, const char* key, double fallback = 0) {
  Element value;
  return j[key].get(value) ? fallback : number(value, fallback);
}

// As nlohmann's get<int64_t>() of any integer: an unsigned one above INT64_MAX wraps.
bool integer_of(const Element& value, int64_t* out) {
  if (value.type() == simdjson::dom::element_type::INT64) *out = int64_t(value);
  else if (value.type() == simdjson::dom::element_type::UINT64) *out = static_cast<int64_t>(uint64_t(value));
  else return false;
  return true;
}

int64_t integer(const Element& j, const char* key, int64_t fallback = 0) {
  Element value;
  int64_t out = fallback;
  if (!j[key].get(value)) integer_of(value, &out);
  return out;
}

// Calls `visit` with each value of the array at `key`, if there is one.
template <typename Visit>
void for_each_in(const Element& j, const char* key, Visit visit) {
  simdjson::dom::array array;
  if (j[key].get(array)) return;
  for (Element value : array) visit(value);
}

std::vector<int> integers(const Element& j, const char* key) {
  std::vector<int> values;
  for_each_in(j, key, [&](const Element& v) {
    int64_t value = 0;
    if (integer_of(v, &value)) values.push_back(static_cast<int>(value));
  });
  return values;
}

std::vector<std::string> strings(const Element& j, const char* key) {
  std::vector<std::string> values;
  for_each_in(j, key, [&](const Element& v) {
    std::string_view value;
    if (!v.get(value)) values.emplace_back(value);
  });
  return values;
}

// Only base64 text goes into the page's image sources.
std::string thumbnail(const Element& line, const char* which) {
  Element thumbnails;
  if (line["thumbnails"].get(thumbnails)) return {};
  std::string value = text(thumbnails, which);
  const bool base64 = value.size() <= kMaxThumbnailChars && value.size() % 4 == 0 &&
                      std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '/' || c == '='; });
  return base64 ? value : std::string();
}

double rounded(double value) { return std::round(value * 1e4) / 1e4; }

std::string task_key(const std::string& input, const std::string& ops, const std::string& output) { return input + '\0' + ops + '\0' + output; }

}  // namespace

ReportModel::ReportModel() : parser_(std::make_unique<simdjson::dom::parser>()) {}
ReportModel::~ReportModel() = default;
ReportModel::ReportModel(ReportModel&&) noexcept = default;
ReportModel& ReportModel::operator=(ReportModel&&) noexcept = default;

bool ReportModel::add_line(std::string_view line_text) {
  Element line;
  const bool object = !parser_->parse(line_text.data(), line_text.size()).get(line) && line.is_object();
  // Lines kept whole are few (a run's header and summary, events): they are read again into nlohmann's JSON
  // (both parsers are strict: what one accepts the other does, but no exception may depend on that).
  const auto whole = [&] {
    Json parsed = Json::parse(line_text.begin(), line_text.end(), nullptr, false);
    return parsed.is_object() ? parsed : Json::object();
  };
  if (!header_seen_) {
    if (!object || !has(line, "dips_report")) return false;
    header_seen_ = true;
    start_run(whole(), static_cast<int>(integer(line, "dips_report", 1)));
    return true;
  }
  if (!object) return true;  // a line torn by a crash
  if (text(line, "run") == "continued") {
    start_run(whole(), static_cast<int>(integer(line, "dips_report", 1)));
  } else if (Element summary; !line["summary"].get(summary) && summary.is_object()) {
    Run& run = current_run();
    run.summary = whole()["summary"];
    run.t_end = std::max(run.t_end, number(summary, "wall_s"));
  } else if (has(line, "event")) {
    if (text(line, "event") == "task_unfinished") add_task(line, "unfinished");
    else add_event(whole());
  } else if (has(line, "input") && has(line, "status")) {
    add_task(line, text(line, "status") == "ok" ? "ok" : "error");
  }
  return true;
}

Status ReportModel::read_more(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(fmt::format("cannot read report '{}': {}", path.string(), std::strerror(errno)));
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string chunk(1 << 16, '\0');
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    const size_t got = static_cast<size_t>(in.gcount());
    offset_ += got;
    size_t start = 0;
    for (size_t end = 0; end < got; ++end) {
      if (chunk[end] != '\n') continue;
      partial_.append(chunk, start, end - start);
      start = end + 1;
      if (!add_line(partial_)) return Status::Error(fmt::format("'{}' is not a dips report", path.string()));
      partial_.clear();
    }
    partial_.append(chunk, start, got - start);
  }
  return Status();
}

void ReportModel::start_run(const Json& line, int version) {
  Run run;
  run.version = version;
  run.header = line;
  runs_.push_back(std::move(run));
}

ReportModel::Run& ReportModel::current_run() {
  // Lines after a summary without a run line of their own (its line was lost in a crash) start a run.
  if (runs_.empty() || !runs_.back().summary.is_null()) start_run(Json::object(), runs_.empty() ? 1 : runs_.back().version);
  return runs_.back();
}

uint8_t ReportModel::intern(std::vector<std::string>& table, const std::string& name) {
  auto it = std::find(table.begin(), table.end(), name);
  if (it != table.end()) return static_cast<uint8_t>(it - table.begin());
  if (table.size() >= 255) return 255;  // not a name dips writes: shown as the last one
  table.push_back(name);
  return static_cast<uint8_t>(table.size() - 1);
}

// The workers a piece's `workers` key names (each sent it at the time its `sent` key gives) into lost_:
// lost holding it, or (copy) holding it with the one whose result counted.
void ReportModel::add_holders(const Element& piece, const char* workers, const char* sent, bool copy) {
  const std::vector<int> ranks = integers(piece, workers);
  simdjson::dom::array times;
  const bool has_times = !ranks.empty() && !piece[sent].get(times);
  for (size_t i = 0; i < ranks.size(); ++i) {
    Lost holder;
    holder.worker = ranks[i];
    holder.copy = copy;
    if (has_times && i < times.size()) holder.sent = static_cast<float>(number(times.at(i).value_unsafe(), holder.sent));
    lost_.push_back(holder);
  }
}

void ReportModel::add_task(const Element& line, const std::string& status) {
  Run& run = current_run();
  const uint32_t run_index = static_cast<uint32_t>(runs_.size() - 1);
  Task task;
  task.run = run_index;
  task.task = integer(line, "task", -1);
  task.input = text(line, "input");
  task.output = text(line, "output");
  task.ops = text(line, "ops");
  task.status = status;
  task.error = text(line, "error");
  task.origin = text(line, "origin");
  task.decoded = strings(line, "decoded");
  task.width = static_cast<int>(integer(line, "width"));
  task.height = static_cast<int>(integer(line, "height"));
  task.ms = number(line, "ms");
  task.t = number(line, "t", -1);
  task.ranks = integers(line, "ranks");
  std::string thumb_in = thumbnail(line, "input"), thumb_out = thumbnail(line, "output");
  if (!thumb_in.empty() || !thumb_out.empty()) task.thumbs = std::make_unique<Thumbnails>(Thumbnails{std::move(thumb_in), std::move(thumb_out)});
  const uint32_t task_index = static_cast<uint32_t>(tasks_.size());
  double last_done = 0;
  for_each_in(line, "pieces", [&](const Element& p) {
    if (!p.is_object()) return;
    Piece piece;
    piece.run = run_index;
    piece.task = task_index;
    piece.kind = intern(kinds_, text(p, "kind"));
    piece.stage = static_cast<int>(integer(p, "stage"));
    simdjson::dom::array rows;
    int64_t row0 = 0, row1 = 0;
    if (!p["rows"].get(rows) && rows.size() == 2 && integer_of(rows.at(0).value_unsafe(), &row0) && integer_of(rows.at(1).value_unsafe(), &row1)) {
      piece.row0 = static_cast<int>(row0);
      piece.row1 = static_cast<int>(row1);
    }
    piece.worker = static_cast<int>(integer(p, "worker", -1));
    piece.sent = static_cast<float>(number(p, "sent"));
    piece.done = static_cast<float>(number(p, "done"));
    piece.compute_ms = static_cast<float>(number(p, "compute_ms"));
    piece.id = static_cast<uint64_t>(std::max<int64_t>(0, integer(p, "id")));
    // Version 1 has no outcome: a result that did not count was an error if it came, else cancelled.
    std::string outcome = text(p, "outcome");
    bool ok = false;
    if (p["ok"].get(ok)) ok = false;
    if (outcome.empty()) outcome = ok ? "ok" : piece.done > 0 ? "error" : "cancelled";
    if (status == "unfinished" && outcome == "cancelled") outcome = "unfinished";
    piece.outcome = intern(outcomes_, outcome);
    piece.lost_begin = static_cast<uint32_t>(lost_.size());
    add_holders(p, "lost_on", "lost_sent", false);
    for (uint32_t l = piece.lost_begin; l < lost_.size(); ++l) {
      if (std::find(task.lost.begin(), task.lost.end(), lost_[l].worker) == task.lost.end()) task.lost.push_back(lost_[l].worker);
    }
    add_holders(p, "also_on", "also_sent", true);
    piece.lost_end = static_cast<uint32_t>(lost_.size());
    last_done = std::max(last_done, static_cast<double>(piece.done));
    pieces_.push_back(piece);
  });
  for_each_in(line, "rank0", [&](const Element& s) {
    if (!s.is_object()) return;
    Span span;
    span.run = run_index;
    span.task = task_index;
    span.op = intern(ops_, text(s, "op"));
    span.t0 = static_cast<float>(number(s, "t0"));
    span.t1 = static_cast<float>(number(s, "t1"));
    span.bytes = static_cast<uint64_t>(std::max(0.0, number(s, "bytes")));
    last_done = std::max(last_done, static_cast<double>(span.t1));
    spans_.push_back(span);
  });
  if (task.t < 0 && last_done > 0) task.t = last_done;  // version 1: when its last piece came back
  run.t_end = std::max(run.t_end, task.t);
  const uint64_t key = std::hash<std::string>{}(task_key(task.input, task.ops, task.output));
  const auto [first, last] = latest_.equal_range(key);
  const auto same = std::find_if(first, last, [&](const auto& entry) {
    const Task& earlier = tasks_[entry.second];
    return earlier.input == task.input && earlier.ops == task.ops && earlier.output == task.output;
  });
  if (same != last) {
    tasks_[same->second].latest = false;
    same->second = tasks_.size();
  } else {
    latest_.emplace(key, tasks_.size());
  }
  tasks_.push_back(std::move(task));
}

void ReportModel::add_event(const Json& line) {
  const std::string event = text(line, "event");
  Run& run = current_run();
  run.t_end = std::max(run.t_end, number(line, "t"));
  if (line.contains("worker") && line["worker"].is_number_integer()) {
    Worker& worker = run.workers[line["worker"].get<int>()];
    worker.rank = line["worker"].get<int>();
    if (event == "worker_alive") {
      worker.host = text(line, "host");
      worker.pid = integer(line, "pid");
      worker.threads = static_cast<int>(integer(line, "threads"));
    } else if (event == "worker_suspect" && worker.state != "lost") {
      worker.state = "suspect";
    } else if (event == "worker_ok" && worker.state == "suspect") {
      worker.state = "ok";
    } else if (event == "worker_standby" && worker.state != "lost") {
      worker.state = "standby";
      worker.why = text(line, "why");
    } else if (event == "worker_working" && worker.state == "standby") {
      worker.state = "ok";
      worker.why.clear();
    } else if (event == "worker_unused") {
      worker.state = "unused";
      worker.why = text(line, "why");
    } else if (event == "worker_lost") {
      worker.state = "lost";
      worker.lost_t = number(line, "t");
      worker.why = text(line, "why");
      auto ids = line.find("piece_ids");
      if (ids != line.end() && ids->is_array()) {
        for (const Json& id : *ids) {
          if (id.is_number_unsigned()) worker.lost_pieces.push_back(id.get<uint64_t>());
        }
      }
    }
  }
  Json kept = line;
  kept["run"] = runs_.size() - 1;
  run.events.push_back(std::move(kept));
}

Json ReportModel::status_json() const {
  Json status = Json::object();
  size_t ok = 0, failed = 0, unfinished = 0, recorded = 0;
  for (const Task& task : tasks_) {
    if (!task.latest) continue;
    ++recorded;
    if (task.status == "ok") ++ok;
    else if (task.status == "error") ++failed;
    else ++unfinished;
  }
  const Json summary = runs_.empty() ? Json() : runs_.back().summary;
  const bool finished = summary.is_object();
  // A finished run knows the job's size; an interrupted one only what it recorded.
  const size_t total = finished ? static_cast<size_t>(std::max<int64_t>(integer(summary, "tasks"), 0)) : recorded;
  status["state"] = finished ? "finished" : "interrupted";
  status["tasks_total"] = std::max(total, ok + failed);
  status["tasks_ok"] = ok;
  status["tasks_failed"] = failed;
  status["tasks_skipped"] = finished ? integer(summary, "skipped") : 0;
  status["tasks_unfinished"] = std::max(total, ok + failed) - ok - failed;
  status["tasks_done"] = ok + failed;
  status["tasks_recorded_unfinished"] = unfinished;
  status["exit_code"] = finished && summary.contains("exit_code") ? summary["exit_code"] : Json();
  status["runs"] = runs_.size();
  return status;
}

Json ReportModel::workers_json() const {
  std::map<std::pair<size_t, int>, size_t> done;  // (run, worker) -> pieces that counted
  for (const Piece& piece : pieces_) {
    if (outcomes_[piece.outcome] == "ok") ++done[{piece.run, piece.worker}];
  }
  Json workers = Json::array();
  for (size_t r = 0; r < runs_.size(); ++r) {
    const Run& run = runs_[r];
    std::map<int, Worker> all = run.workers;
    // Version 1 does not greet its workers in the journal: they are ranks 1..N (0 when dips ran alone).
    const int64_t count = integer(run.header, "workers");
    for (const auto& [key, n] : done) {
      if (key.first == r && key.second >= 0 && !all.count(key.second)) all[key.second].rank = key.second;
    }
    if (all.empty()) {
      for (int64_t rank = 1; rank <= count; ++rank) all[static_cast<int>(rank)].rank = static_cast<int>(rank);
    }
    if (run.summary.is_object()) {
      for (int lost : integers(run.summary, "workers_lost")) {
        Worker& worker = all[lost];
        worker.rank = lost;
        worker.state = "lost";
      }
    }
    for (const auto& [rank, worker] : all) {
      auto n = done.find({r, rank});
      Json w = {{"run", r}, {"rank", rank}, {"state", worker.state}, {"host", worker.host}, {"pid", worker.pid}, {"threads", worker.threads},
                {"pieces_done", n == done.end() ? 0 : n->second}};
      if (worker.state == "lost" || worker.state == "unused" || worker.state == "standby") w["why"] = worker.why;
      if (worker.lost_t >= 0) w["lost_t"] = rounded(worker.lost_t);
      if (!worker.lost_pieces.empty()) w["lost_pieces"] = worker.lost_pieces;
      workers.push_back(std::move(w));
    }
  }
  return workers;
}

Json ReportModel::throughput_json() const {
  Json curves = Json::array();
  for (size_t r = 0; r < runs_.size(); ++r) {
    std::vector<std::pair<double, double>> done;  // (t, megapixels) of each task of the run
    for (const Task& task : tasks_) {
      if (task.run != r || task.t < 0 || task.status == "unfinished") continue;
      done.emplace_back(task.t, task.status == "ok" ? task.width * static_cast<double>(task.height) / 1e6 : 0.0);
    }
    std::sort(done.begin(), done.end());
    Json points = Json::array({Json::array({0, 0, 0})});
    const size_t step = std::max<size_t>(1, (done.size() + kMaxCurvePoints - 1) / kMaxCurvePoints);
    double megapixels = 0;
    for (size_t i = 0; i < done.size(); ++i) {
      megapixels += done[i].second;
      if ((i + 1) % step == 0 || i + 1 == done.size()) points.push_back({rounded(done[i].first), i + 1, rounded(megapixels)});
    }
    curves.push_back({{"run", r}, {"points", std::move(points)}});
  }
  return curves;
}

Json ReportModel::page_data(const PageLimits& limits) const {
  // The tasks shown: all of them, or (live, huge jobs) the latest records, failures first.
  std::vector<size_t> shown;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (tasks_[i].latest) shown.push_back(i);
  }
  size_t omitted_tasks = 0;
  if (shown.size() > limits.tasks) {
    // Failures first (up to half), then the tasks with thumbnails (the first of each run: the gallery's
    // pictures), then the latest others.
    std::vector<size_t> failures, pictured, others;
    for (size_t i : shown) {
      const Task& t = tasks_[i];
      (t.status != "ok" ? failures : t.thumbs ? pictured : others).push_back(i);
    }
    const size_t keep_failures = std::min(failures.size(), limits.tasks / 2);
    const size_t keep_pictured = std::min(pictured.size(), limits.tasks - keep_failures);
    const size_t keep_others = std::min(others.size(), limits.tasks - keep_failures - keep_pictured);
    std::vector<size_t> kept(failures.end() - static_cast<std::ptrdiff_t>(keep_failures), failures.end());
    kept.insert(kept.end(), pictured.begin(), pictured.begin() + static_cast<std::ptrdiff_t>(keep_pictured));
    kept.insert(kept.end(), others.end() - static_cast<std::ptrdiff_t>(keep_others), others.end());
    std::sort(kept.begin(), kept.end());
    omitted_tasks = shown.size() - kept.size();
    shown = std::move(kept);
  }
  // Pieces and spans refer to every record (the timeline shows superseded runs too); a record not shown
  // in the gallery is named in the timeline by its input alone.
  std::vector<int64_t> index(tasks_.size(), -1);
  Json tasks = Json::array();
  for (size_t i : shown) {
    const Task& t = tasks_[i];
    index[i] = static_cast<int64_t>(tasks.size());
    Json task = {{"run", t.run}, {"task", t.task}, {"input", t.input}, {"output", t.output}, {"ops", t.ops}, {"status", t.status},
                 {"error", t.error}, {"decoded", t.decoded}, {"width", t.width}, {"height", t.height}, {"ms", rounded(t.ms)},
                 {"t", t.t >= 0 ? Json(rounded(t.t)) : Json()}, {"ranks", t.ranks}, {"lost", t.lost}, {"origin", t.origin}};
    if (t.thumbs && !t.thumbs->input.empty()) task["thumb_in"] = t.thumbs->input;
    if (t.thumbs && !t.thumbs->output.empty()) task["thumb_out"] = t.thumbs->output;
    tasks.push_back(std::move(task));
  }
  const auto name_if_hidden = [&](uint32_t task) { return index[task] >= 0 ? Json() : Json(tasks_[task].input); };
  size_t first_piece = 0;
  if (pieces_.size() > limits.pieces) first_piece = pieces_.size() - limits.pieces;
  Json pieces = Json::array();
  for (size_t i = first_piece; i < pieces_.size(); ++i) {
    const Piece& p = pieces_[i];
    Json lost = Json::array();
    for (uint32_t l = p.lost_begin; l < p.lost_end; ++l) {
      lost.push_back(lost_[l].copy ? Json{lost_[l].worker, rounded(lost_[l].sent), 1} : Json{lost_[l].worker, rounded(lost_[l].sent)});
    }
    pieces.push_back({p.run, index[p.task], p.kind, p.stage, p.row0, p.row1, p.worker, rounded(p.sent), rounded(p.done),
                      rounded(p.compute_ms), p.outcome, p.id, std::move(lost), name_if_hidden(p.task)});
  }
  Json spans = Json::array();
  for (const Span& s : spans_) {
    if (first_piece > 0 && s.run + 1 != runs_.size()) continue;
    spans.push_back({s.run, index[s.task], s.op, rounded(s.t0), rounded(s.t1), s.bytes, name_if_hidden(s.task)});
  }
  Json runs = Json::array();
  Json events = Json::array();
  for (size_t r = 0; r < runs_.size(); ++r) {
    const Run& run = runs_[r];
    runs.push_back({{"run", r}, {"version", run.version}, {"command", text(run.header, "command")},
                    {"dips_version", text(run.header, "dips_version")}, {"started_at", text(run.header, "started_at")},
                    {"resume", run.header.value("resume", false)}, {"workers", integer(run.header, "workers")}, {"summary", run.summary},
                    {"t_end", rounded(run.t_end)}});
    for (const Json& event : run.events) events.push_back(event);
  }
  Json status = status_json();
  Json data = {{"page", 1},
               {"live", false},
               {"tasks_total", status["tasks_total"]},
               {"tasks_done", status["tasks_done"]},
               {"tasks_failed", status["tasks_failed"]},
               {"status", status},
               {"runs", std::move(runs)},
               {"workers", workers_json()},
               {"tasks", std::move(tasks)},
               {"kinds", kinds_},
               {"outcomes", outcomes_},
               {"ops", ops_},
               {"pieces", std::move(pieces)},
               {"rank0", std::move(spans)},
               {"events", std::move(events)},
               {"throughput", throughput_json()},
               {"omitted", {{"tasks", omitted_tasks}, {"pieces", first_piece}}}};
  return data;
}

}  // namespace dips
