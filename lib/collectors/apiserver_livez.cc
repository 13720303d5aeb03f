#include "collectors/apiserver_livez.h"

#include "common/metric_family.h"

namespace kvip {
namespace {

constexpr FamilySpec kFamilies[] = {
    {"kubevip_apiserver_livez_up", prometheus::MetricType::Gauge,
     "1 if the node's local API server answered ok on /livez within the deadline in the last "
     "probe."},
    {"kubevip_apiserver_livez_duration_seconds", prometheus::MetricType::Gauge,
     "Duration of the last local API server /livez probe."},
    {"kubevip_apiserver_livez_last_probe_timestamp_seconds", prometheus::MetricType::Gauge,
     "When the last local API server /livez probe ended, in Unix seconds."},
};
constexpr const FamilySpec& kUp = FamilyIn(kFamilies, "kubevip_apiserver_livez_up");
constexpr const FamilySpec& kDuration =
    FamilyIn(kFamilies, "kubevip_apiserver_livez_duration_seconds");
constexpr const FamilySpec& kLastProbe =
    FamilyIn(kFamilies, "kubevip_apiserver_livez_last_probe_timestamp_seconds");

kube::HealthProbeOptions ProbeOptions(const ApiServerLivezOptions& options,
                                      const kube::Client* client) {
  kube::HealthProbeOptions probe{.what = "local API server livez",
                                 .url = options.url,
                                 .connect_to = {},
                                 .tls = ProbeTls(client, options.insecure),
                                 .timeout = options.timeout,
                                 .interval = options.interval};
  if (probe.url.empty()) {
    // The name the API server's certificate carries on every kubeadm node, reached on the
    // loopback address as kube-vip's hostAliases do.
    std::string port = std::to_string(options.port);
    probe.url = "https://kubernetes:" + port + "/livez";
    probe.connect_to = {"kubernetes:" + port + ":127.0.0.1:" + port};
  }
  return probe;
}

}  // namespace

std::span<const FamilySpec> ApiServerLivezCollector::Families() { return kFamilies; }

ApiServerLivezCollector::ApiServerLivezCollector(boost::asio::io_context& loop,
                                                 const ApiServerLivezOptions& options,
                                                 std::shared_ptr<kube::Client> client)
    : HealthProbeCollector(loop, ProbeOptions(options, client.get()),
                           {.up = kUp, .duration = kDuration, .last_probe = kLastProbe}) {}

}  // namespace kvip
