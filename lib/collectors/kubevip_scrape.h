#pragma once
// kube-vip's own /metrics (:2112), scraped at collect time within a deadline (concurrent
// scrapes share one request):
// kubevip_up, kubevip_scrape_duration_seconds, kubevip_process_start_time_seconds,
// kubevip_process_restarts_total, and every upstream family re-exposed as kubevip_<name>
// so one target per node carries everything.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "http/http_client.h"
#include "kubevip/metrics_page.h"
#include "promtext/parse.h"

namespace kvip {

struct KubeVipScrapeOptions {
  std::string metrics_url = "http://127.0.0.1:2112/metrics";
  std::chrono::milliseconds timeout{2000};  // connect + transfer; bounds Collect()
  bool reexport = true;
  promtext::Limits limits;  // max_body_bytes also caps the HTTP transfer
};

using kubevip::ScrapeFailure;

// True for every kubevip_* name this exporter produces itself (docs/metrics.md); such
// upstream families are never re-exported, so our own series cannot be shadowed.
bool IsOwnMetricName(std::string_view name);

class KubeVipScrapeCollector final : public Collector {
 public:
  explicit KubeVipScrapeCollector(KubeVipScrapeOptions options);

  std::string_view Name() const override { return "kubevip_scrape"; }
  bool Blocking() const override { return true; }  // an HTTP request to kube-vip per scrape

  // Thread safety: concurrent calls are fine. They are coalesced (single flight): a call
  // that arrives while another one's request to kube-vip is in flight makes no request of
  // its own; it waits for that one's answer and shares it, within its own deadline.
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

  // Calls waiting on another call's request right now. For tests.
  size_t sharing() const;

 private:
  struct Scrape : kubevip::MetricsPage {
    double seconds = 0;  // how long the request to kube-vip took
  };
  // One request to kube-vip and the calls waiting for its answer.
  struct Flight {
    bool done = false;               // guarded by flight_mu_
    size_t joined = 0;               // guarded by flight_mu_; calls that waited for it
    std::shared_ptr<Scrape> scrape;  // set once done; read-only once shared
  };
  struct Answer {
    std::shared_ptr<Scrape> scrape;
    bool exclusive = false;  // no other call shares `scrape`: it may be moved from
  };
  Scrape Fetch();
  // The answer of the request in flight, or of a new one this call makes.
  Answer FetchShared();

  // Records this scrape's outcome (logging when it changes) and kube-vip's start time;
  // returns the restart count to expose.
  uint64_t Observe(const Scrape& scrape, std::optional<double> start_time);

  const KubeVipScrapeOptions options_;

  std::mutex mu_;
  std::optional<double> last_start_time_;      // guarded by mu_
  uint64_t restarts_ = 0;                      // guarded by mu_
  std::optional<ScrapeFailure> last_failure_;  // guarded by mu_; unset before the first scrape

  // Keeps the connection to kube-vip open between scrapes. Only the call that leads a
  // flight uses it, and flights do not overlap.
  HttpSession session_;

  mutable std::mutex flight_mu_;
  std::condition_variable flight_done_;
  std::shared_ptr<Flight> flight_;  // guarded by flight_mu_; the request in flight, if any
  size_t sharing_ = 0;              // guarded by flight_mu_
};

}  // namespace kvip
