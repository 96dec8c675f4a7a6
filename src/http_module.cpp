// libdips_http.so: cpp-httplib behind http_module.h.
#include "http_module.h"

#include <httplib.h>

#include <chrono>
#include <exception>
#include <memory>
#include <thread>

namespace {

using dips::http_module::Reply;
using dips::http_module::ServerConfig;

struct Server {
  httplib::Server http;
  std::thread thread;
};

void configure(const ServerConfig& config, httplib::Server* http) {
  const int threads = config.threads;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib's default also sets SO_REUSEPORT, with which a second job on the same port would bind too and
  // share its connections: a port in use must be an error.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http->set_keep_alive_timeout(1);  // so that stopping never waits long on an idle browser connection
  http->set_payload_max_length(0);  // no request has a body worth reading
  httplib::Headers headers;
  for (const auto& [name, value] : config.default_headers) headers.emplace(name, value);
  http->set_default_headers(headers);
  for (const auto& [path, handler] : config.routes) {
    http->Get(path, [handler](const httplib::Request&, httplib::Response& res) {
      Reply reply;
      handler(&reply);
      for (const auto& [name, value] : reply.headers) res.set_header(name, value);
      res.set_content(reply.body, reply.content_type);
    });
  }
  http->set_error_handler([](const httplib::Request&, httplib::Response& res) { res.set_content("not found\n", "text/plain"); });
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int dips_http_abi() { return dips::http_module::kAbiVersion; }

extern "C" __attribute__((visibility("default"))) void* dips_http_start(const ServerConfig* config, int* bound_port, std::string* error) {
  try {
    auto server = std::make_unique<Server>();
    httplib::Server& http = server->http;
    configure(*config, &http);
    int port = -1;
    if (config->port == 0) {
      port = http.bind_to_any_port(config->host);
    } else if (http.bind_to_port(config->host, config->port)) {
      port = config->port;
    }
    if (port <= 0) {
      *error = "the address is in use, or not an address of this machine";
      return nullptr;
    }
    Server* state = server.get();
    server->thread = std::thread([state] { state->http.listen_after_bind(); });
    // httplib's stop() does nothing until its loop has started: wait for it, so that a server stopped at
    // once still closes its port and its thread ends.
    for (int i = 0; i < 5000 && !http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    *bound_port = port;
    return server.release();
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}

extern "C" __attribute__((visibility("default"))) void dips_http_stop(void* opaque) {
  auto* server = static_cast<Server*>(opaque);
  server->http.stop();
  if (server->thread.joinable()) server->thread.join();
  delete server;
}
