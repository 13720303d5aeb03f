#pragma once
// Probes https://<vip>:<port>/healthz in the background, as the seed did by hand with curl
// before and after every upgrade step, and exposes the last result at scrape time:
// kubevip_vip_healthz_up, its duration and when it ended. The probe runs on the daemon's
// Asio loop through CurlLoop (libcurl multi-socket) every `interval`, so a scrape never
// waits for the VIP and the API servers see one GET per interval per node, however often
// the exporter is scraped (kube::HealthProbe, shared with the local API server probe).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "kube/client.h"
#include "kube/health_probe.h"

namespace kvip {

struct VipHealthzOptions {
  std::string vip;
  int port = 6443;
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds interval{5000};  // --vip.healthz-interval: start to start
  bool insecure = false;  // --vip.healthz-insecure: do not verify the certificate
};

class VipHealthzCollector final : public Collector {
 public:
  // `client` (may be null) supplies the CA and client certificate of the kubeconfig. The
  // first probe starts on the loop's first turn. Destroy on the loop's thread or after the
  // loop stopped.
  VipHealthzCollector(boost::asio::io_context& loop, VipHealthzOptions options,
                      std::shared_ptr<kube::Client> client);

  std::string_view Name() const override { return "vip_healthz"; }
  // The last probe's result (no I/O); succeeds when it answered "ok". Until the first
  // probe ends it fails and exposes nothing (unknown is not down).
  // This collector's metric families (name, type, help, labels), declared once.
  static std::span<const FamilySpec> Families();
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

  const std::string& url() const { return probe_.url(); }

 private:
  std::string vip_;
  kube::HealthProbe probe_;
};

// The probe's TLS settings: the kubeconfig's CA and client certificate (none without a
// client), verification off when `insecure`. Shared with the local API server probe.
TlsOptions ProbeTls(const kube::Client* client, bool insecure);

}  // namespace kvip
