#include "web/web_stats.h"

#include <string>
#include <string_view>
#include <utility>

#include "common/metric_catalog.h"

namespace kvip::detail {

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
  FamilyBuilder requests(Spec("kvip_exporter_web_requests_total"));
  for (size_t i = 0; i < kCodes.size(); ++i)
    requests.Add(static_cast<double>(requests_[i].load()), {std::to_string(kCodes[i])});
  FamilyBuilder drops(Spec("kvip_exporter_web_connections_dropped_total"));
  for (size_t i = 0; i < kDropNames.size(); ++i)
    drops.Add(static_cast<double>(drops_[i].load()), {kDropNames[i]});
  out.push_back(std::move(requests).Take());
  out.push_back(std::move(drops).Take());
  out.push_back(
      MakeFamily(Spec("kvip_exporter_web_connections"), static_cast<double>(open_.load())));
  out.push_back(MakeFamily(Spec("kvip_exporter_web_config_last_reload_successful"),
                           reload_ok_.load() ? 1 : 0));
  out.push_back(MakeFamily(Spec("kvip_exporter_web_config_last_reload_success_timestamp_seconds"),
                           reload_success_time_.load()));
}

}  // namespace kvip::detail
