#include "dips/dashboard.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>

#include "dips/html_report.h"
#include "dips/report_model.h"
#include "http_module.h"
#include "module_loader.h"

namespace dips {
namespace fs = std::filesystem;
namespace {

using Json = nlohmann::json;

// What one /api/status carries at most, so that serving a huge job stays cheap for rank 0's machine.
constexpr size_t kLiveTasks = 500;
constexpr size_t kLivePieces = 20000;
constexpr int kRequestThreads = 2;

// The page may talk to this server only; nothing is loaded from anywhere else.
constexpr const char* kPagePolicy =
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";

size_t intern(Json& table, const std::string& name) {
  for (size_t i = 0; i < table.size(); ++i) {
    if (table[i] == name) return i;
  }
  table.push_back(name);
  return table.size() - 1;
}

Json piece_json(const LivePiece& p) {
  return {{"id", p.id}, {"worker", p.worker}, {"kind", p.kind}, {"input", p.input}, {"sent", p.sent}};
}

// The live status over the journal's view: counts, worker states, pieces not in the journal yet.
void lay_over(const LiveStatus& live, Json* data) {
  Json& d = *data;
  d["live"] = true;
  d["status"]["state"] = "running";
  d["tasks_total"] = live.tasks_total;
  d["tasks_done"] = live.ok + live.failed + live.skipped;
  d["tasks_failed"] = live.failed;
  Json in_flight = Json::array();
  for (const LivePiece& p : live.in_flight) in_flight.push_back(piece_json(p));
  d["live_status"] = {{"t", live.t}, {"ok", live.ok}, {"failed", live.failed}, {"skipped", live.skipped}, {"megapixels", live.megapixels},
                      {"in_flight", std::move(in_flight)}};
  const size_t run = d["runs"].empty() ? 0 : d["runs"].size() - 1;
  Json workers = Json::array();
  std::map<int, Json> current;
  for (Json& w : d["workers"]) {
    if (w["run"] == run) current[w["rank"].get<int>()] = w;
    else workers.push_back(w);
  }
  for (const LiveStatus::Worker& lw : live.workers) {
    Json& w = current[lw.rank];
    if (w.is_null()) w = {{"run", run}, {"rank", lw.rank}, {"host", ""}, {"pid", 0}, {"threads", 0}, {"pieces_done", 0}};
    w["state"] = lw.state;
    w["in_flight"] = lw.in_flight;
  }
  for (auto& [rank, w] : current) workers.push_back(std::move(w));
  d["workers"] = std::move(workers);
  std::set<uint64_t> known;
  for (const Json& p : d["pieces"]) {
    if (p[0] == run) known.insert(p[11].get<uint64_t>());
  }
  for (const LivePiece& p : live.recent) {
    if (known.count(p.id)) continue;
    const size_t kind = intern(d["kinds"], p.kind), outcome = intern(d["outcomes"], p.ok ? "ok" : "error");
    d["pieces"].push_back({run, -1, kind, 0, 0, 0, p.worker, p.sent, p.done, p.compute_ms, outcome, p.id, Json::array(), p.input});
  }
}

// The HTTP server, from libdips_http.so: opened by the first dashboard of the process (http_module.h).
struct HttpFunctions {
  http_module::StartFunction start = nullptr;
  http_module::StopFunction stop = nullptr;
  std::string error;  // why the module could not be used; empty when it can
};

const HttpFunctions& http_functions() {
  static const HttpFunctions functions = [] {
    const OpenedModule opened =
        open_module({http_module::kFileName, "DIPS_HTTP_MODULE", "dips_http_abi", http_module::kAbiVersion, {"dips_http_start", "dips_http_stop"}});
    HttpFunctions loaded;
    loaded.start = reinterpret_cast<http_module::StartFunction>(opened.symbol("dips_http_start"));
    loaded.stop = reinterpret_cast<http_module::StopFunction>(opened.symbol("dips_http_stop"));
    if (!opened.error.empty()) loaded.error = "the dashboard's HTTP server is not available: " + opened.error;
    return loaded;
  }();
  return functions;
}

}  // namespace

Status parse_dashboard_address(const std::string& text, DashboardAddress* address) {
  const auto bad = [&](const std::string& why) {
    return Status::Error(fmt::format("--dashboard '{}': {} (expected PORT or HOST:PORT, e.g. 8080 or 127.0.0.1:0)", text, why));
  };
  std::string host = "127.0.0.1", port = text;
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) return bad("no host before ':'");
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return bad("the port is not a number");
  }
  const int number = std::stoi(port);
  if (number > 65535) return bad("the port is beyond 65535");
  address->host = host;
  address->port = number;
  return Status();
}

struct Dashboard::Impl {
  void* server = nullptr;  // http_module's, stopped before the rest of Impl goes
  int port = 0;
  fs::path journal;
  std::mutex live_mutex;  // guards `live` only: held for a pointer copy
  std::shared_ptr<const LiveStatus> live;
  std::mutex model_mutex;  // the request threads share the model
  ReportModel model;

  Json data() {
    std::shared_ptr<const LiveStatus> now;
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      now = live;
    }
    Json d;
    {
      std::lock_guard<std::mutex> lock(model_mutex);
      model.read_more(journal);  // an unreadable journal leaves the last view: the live status still shows
      PageLimits limits;
      limits.tasks = kLiveTasks;
      limits.pieces = kLivePieces;
      d = model.page_data(limits);
    }
    d["source"] = journal.filename().string();
    if (now) lay_over(*now, &d);
    else d["live"] = true;
    return d;
  }
};

Dashboard::Dashboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Dashboard::~Dashboard() { http_functions().stop(impl_->server); }

int Dashboard::port() const { return impl_->port; }

void Dashboard::publish(std::shared_ptr<const LiveStatus> status) {
  std::lock_guard<std::mutex> lock(impl_->live_mutex);
  impl_->live.swap(status);
}

Status Dashboard::start(const DashboardAddress& address, const fs::path& journal, std::unique_ptr<Dashboard>* dashboard) {
  const HttpFunctions& http = http_functions();
  if (!http.error.empty()) return Status::Error("cannot serve the dashboard: " + http.error);
  auto impl = std::make_unique<Impl>();
  impl->journal = journal;
  Impl* state = impl.get();
  http_module::ServerConfig config;
  config.host = address.host;
  config.port = address.port;
  config.threads = kRequestThreads;
  config.default_headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}};
  config.routes = {{"/", [state](http_module::Reply* reply) {
                      reply->headers = {{"Content-Security-Policy", kPagePolicy}};
                      reply->body = render_report_page(state->data());
                      reply->content_type = "text/html; charset=utf-8";
                    }},
                   {"/api/status", [state](http_module::Reply* reply) {
                      reply->body = state->data().dump(-1, ' ', false, Json::error_handler_t::replace);
                      reply->content_type = "application/json";
                    }}};
  std::string error;
  impl->server = http.start(&config, &impl->port, &error);
  if (impl->server == nullptr) return Status::Error(fmt::format("cannot serve the dashboard on {}:{}: {}", address.host, address.port, error));
  dashboard->reset(new Dashboard(std::move(impl)));
  return Status();
}

}  // namespace dips
