#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dips/status.h"

namespace dips {

// Where --dashboard serves: "PORT" (on 127.0.0.1) or "HOST:PORT" ("[::1]:PORT" for IPv6); port 0 picks a
// free port.
struct DashboardAddress {
  std::string host = "127.0.0.1";
  int port = 0;
};

// Parses --dashboard's value; an error names what is wrong with it.
Status parse_dashboard_address(const std::string& text, DashboardAddress* address);

// A piece on a worker now, or just back (its task's journal line, which records it, comes later).
struct LivePiece {
  uint64_t id = 0;
  int worker = -1;
  std::string kind, input;
  double sent = 0, done = 0, compute_ms = 0;  // done = 0: still in flight
  bool ok = false;
};

// What rank 0 knows now that its journal does not say yet, published to the dashboard a few times a
// second. Times are seconds since the job started.
struct LiveStatus {
  double t = 0;
  size_t tasks_total = 0, ok = 0, failed = 0, skipped = 0;
  double megapixels = 0;
  struct Worker {
    int rank = -1;
    std::string state;  // "idle", "busy", "suspect", "standby" or "lost"
    size_t in_flight = 0;
  };
  std::vector<Worker> workers;
  std::vector<LivePiece> in_flight;
  std::vector<LivePiece> recent;  // the latest pieces back, oldest first
};

// The live dashboard (--dashboard): an HTTP server on a thread of its own (cpp-httplib, two request
// threads) that serves the report page (GET /) refreshing itself from GET /api/status: the page's data
// (ReportModel::page_data) read from the journal as it grows, with the last published LiveStatus laid
// over it. Nothing else is served (404): no path of the request reaches the file system, and no request
// changes anything. Rank 0 only publishes: the one lock it takes is a pointer swap.
class Dashboard {
 public:
  // Binds host:port and starts serving. An address that cannot be bound is an error.
  static Status start(const DashboardAddress& address, const std::filesystem::path& journal, std::unique_ptr<Dashboard>* dashboard);
  // Stops serving and closes the port.
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // The port it listens on (the one chosen when asked for port 0).
  int port() const;
  // Replaces the live status that /api/status lays over the journal.
  void publish(std::shared_ptr<const LiveStatus> status);

 private:
  struct Impl;
  explicit Dashboard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dips
