#pragma once
// Probes the node's own API server (`/livez`) in the background, the way kube-vip reaches it
// (https://kubernetes:<port> through 127.0.0.1, its manifest's hostAliases), and exposes the
// last result at scrape time. kube-vip#1786: in ARP mode the leader keeps the lease and the
// VIP while its local API server is dead, so every client through the VIP fails; the VIP
// probe sees that symptom, this one names the node that causes it. Same machinery as the
// VIP probe (kube::HealthProbe): one GET per interval, never one per scrape.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "kube/client.h"
#include "kube/health_probe.h"

namespace kvip {

struct ApiServerLivezOptions {
  // Empty: https://kubernetes:<port>/livez, connected to 127.0.0.1:<port>.
  std::string url;
  int port = 6443;
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds interval{5000};
  bool insecure = false;
};

class ApiServerLivezCollector final : public Collector {
 public:
  // `client` (may be null) supplies the CA and client certificate of the kubeconfig.
  ApiServerLivezCollector(boost::asio::io_context& loop, ApiServerLivezOptions options,
                          std::shared_ptr<kube::Client> client);

  std::string_view Name() const override { return "apiserver_livez"; }
  // The last probe's result (no I/O); succeeds when it answered "ok". Nothing is exposed
  // until the first probe ends (unknown is not down).
  // This collector's metric families (name, type, help, labels), declared once.
  static std::span<const FamilySpec> Families();
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

  const std::string& url() const { return probe_.url(); }

 private:
  kube::HealthProbe probe_;
};

}  // namespace kvip
