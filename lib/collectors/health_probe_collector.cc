#include "collectors/health_probe_collector.h"

#include <utility>

namespace kvip {

TlsOptions ProbeTls(const kube::Client* client, bool insecure) {
  TlsOptions tls;
  if (client) tls = client->config().tls;
  if (insecure) tls.insecure_skip_verify = true;
  return tls;
}

HealthProbeCollector::HealthProbeCollector(boost::asio::io_context& loop, std::string name,
                                           kube::HealthProbeOptions options, Families families,
                                           std::string label_value)
    : name_(std::move(name)),
      families_(families),
      label_value_(std::move(label_value)),
      probe_(loop, std::move(options)) {}

bool HealthProbeCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  kube::HealthProbeResult last = probe_.Last();
  if (!last.known) return false;
  auto family = [this](const FamilySpec& spec, double value) {
    return spec.labels.empty() ? MakeFamily(spec, value) : MakeFamily(spec, value, {label_value_});
  };
  out.push_back(family(families_.up, last.up ? 1 : 0));
  out.push_back(family(families_.duration, last.seconds));
  out.push_back(family(families_.last_probe, last.timestamp));
  return last.up;
}

}  // namespace kvip
