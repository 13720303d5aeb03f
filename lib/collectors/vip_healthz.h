#pragma once
// Probes https://<vip>:<port>/healthz at scrape time, as the seed did by hand with curl
// before and after every upgrade step: kubevip_vip_healthz_up and its duration.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "collectors/collector.h"
#include "kube/client.h"

namespace kvip {

struct VipHealthzOptions {
  std::string vip;
  int port = 6443;
  std::chrono::milliseconds timeout{2000};
  bool insecure = false;  // --vip.healthz-insecure: do not verify the certificate
};

class VipHealthzCollector final : public Collector {
 public:
  // `client` (may be null) supplies the CA and client certificate of the kubeconfig.
  VipHealthzCollector(VipHealthzOptions options, std::shared_ptr<kube::Client> client);

  std::string_view Name() const override { return "vip_healthz"; }
  // Succeeds when the probe answered "ok".
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

  const std::string& url() const { return url_; }

 private:
  VipHealthzOptions options_;
  std::shared_ptr<kube::Client> client_;
  std::string url_;
  std::atomic<int> last_up_{-1};  // -1 unknown; for logging changes only
};

}  // namespace kvip
