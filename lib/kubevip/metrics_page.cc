#include "kubevip/metrics_page.h"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace kvip::kubevip {
namespace {

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

}  // namespace

std::string_view FailureName(ScrapeFailure failure) {
  // In the order of the enum.
  static constexpr std::string_view kNames[] = {"none",
                                                "connection failed",
                                                "timeout",
                                                "transport error",
                                                "bad HTTP status",
                                                "unexpected content type",
                                                "body too large",
                                                "parse error"};
  auto index = static_cast<size_t>(failure);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

HttpRequest MetricsRequest(const std::string& url, std::chrono::milliseconds timeout,
                           size_t max_body_bytes) {
  HttpRequest request;
  request.url = url;
  request.timeout = timeout;
  request.max_body_bytes = max_body_bytes;
  request.headers = {"Accept: text/plain; version=0.0.4"};
  request.accept_compressed = false;
  return request;
}

MetricsPage ReadMetricsPage(const std::string& url, const HttpResponse& response,
                            const promtext::Limits& limits) {
  MetricsPage page;
  if (!response.ok) {
    page.failure = ClassifyTransportError(response.error);
    std::string prefix = url + ": ";
    page.reason = response.error.rfind(prefix, 0) == 0 ? response.error.substr(prefix.size())
                                                       : response.error;
    return page;
  }
  if (response.status != 200) {
    page.failure = ScrapeFailure::kHttpStatus;
    page.reason = "HTTP status " + std::to_string(response.status) + " (want 200)";
    return page;
  }
  // client_golang answers text/plain; version=0.0.4 to our Accept header. Anything else
  // (an HTML error page, protobuf, OpenMetrics) is not what this parser reads.
  std::string content_type = response.content_type;
  std::transform(content_type.begin(), content_type.end(), content_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!content_type.empty() && content_type.rfind("text/plain", 0) != 0) {
    page.failure = ScrapeFailure::kContentType;
    page.reason = "Content-Type \"" + response.content_type.substr(0, 100) +
                  "\" is not the text format (want text/plain; version=0.0.4)";
    return page;
  }
  promtext::ParseResult parsed = promtext::Parse(response.body, limits);
  if (!parsed.ok()) {
    page.failure = ScrapeFailure::kParse;
    page.reason = "parse error at " + parsed.error->ToString();
    return page;
  }
  page.families = std::move(parsed.families);
  return page;
}

std::optional<double> ProcessStartTime(const std::vector<prometheus::MetricFamily>& families) {
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

}  // namespace kvip::kubevip
