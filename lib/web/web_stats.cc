#include "web/web_stats.h"

#include <string>
#include <string_view>
#include <utility>

namespace kvip::detail {
namespace {

constexpr std::string_view kCodeLabel[] = {"code"};
constexpr std::string_view kReasonLabel[] = {"reason"};
constexpr FamilySpec kFamilies[] = {
    {"kvip_exporter_web_requests_total", prometheus::MetricType::Counter,
     "HTTP requests answered, by status code.", kCodeLabel},
    {"kvip_exporter_web_connections", prometheus::MetricType::Gauge, "Open HTTP connections."},
    {"kvip_exporter_web_connections_dropped_total", prometheus::MetricType::Counter,
     "Connections the server closed before answering, by reason.", kReasonLabel},
    {"kvip_exporter_web_config_last_reload_successful", prometheus::MetricType::Gauge,
     "1 if the last (re)load of --web.config.file succeeded."},
    {"kvip_exporter_web_config_last_reload_success_timestamp_seconds",
     prometheus::MetricType::Gauge, "When --web.config.file was last loaded successfully."},
};
constexpr const FamilySpec& kRequests = FamilyIn(kFamilies, "kvip_exporter_web_requests_total");
constexpr const FamilySpec& kConnections = FamilyIn(kFamilies, "kvip_exporter_web_connections");
constexpr const FamilySpec& kDropped =
    FamilyIn(kFamilies, "kvip_exporter_web_connections_dropped_total");
constexpr const FamilySpec& kReloadOk =
    FamilyIn(kFamilies, "kvip_exporter_web_config_last_reload_successful");
constexpr const FamilySpec& kReloadTime =
    FamilyIn(kFamilies, "kvip_exporter_web_config_last_reload_success_timestamp_seconds");

}  // namespace

std::span<const FamilySpec> WebStats::Families() { return kFamilies; }

void WebStats::Request(unsigned code) {
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (static_cast<unsigned>(kCodes[i]) == code) requests_[i]++;
  }
}

void WebStats::Reloaded(bool ok) {
  reload_ok_ = ok;
  if (ok) reload_success_time_ = UnixNow();
}

void WebStats::AppendFamilies(std::vector<prometheus::MetricFamily>& out) const {
  static constexpr std::array<std::string_view, kDropCount> kDropNames = {
      "limit_evicted", "limit_refused", "request_timeout", "write_timeout", "tls_handshake"};
  auto requests = MakeFamily(kRequests);
  for (size_t i = 0; i < kCodes.size(); ++i) {
    AddSample(requests, kRequests, static_cast<double>(requests_[i].load()),
              {std::to_string(kCodes[i])});
  }
  auto drops = MakeFamily(kDropped);
  for (size_t i = 0; i < kDropNames.size(); ++i)
    AddSample(drops, kDropped, static_cast<double>(drops_[i].load()), {kDropNames[i]});
  out.push_back(std::move(requests));
  out.push_back(std::move(drops));
  out.push_back(MakeFamily(kConnections, static_cast<double>(open_.load())));
  out.push_back(MakeFamily(kReloadOk, reload_ok_.load() ? 1 : 0));
  out.push_back(MakeFamily(kReloadTime, reload_success_time_.load()));
}

}  // namespace kvip::detail
