// dashboard: --dashboard's address; the server answers GET / with the page and GET /api/status with the
// journal's view under the live status, and nothing else (404), reads what the journal gains, and closes
// its port when destroyed.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <cstdlib>
#include <fstream>

#include "dips/dashboard.h"
#include "harness.h"
#include "journal_samples.h"

namespace fs = std::filesystem;
using namespace dips;
using namespace dips::testing;
using Json = nlohmann::json;

TEST_CASE("dashboard address: PORT or HOST:PORT", "[dashboard]") {
  DashboardAddress address;
  REQUIRE(parse_dashboard_address("8080", &address).ok());
  CHECK(address.host == "127.0.0.1");
  CHECK(address.port == 8080);
  REQUIRE(parse_dashboard_address("0.0.0.0:0", &address).ok());
  CHECK(address.host == "0.0.0.0");
  CHECK(address.port == 0);
  REQUIRE(parse_dashboard_address("[::1]:9000", &address).ok());
  CHECK(address.host == "::1");
  CHECK(address.port == 9000);
  for (const char* bad : {"", "http", "host:", ":80", "127.0.0.1:65536", "80a", "-1", "1234567"}) {
    INFO(bad);
    CHECK_FALSE(parse_dashboard_address(bad, &address).ok());
  }
}

TEST_CASE("dashboard: the page and its data, nothing else; the port closes with it", "[dashboard]") {
  TempDir dir;
  const fs::path journal = dir / "report.jsonl";
  const std::string lines = version1_journal({{"in/a.png", "blur=3", "out/a.png"}, {"in/<b>.png", "blur=3", "out/b.png"}}, true);
  std::ofstream(journal, std::ios::binary) << lines.substr(0, lines.rfind("{\"input\""));  // a's line only, so far

  std::unique_ptr<Dashboard> dashboard;
  REQUIRE(Dashboard::start(DashboardAddress{"127.0.0.1", 0}, journal, &dashboard).ok());
  const int port = dashboard->port();
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);

  SECTION("/api/status: the journal so far, under what rank 0 published") {
    auto status = client.Get("/api/status");
    REQUIRE(status);
    CHECK(status->status == 200);
    CHECK(status->get_header_value("Content-Type") == "application/json");
    Json data = Json::parse(status->body);
    CHECK(data["live"] == true);
    CHECK(data["tasks"].size() == 1);

    auto live = std::make_shared<LiveStatus>();
    live->t = 2.5;
    live->tasks_total = 7;
    live->ok = 2;
    live->failed = 1;
    live->workers = {{1, "busy", 1}, {2, "lost", 0}, {3, "suspect", 0}, {4, "idle", 0}};
    live->in_flight = {{9, 1, "band", "in/c.png", 2.4, 0, 0, false}};
    live->recent = {{8, 1, "file", "in/d.png", 2.0, 2.3, 120, true}};
    dashboard->publish(live);
    std::ofstream(journal, std::ios::binary | std::ios::app) << lines.substr(lines.rfind("{\"input\""));
    data = Json::parse(client.Get("/api/status")->body);
    CHECK(data["tasks_total"] == 7);
    CHECK(data["tasks_done"] == 3);
    CHECK(data["tasks_failed"] == 1);
    CHECK(data["status"]["state"] == "running");
    CHECK(data["tasks"].size() == 2);  // the journal's new line was read
    std::map<int, std::string> states;
    for (const Json& w : data["workers"]) states[w["rank"].get<int>()] = w["state"];
    CHECK(states == std::map<int, std::string>{{1, "busy"}, {2, "lost"}, {3, "suspect"}, {4, "idle"}});
    CHECK(data["live_status"]["in_flight"][0]["id"] == 9);
    CHECK(data["pieces"].back()[11] == 8);  // a piece back before its task's line
  }
  SECTION("/: the page, which may talk to this server only") {
    auto page = client.Get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
    CHECK(page->get_header_value("Content-Security-Policy").find("default-src 'none'") != std::string::npos);
    CHECK(page->body.find("<script id=\"dips-data\" type=\"application/json\">") != std::string::npos);
    CHECK(page->body.find("\"live\":true") != std::string::npos);
    CHECK(page->body.find("in/<b>.png") == std::string::npos);  // data, not markup
  }
  SECTION("nothing else: other paths, files, traversal, other methods") {
    for (const char* path : {"/report.jsonl", "/api", "/api/status/", "/api/status/../../report.jsonl", "/../report.jsonl", "/%2e%2e/report.jsonl",
                             "/index.html", "//", "/etc/passwd", "/favicon.ico"}) {
      INFO(path);
      auto response = client.Get(path);
      REQUIRE(response);
      CHECK(response->status == 404);
      CHECK(response->body.find("dips_report") == std::string::npos);
    }
    auto post = client.Post("/api/status", "x", "text/plain");
    REQUIRE(post);
    CHECK(post->status >= 400);
    auto del = client.Delete("/");
    REQUIRE(del);
    CHECK(del->status >= 400);
  }
  client.stop();
  dashboard.reset();
  httplib::Client after("127.0.0.1", port);
  after.set_connection_timeout(1);
  CHECK_FALSE(after.Get("/api/status"));
}

TEST_CASE("dashboard: a port in use is an error", "[dashboard]") {
  TempDir dir;
  std::unique_ptr<Dashboard> first, second;
  REQUIRE(Dashboard::start(DashboardAddress{"127.0.0.1", 0}, dir / "report.jsonl", &first).ok());
  const Status status = Dashboard::start(DashboardAddress{"127.0.0.1", first->port()}, dir / "report.jsonl", &second);
  CHECK_FALSE(status.ok());
  CHECK(status.message().find("cannot serve the dashboard") != std::string::npos);
}

TEST_CASE("without libdips_http.so, --dashboard is an error that says where dips looked", "[.module_missing]") {
  const char* configured = std::getenv("DIPS_HTTP_MODULE");
  REQUIRE(configured != nullptr);
  TempDir dir;
  std::unique_ptr<Dashboard> dashboard;
  const Status status = Dashboard::start(DashboardAddress{"127.0.0.1", 0}, dir / "report.jsonl", &dashboard);
  REQUIRE_FALSE(status.ok());
  INFO(status.message());
  CHECK(dashboard == nullptr);
  CHECK(status.message().find("cannot serve the dashboard") != std::string::npos);
  CHECK(status.message().find(configured) != std::string::npos);
  CHECK(status.message().find("libdips_http.so") != std::string::npos);
  CHECK(status.message().find("DIPS_HTTP_MODULE") != std::string::npos);
}
