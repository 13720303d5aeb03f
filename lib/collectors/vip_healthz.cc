#include "collectors/vip_healthz.h"

#include "common/metric_catalog.h"
#include "kubevip/healthz.h"

namespace kvip {

std::unique_ptr<HealthProbeCollector> MakeVipHealthzCollector(
    boost::asio::io_context& loop, const VipHealthzOptions& options,
    std::shared_ptr<kube::Client> client) {
  return std::make_unique<HealthProbeCollector>(
      loop, "vip_healthz",
      kube::HealthProbeOptions{.what = "VIP healthz",
                               .url = kubevip::HealthzUrl(options.vip, options.port),
                               .connect_to = {},
                               .tls = ProbeTls(client.get(), options.insecure),
                               .timeout = options.timeout,
                               .interval = options.interval},
      HealthProbeCollector::Families{
          .up = Spec("kubevip_vip_healthz_up"),
          .duration = Spec("kubevip_vip_healthz_duration_seconds"),
          .last_probe = Spec("kubevip_vip_healthz_last_probe_timestamp_seconds")},
      options.vip);
}

}  // namespace kvip
