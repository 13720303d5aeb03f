#pragma once
// The HTTP side: a landing page at /, /healthz, and the metrics at the telemetry path, with
// --web.config.file's TLS, client certificates, basic auth and headers.
//
// An asynchronous HTTP/1.1 server (Boost.Beast, OpenSSL) on its own I/O thread. The I/O
// thread never blocks: collecting (which may wait for a collector's deadline) and bcrypt
// run on worker threads, so a slow scrape or a password guess does not hold up anyone
// else. Every connection is bounded in time (request, idle and write timeouts), in size
// (request header limit, no request bodies) and in number (a connection limit that drops
// the most stalled connection first), so slow or hostile clients cannot starve a scrape.

#include <prometheus/collectable.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/metric_family.h"

namespace kvip {
namespace detail {
class WebServerCore;
}

struct WebOptions {
  std::string listen_address = ":9112";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;  // exporter-toolkit format; empty: plain HTTP, no auth
  std::string version;          // shown on the landing page

  size_t max_connections = 512;              // at the limit the most stalled connection is dropped
  size_t max_concurrent_scrapes = 10;        // more get 503, as promhttp's MaxRequestsInFlight
  size_t max_concurrent_bcrypt = 2;          // password checks in flight; more get 503
  uint32_t max_request_header_bytes = 8192;  // more gets 431
  // From accept (or a keep-alive request's first byte) to the end of the request header,
  // TLS handshake included: a client trickling bytes is cut off here.
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds idle_timeout{120000};  // between keep-alive requests
  std::chrono::milliseconds write_timeout{30000};  // for one response
  // How often the web config file and the files it names are checked for changes.
  std::chrono::milliseconds config_check_interval{1000};
  // How long Stop() (and the destructor) waits for a running scrape to finish.
  std::chrono::milliseconds shutdown_grace{300};
};

class WebServer {
 public:
  // Starts serving at once. Throws std::runtime_error naming the address when it cannot
  // listen (bad address, port taken), or the file and the problem when the web config is
  // unusable.
  WebServer(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics);
  // Stop(options.shutdown_grace) unless stopped already.
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Ports actually bound (port 0 resolves to a free port).
  std::vector<int> ListeningPorts() const;

  // Re-reads the web config now (SIGHUP). A bad file keeps the current config and logs
  // why. Returns true when the file's content is now in effect. Thread-safe; waits for the
  // I/O thread, which only ever runs short handlers.
  bool ReloadConfig();

  // Stops accepting, closes every connection and waits up to `grace` for scrapes still
  // collecting. Returns false when one was still running: it finishes on its own thread
  // (its result is dropped), and the caller should exit without running destructors that
  // collectors may still use. Idempotent; returns the first call's answer.
  bool Stop(std::chrono::milliseconds grace);

 private:
  std::unique_ptr<detail::WebServerCore> core_;
};

}  // namespace kvip
