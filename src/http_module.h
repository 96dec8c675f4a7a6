#pragma once
// The interface between dips (dashboard.cpp) and libdips_http.so (http_module.cpp), the one part of dips
// that links cpp-httplib (and through it OpenSSL and Brotli), loaded with dlopen when a job asks for
// --dashboard (module_loader.h). Both sides are built together with the same compiler, so C++ types may
// cross; no exception does.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace dips::http_module {

// Raised with any change below, so that a module left over from another build is refused.
constexpr int kAbiVersion = 1;
constexpr const char* kFileName = "libdips_http.so";

using Headers = std::vector<std::pair<std::string, std::string>>;

// The answer to one GET.
struct Reply {
  std::string body, content_type;
  Headers headers;  // besides ServerConfig::default_headers
};

// A server that answers GET for these exact paths, on `threads` request threads, and "not found" (404) for
// anything else. Handlers run on the request threads.
struct ServerConfig {
  std::string host;
  int port = 0;  // 0: any free port
  int threads = 1;
  Headers default_headers;
  std::vector<std::pair<std::string, std::function<void(Reply*)>>> routes;
};

using StartFunction = void* (*)(const ServerConfig* config, int* bound_port, std::string* error);
using StopFunction = void (*)(void* server);

}  // namespace dips::http_module

extern "C" {
// kAbiVersion of the module.
int dips_http_abi();
// Binds and starts serving on a thread of its own; returns the server, or null with *error set (the
// address cannot be bound). Only SO_REUSEADDR is set: a port in use is an error, not a shared port.
void* dips_http_start(const dips::http_module::ServerConfig* config, int* bound_port, std::string* error);
// Stops serving, closes the port and ends the server's threads.
void dips_http_stop(void* server);
}
