#pragma once
// The HTTP side: a landing page at /, /healthz, and the metrics at the telemetry path,
// served by civetweb with prometheus-cpp's text serializer.

#include <prometheus/collectable.h>

#include <memory>
#include <string>
#include <vector>

class CivetServer;

namespace kvip {

struct WebOptions {
  std::string listen_address = ":9112";
  std::string telemetry_path = "/metrics";
  int threads = 4;
  int request_timeout_ms = 10000;
  std::string version;  // shown on the landing page
};

class WebServer {
 public:
  // Starts serving at once. Throws std::runtime_error naming the address when it cannot
  // listen (bad address, port taken).
  WebServer(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Ports actually bound (port 0 resolves to a free port).
  std::vector<int> ListeningPorts() const;

 private:
  class Handler;
  std::unique_ptr<Handler> landing_, health_, metrics_;
  std::unique_ptr<CivetServer> server_;
};

}  // namespace kvip
