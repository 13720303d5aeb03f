#include "collectors/vip_healthz.h"

#include "common/metric_family.h"

namespace kvip {
namespace {

using prometheus::MetricType;

// Every family this collector exposes, in one place.
constexpr FamilySpec kUp{"kubevip_vip_healthz_up",
                         "1 if https://<vip>:<port>/healthz answered ok within the deadline in "
                         "the last probe.",
                         MetricType::Gauge};
constexpr FamilySpec kDuration{"kubevip_vip_healthz_duration_seconds",
                               "Duration of the last VIP healthz probe.", MetricType::Gauge};
constexpr FamilySpec kLastProbe{"kubevip_vip_healthz_last_probe_timestamp_seconds",
                                "When the last VIP healthz probe ended, in Unix seconds.",
                                MetricType::Gauge};

std::string HealthzUrl(const std::string& vip, int port) {
  bool ipv6 = vip.find(':') != std::string::npos;
  return "https://" + (ipv6 ? "[" + vip + "]" : vip) + ":" + std::to_string(port) + "/healthz";
}

}  // namespace

TlsOptions ProbeTls(const kube::Client* client, bool insecure) {
  TlsOptions tls;
  if (client) tls = client->config().tls;
  if (insecure) tls.insecure_skip_verify = true;
  return tls;
}

VipHealthzCollector::VipHealthzCollector(boost::asio::io_context& loop, VipHealthzOptions options,
                                         std::shared_ptr<kube::Client> client)
    : vip_(options.vip),
      probe_(loop, kube::HealthProbeOptions{.what = "VIP healthz",
                                            .url = HealthzUrl(options.vip, options.port),
                                            .connect_to = {},
                                            .tls = ProbeTls(client.get(), options.insecure),
                                            .timeout = options.timeout,
                                            .interval = options.interval}) {}

bool VipHealthzCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  kube::HealthProbeResult last = probe_.Last();
  if (!last.known) return false;
  const Labels labels{{"vip", vip_}};
  out.push_back(GaugeFamily(kUp.name, kUp.help, last.up ? 1 : 0, labels));
  out.push_back(GaugeFamily(kDuration.name, kDuration.help, last.seconds, labels));
  out.push_back(GaugeFamily(kLastProbe.name, kLastProbe.help, last.timestamp, labels));
  return last.up;
}

}  // namespace kvip
