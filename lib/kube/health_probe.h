#pragma once
// Probes an API server health endpoint (/healthz, /livez) in the background, every
// `interval` on the daemon's Asio loop through CurlLoop, and keeps the last result for
// scrapes to read: a scrape never waits for the peer, and the peer sees one GET per interval
// however often the exporter is scraped. Shared by the VIP healthz probe and the local API
// server probe.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/http_client.h"
#include "kube/curl_loop.h"

namespace kvip::kube {

struct HealthProbeOptions {
  std::string what;                     // for logs, e.g. "VIP healthz"
  std::string url;                      // answers 200 "ok" when healthy
  std::vector<std::string> connect_to;  // HttpRequest::connect_to
  TlsOptions tls;                       // CA and client certificate; no bearer token (see Probe())
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds interval{5000};  // start to start
};

struct HealthProbeResult {
  bool known = false;  // a probe has ended
  bool up = false;
  double seconds = 0;    // how long it took
  double timestamp = 0;  // when it ended, Unix seconds
};

class HealthProbe {
 public:
  // The first probe starts on the loop's first turn. Destroy on the loop's thread or after
  // the loop stopped.
  HealthProbe(boost::asio::io_context& loop, HealthProbeOptions options);
  ~HealthProbe();
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  // Thread safety: callable from any thread.
  HealthProbeResult Last() const;

  const std::string& url() const { return options_.url; }

 private:
  // Loop thread only.
  void Probe();
  void OnProbeDone(const HttpResponse& response);
  void ScheduleNext();

  HealthProbeOptions options_;
  CurlLoop curl_;
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::time_point started_{};  // loop thread: the probe's start
  int last_up_ = -1;  // loop thread; -1 unknown; for logging changes only

  mutable std::mutex mutex_;
  HealthProbeResult last_;  // guarded by mutex_

  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // handlers hold a weak_ptr
};

}  // namespace kvip::kube
