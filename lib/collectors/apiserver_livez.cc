#include "collectors/apiserver_livez.h"

#include "common/metric_catalog.h"

namespace kvip {
namespace {

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

std::unique_ptr<HealthProbeCollector> MakeApiServerLivezCollector(
    boost::asio::io_context& loop, const ApiServerLivezOptions& options,
    std::shared_ptr<kube::Client> client) {
  return std::make_unique<HealthProbeCollector>(
      loop, "apiserver_livez", ProbeOptions(options, client.get()),
      HealthProbeCollector::Families{
          .up = Spec("kubevip_apiserver_livez_up"),
          .duration = Spec("kubevip_apiserver_livez_duration_seconds"),
          .last_probe = Spec("kubevip_apiserver_livez_last_probe_timestamp_seconds")});
}

}  // namespace kvip
