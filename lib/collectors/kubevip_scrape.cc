#include "collectors/kubevip_scrape.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "common/logging.h"
#include "common/metric_family.h"
#include "http/http_client.h"

namespace kvip {
namespace {

constexpr std::string_view kPrefix = "kubevip_";

// Every kubevip_* family of the metric contract (docs/metrics.md), whichever collector
// produces it. A unit test keeps this list in step with the document.
constexpr std::array<std::string_view, 25> kOwnMetricNames = {
    "kubevip_up",
    "kubevip_scrape_duration_seconds",
    "kubevip_process_start_time_seconds",
    "kubevip_process_restarts_total",
    "kubevip_manifest_info",
    "kubevip_vip_bound",
    "kubevip_interface_up",
    "kubevip_vip_last_change_timestamp_seconds",
    "kubevip_is_leader",
    "kubevip_lease_holder_info",
    "kubevip_lease_age_seconds",
    "kubevip_lease_renew_timestamp_seconds",
    "kubevip_lease_acquire_timestamp_seconds",
    "kubevip_lease_duration_seconds",
    "kubevip_lease_transitions",
    "kubevip_lease_expired",
    "kubevip_lease_present",
    "kubevip_lease_watch_up",
    "kubevip_lease_watch_reconnects_total",
    "kubevip_lease_events_total",
    "kubevip_lease_last_event_timestamp_seconds",
    "kubevip_vip_healthz_up",
    "kubevip_vip_healthz_duration_seconds",
    "kubevip_log_lock_conflicts_total",
    "kubevip_log_errors_total",
};

// A re-exported family clashes when any series name it serializes to is one of ours
// (a histogram "x" also writes x_bucket, x_sum and x_count).
bool ClashesWithOwnName(const prometheus::MetricFamily& family) {
  if (IsOwnMetricName(family.name)) return true;
  if (family.type != prometheus::MetricType::Histogram &&
      family.type != prometheus::MetricType::Summary) {
    return false;
  }
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (IsOwnMetricName(family.name + std::string(suffix))) return true;
  }
  return false;
}

// kube-vip's process_start_time_seconds, when it reports exactly one unlabelled sample.
std::optional<double> StartTime(const std::vector<prometheus::MetricFamily>& families) {
  for (const auto& family : families) {
    if (family.name != "process_start_time_seconds") continue;
    if (family.metric.size() != 1 || !family.metric[0].label.empty()) return std::nullopt;
    const auto& metric = family.metric[0];
    if (family.type == prometheus::MetricType::Gauge) return metric.gauge.value;
    if (family.type == prometheus::MetricType::Untyped) return metric.untyped.value;
    return std::nullopt;
  }
  return std::nullopt;
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// lib/http reports transport failures as libcurl's message (prefixed with the URL); the
// kind only decides when to log, the message itself is what the log shows.
ScrapeFailure ClassifyTransportError(std::string_view error) {
  if (Contains(error, "timed out")) return ScrapeFailure::kTimeout;
  if (Contains(error, "Failed to connect") || Contains(error, "Couldn't connect")) {
    return ScrapeFailure::kConnect;
  }
  if (Contains(error, "response body larger than")) return ScrapeFailure::kTooLarge;
  return ScrapeFailure::kTransport;
}

std::string_view FailureName(ScrapeFailure failure) {
  switch (failure) {
    case ScrapeFailure::kNone:
      return "none";
    case ScrapeFailure::kConnect:
      return "connection failed";
    case ScrapeFailure::kTimeout:
      return "timeout";
    case ScrapeFailure::kTransport:
      return "transport error";
    case ScrapeFailure::kHttpStatus:
      return "bad HTTP status";
    case ScrapeFailure::kContentType:
      return "unexpected content type";
    case ScrapeFailure::kTooLarge:
      return "body too large";
    case ScrapeFailure::kParse:
      return "parse error";
  }
  return "unknown";
}

std::string FormatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  return buf;
}

}  // namespace

bool IsOwnMetricName(std::string_view name) {
  return std::find(kOwnMetricNames.begin(), kOwnMetricNames.end(), name) != kOwnMetricNames.end();
}

KubeVipScrapeCollector::KubeVipScrapeCollector(KubeVipScrapeOptions options)
    : options_(std::move(options)) {}

