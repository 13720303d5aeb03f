#include "collectors/kubevip_scrape.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "common/logging.h"
#include "common/metric_catalog.h"
#include "http/http_client.h"

namespace kvip {
namespace {

constexpr std::string_view kPrefix = "kubevip_";

// Every kubevip_* family this exporter produces, from the metric catalogue: upstream
// families by those names are never re-exported, so our own series cannot be shadowed.
const std::vector<std::string_view>& OwnMetricNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> all;
    for (const FamilySpec& spec : kMetricCatalog)
      if (spec.name.starts_with(kPrefix)) all.push_back(spec.name);
    std::sort(all.begin(), all.end());
    return all;
  }();
  return names;
}

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

std::string FormatSeconds(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  return buf;
}

}  // namespace

bool IsOwnMetricName(std::string_view name) {
  return std::binary_search(OwnMetricNames().begin(), OwnMetricNames().end(), name);
}

KubeVipScrapeCollector::KubeVipScrapeCollector(KubeVipScrapeOptions options)
    : options_(std::move(options)) {}

KubeVipScrapeCollector::Scrape KubeVipScrapeCollector::Fetch() {
  HttpRequest request = kubevip::MetricsRequest(options_.metrics_url, options_.timeout,
                                                options_.limits.max_body_bytes);
  Scrape scrape;
  static_cast<kubevip::MetricsPage&>(scrape) =
      kubevip::ReadMetricsPage(options_.metrics_url, session_.Fetch(request), options_.limits);
  return scrape;
}

uint64_t KubeVipScrapeCollector::Observe(const Scrape& scrape, std::optional<double> start_time) {
  std::lock_guard lock(mu_);
  if (last_failure_ != scrape.failure) {
    if (scrape.failure != ScrapeFailure::kNone) {
      LogWarn("kube-vip scrape failed",
              {{"url", options_.metrics_url},
               {"kind", std::string(kubevip::FailureName(scrape.failure))},
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

size_t KubeVipScrapeCollector::sharing() const {
  std::lock_guard lock(flight_mu_);
  return sharing_;
}

KubeVipScrapeCollector::Answer KubeVipScrapeCollector::FetchShared() {
  auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  std::unique_lock lock(flight_mu_);
  if (std::shared_ptr<Flight> flight = flight_) {
    // Another scrape is asking kube-vip already: its answer is as fresh as ours would be.
    ++flight->joined;
    ++sharing_;
    bool done = flight_done_.wait_until(lock, deadline, [&] { return flight->done; });
    --sharing_;
    if (done) return {flight->scrape, false};
    // The request in flight outlived our deadline (it started earlier, so this is only its
    // parsing or a starved thread): fail this scrape rather than wait longer.
    auto late = std::make_shared<Scrape>();
    late->failure = ScrapeFailure::kTimeout;
    late->reason = "timed out waiting for a concurrent scrape of kube-vip";
    late->seconds = std::chrono::duration<double>(options_.timeout).count();
    return {late, true};
  }
  auto flight = std::make_shared<Flight>();
  flight_ = flight;
  lock.unlock();

  auto begin = std::chrono::steady_clock::now();
  auto scrape = std::make_shared<Scrape>(Fetch());
  scrape->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  lock.lock();
  flight->scrape = scrape;
  flight->done = true;
  flight_.reset();  // later calls start a new request: no answer is reused once delivered
  bool exclusive = flight->joined == 0;
  lock.unlock();
  flight_done_.notify_all();
  return {scrape, exclusive};
}

bool KubeVipScrapeCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Answer answer = FetchShared();
  Scrape& scrape = *answer.scrape;
  double seconds = scrape.seconds;
  bool up = scrape.failure == ScrapeFailure::kNone;
  std::optional<double> start_time = up ? kubevip::ProcessStartTime(scrape.families) : std::nullopt;
  uint64_t restarts = Observe(scrape, start_time);

  out.push_back(MakeFamily(Spec("kubevip_up"), up ? 1 : 0));
  out.push_back(MakeFamily(Spec("kubevip_scrape_duration_seconds"), seconds));
  if (start_time)
    out.push_back(MakeFamily(Spec("kubevip_process_start_time_seconds"), *start_time));
  out.push_back(MakeFamily(Spec("kubevip_process_restarts_total"), static_cast<double>(restarts)));
  if (!up || !options_.reexport) return up;

  // Families shared with concurrent scrapes are read-only: each of those renames a copy.
  for (auto& upstream : scrape.families) {
    if (upstream.metric.empty()) continue;  // a HELP/TYPE line alone: nothing to expose
    prometheus::MetricFamily family = answer.exclusive ? std::move(upstream) : upstream;
    family.name.insert(0, kPrefix);
    if (ClashesWithOwnName(family)) continue;
    promtext::PrepareForTextSerializer(family);
    out.push_back(std::move(family));
  }
  return true;
}

}  // namespace kvip
