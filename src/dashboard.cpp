#include "dips/dashboard.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "dips/html_report.h"
#include "dips/report_model.h"

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
  httplib::Server server;
  std::thread thread;
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

Dashboard::~Dashboard() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Dashboard::port() const { return impl_->port; }

void Dashboard::publish(std::shared_ptr<const LiveStatus> status) {
  std::lock_guard<std::mutex> lock(impl_->live_mutex);
  impl_->live.swap(status);
}

Status Dashboard::start(const DashboardAddress& address, const fs::path& journal, std::unique_ptr<Dashboard>* dashboard) {
  auto impl = std::make_unique<Impl>();
  impl->journal = journal;
  httplib::Server& server = impl->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kRequestThreads); };
  // httplib's default also sets SO_REUSEPORT, with which a second job on the same port would bind too and
  // share its connections: a port in use must be an error.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_keep_alive_timeout(1);  // so that stopping never waits long on an idle browser connection
  server.set_payload_max_length(0);  // no request has a body worth reading
  server.set_default_headers({{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}});
  Impl* state = impl.get();
  server.Get("/", [state](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", kPagePolicy);
    res.set_content(render_report_page(state->data()), "text/html; charset=utf-8");
  });
  server.Get("/api/status", [state](const httplib::Request&, httplib::Response& res) {
    res.set_content(state->data().dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) { res.set_content("not found\n", "text/plain"); });
  if (address.port == 0) {
    impl->port = server.bind_to_any_port(address.host);
  } else if (server.bind_to_port(address.host, address.port)) {
    impl->port = address.port;
  } else {
    impl->port = -1;
  }
  if (impl->port <= 0) {
    return Status::Error(fmt::format("cannot serve the dashboard on {}:{} (address in use, or not an address of this machine)", address.host, address.port));
  }
  impl->thread = std::thread([state] { state->server.listen_after_bind(); });
  // httplib's stop() does nothing until its loop has started: wait for it, so that a dashboard stopped at
  // once still closes its port and its thread ends.
  for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  dashboard->reset(new Dashboard(std::move(impl)));
  return Status();
}

}  // namespace dips
