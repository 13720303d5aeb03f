#pragma once
// The collector of the background HTTPS probes (the VIP's /healthz: vip_healthz.h, the local
// API server's /livez: apiserver_livez.h): the settings both take from the --vip.healthz-*
// flags, and a collector that exposes the last kube::HealthProbe result at scrape time as
// three families (up, duration, when it ended). Each source is a factory that names the
// collector, its URL and its three catalogue rows.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "kube/client.h"
#include "kube/health_probe.h"

namespace kvip {

struct ProbeSettings {
  int port = 6443;
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds interval{5000};  // --vip.healthz-interval: start to start
  bool insecure = false;  // --vip.healthz-insecure: do not verify the certificate
};

// The probe's TLS settings: the kubeconfig's CA and client certificate (none without a
// client), verification off when `insecure`.
TlsOptions ProbeTls(const kube::Client* client, bool insecure);

class HealthProbeCollector final : public Collector {
 public:
  // The three families of a probe, each with no label or the same one label.
  struct Families {
    const FamilySpec& up;
    const FamilySpec& duration;
    const FamilySpec& last_probe;
  };

  // The first probe starts on the loop's first turn. Destroy on the loop's thread or after
  // the loop stopped. `label_value` is the value of the families' one label, if they have one.
  HealthProbeCollector(boost::asio::io_context& loop, std::string name,
                       kube::HealthProbeOptions options, Families families,
                       std::string label_value = {});

  std::string_view Name() const override { return name_; }
  // The last probe's result (no I/O); succeeds when it answered "ok". Until the first
  // probe ends it fails and exposes nothing (unknown is not down).
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

  const std::string& url() const { return probe_.url(); }

 private:
  const std::string name_;
  const Families families_;
  const std::string label_value_;  // of the families' one label, if they have one
  kube::HealthProbe probe_;
};

}  // namespace kvip