KubeVipScrapeCollector::Scrape KubeVipScrapeCollector::Fetch() const {
  Scrape scrape;
  HttpRequest request;
  request.url = options_.metrics_url;
  request.timeout = options_.timeout;
  request.max_body_bytes = options_.limits.max_body_bytes;
  request.headers = {"Accept: text/plain; version=0.0.4"};
  HttpResponse response = HttpFetch(request);
  if (!response.ok) {
    scrape.failure = ClassifyTransportError(response.error);
    std::string prefix = options_.metrics_url + ": ";
    scrape.reason = response.error.rfind(prefix, 0) == 0 ? response.error.substr(prefix.size())
                                                         : response.error;
    return scrape;
  }
  if (response.status != 200) {
    scrape.failure = ScrapeFailure::kHttpStatus;
    scrape.reason = "HTTP status " + std::to_string(response.status) + " (want 200)";
    return scrape;
  }
  // client_golang answers text/plain; version=0.0.4 to our Accept header. Anything else
  // (an HTML error page, protobuf, OpenMetrics) is not what this parser reads.
  std::string content_type = response.content_type;
  std::transform(content_type.begin(), content_type.end(), content_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!content_type.empty() && content_type.rfind("text/plain", 0) != 0) {
    scrape.failure = ScrapeFailure::kContentType;
    scrape.reason = "Content-Type \"" + response.content_type.substr(0, 100) +
                    "\" is not the text format (want text/plain; version=0.0.4)";
    return scrape;
  }
  promtext::ParseResult parsed = promtext::Parse(response.body, options_.limits);
  if (!parsed.ok()) {
    scrape.failure = ScrapeFailure::kParse;
    scrape.reason = "parse error at " + parsed.error->ToString();
    return scrape;
  }
  scrape.families = std::move(parsed.families);
  return scrape;
}

uint64_t KubeVipScrapeCollector::Observe(const Scrape& scrape, std::optional<double> start_time) {
  std::lock_guard lock(mu_);
  if (last_failure_ != scrape.failure) {
    if (scrape.failure != ScrapeFailure::kNone) {
      LogWarn("kube-vip scrape failed", {{"url", options_.metrics_url},
                                         {"kind", std::string(FailureName(scrape.failure))},
                                         {"reason", scrape.reason}});
    } else {
      LogInfo(last_failure_ ? "kube-vip scrape recovered" : "kube-vip scrape ok",
              {{"url", options_.metrics_url}});
    }
    last_failure_ = scrape.failure;
  }
  // A restart gives a later start time. Concurrent scrapes may finish out of order, so an
  // earlier start time than the one we hold is a stale answer, not a restart.
  if (start_time) {
    if (last_start_time_ && *start_time > *last_start_time_) {
      ++restarts_;
      LogInfo("kube-vip restarted", {{"url", options_.metrics_url},
                                     {"previous_start_time", FormatSeconds(*last_start_time_)},
                                     {"start_time", FormatSeconds(*start_time)}});
    }
    if (!last_start_time_ || *start_time > *last_start_time_) last_start_time_ = start_time;
  }
  return restarts_;
}

bool KubeVipScrapeCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  auto begin = std::chrono::steady_clock::now();
  Scrape scrape = Fetch();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  bool up = scrape.failure == ScrapeFailure::kNone;
  std::optional<double> start_time = up ? StartTime(scrape.families) : std::nullopt;
  uint64_t restarts = Observe(scrape, start_time);

  out.push_back(GaugeFamily("kubevip_up",
                            "1 if kube-vip's /metrics answered with valid text format within "
                            "the deadline.",
                            up ? 1 : 0));
  out.push_back(GaugeFamily("kubevip_scrape_duration_seconds",
                            "Time the scrape of kube-vip's /metrics took.", seconds));
  if (start_time) {
    out.push_back(GaugeFamily("kubevip_process_start_time_seconds",
                              "kube-vip's own process_start_time_seconds.", *start_time));
  }
  out.push_back(CounterFamily("kubevip_process_restarts_total",
                              "kube-vip restarts observed by this exporter (its start time "
                              "changed).",
                              static_cast<double>(restarts)));
  if (!up || !options_.reexport) return up;

  for (auto& family : scrape.families) {
    if (family.metric.empty()) continue;  // a HELP/TYPE line alone: nothing to expose
    family.name = std::string(kPrefix) + family.name;
    if (ClashesWithOwnName(family)) continue;
    promtext::PrepareForTextSerializer(family);
    out.push_back(std::move(family));
  }
  return true;
}

}  // namespace kvip
