#pragma once
// kube-vip's own /metrics (:2112), scraped at collect time within a deadline:
// kubevip_up, kubevip_scrape_duration_seconds, kubevip_process_start_time_seconds,
// kubevip_process_restarts_total, and every upstream family re-exposed as kubevip_<name>
// so one target per node carries everything.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "collectors/collector.h"
#include "promtext/parse.h"

namespace kvip {

struct KubeVipScrapeOptions {
  std::string metrics_url = "http://127.0.0.1:2112/metrics";
  std::chrono::milliseconds timeout{2000};  // connect + transfer; bounds Collect()
  bool reexport = true;
  promtext::Limits limits;  // max_body_bytes also caps the HTTP transfer
};

// Why a scrape failed; log lines are written when this changes, not on every scrape.
enum class ScrapeFailure {
  kNone,
  kConnect,
  kTimeout,
  kTransport,
  kHttpStatus,
  kContentType,
  kTooLarge,
  kParse
};

// True for every kubevip_* name this exporter produces itself (docs/metrics.md); such
// upstream families are never re-exported, so our own series cannot be shadowed.
bool IsOwnMetricName(std::string_view name);

class KubeVipScrapeCollector final : public Collector {
 public:
  explicit KubeVipScrapeCollector(KubeVipScrapeOptions options);

  std::string_view Name() const override { return "kubevip_scrape"; }

  // Thread safety: concurrent calls are fine; the restart state is behind a mutex and
  // each call does its own HTTP request.
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  struct Scrape {
    ScrapeFailure failure = ScrapeFailure::kNone;
    std::string reason;  // human-readable, for the log line
    std::vector<prometheus::MetricFamily> families;
  };
  Scrape Fetch() const;

  // Records this scrape's outcome (logging when it changes) and kube-vip's start time;
  // returns the restart count to expose.
  uint64_t Observe(const Scrape& scrape, std::optional<double> start_time);

  const KubeVipScrapeOptions options_;

  std::mutex mu_;
  std::optional<double> last_start_time_;      // guarded by mu_
  uint64_t restarts_ = 0;                      // guarded by mu_
  std::optional<ScrapeFailure> last_failure_;  // guarded by mu_; unset before the first scrape
};

}  // namespace kvip
