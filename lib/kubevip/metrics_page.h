#pragma once
// kube-vip's own :2112/metrics, one definition of how it is asked for and read, for the
// daemon's scrape (kubevip_scrape collector) and the one-shot modes' probes: the request,
// the judgement of the answer (transport, status, content type, text format) and the
// typed reading of process_start_time_seconds.

#include <prometheus/metric_family.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_client.h"
#include "promtext/parse.h"

namespace kvip::kubevip {

// Why a read failed; the daemon logs when this changes, not on every scrape.
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
std::string_view FailureName(ScrapeFailure failure);

struct MetricsPage {
  ScrapeFailure failure = ScrapeFailure::kNone;
  std::string reason;  // human-readable, without the URL
  std::vector<prometheus::MetricFamily> families;
  bool ok() const { return failure == ScrapeFailure::kNone; }
};

// GET <url> for the text format, uncompressed: kube-vip is on this node (or this LAN),
// where gzip would cost it more than the text itself (about x1.7 instructions per answer,
// bench/results.md) and us an inflate, to save no network.
HttpRequest MetricsRequest(const std::string& url, std::chrono::milliseconds timeout,
                           size_t max_body_bytes);

MetricsPage ReadMetricsPage(const std::string& url, const HttpResponse& response,
                            const promtext::Limits& limits);

// kube-vip's process_start_time_seconds, when it reports exactly one unlabelled gauge or
// untyped sample.
std::optional<double> ProcessStartTime(const std::vector<prometheus::MetricFamily>& families);

}  // namespace kvip::kubevip
