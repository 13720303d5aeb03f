#pragma once
// Probes https://<vip>:<port>/healthz in the background, as the seed did by hand with curl
// before and after every upgrade step, and exposes the last result at scrape time:
// kubevip_vip_healthz_up, its duration and when it ended. The probe runs on the daemon's
// Asio loop through CurlLoop (libcurl multi-socket) every `interval`, so a scrape never
// waits for the VIP and the API servers see one GET per interval per node, however often
// the exporter is scraped (kube::HealthProbe, shared with the local API server probe).

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "collectors/health_probe_collector.h"

namespace kvip {

struct VipHealthzOptions : ProbeSettings {
  std::string vip;
};

// The collector "vip_healthz" of https://<vip>:<port>/healthz. `client` (may be null)
// supplies the CA and client certificate of the kubeconfig.
std::unique_ptr<HealthProbeCollector> MakeVipHealthzCollector(boost::asio::io_context& loop,
                                                              const VipHealthzOptions& options,
                                                              std::shared_ptr<kube::Client> client);

}  // namespace kvip
