#pragma once
// Probes the node's own API server (`/livez`) in the background, the way kube-vip reaches it
// (https://kubernetes:<port> through 127.0.0.1, its manifest's hostAliases), and exposes the
// last result at scrape time. kube-vip#1786: in ARP mode the leader keeps the lease and the
// VIP while its local API server is dead, so every client through the VIP fails; the VIP
// probe sees that symptom, this one names the node that causes it. Same machinery as the
// VIP probe (HealthProbeCollector): one GET per interval, never one per scrape.

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "collectors/health_probe_collector.h"

namespace kvip {

struct ApiServerLivezOptions : ProbeSettings {
  // Empty: https://kubernetes:<port>/livez, connected to 127.0.0.1:<port>.
  std::string url;
};

// The collector "apiserver_livez". `client` (may be null) supplies the CA and client
// certificate of the kubeconfig.
std::unique_ptr<HealthProbeCollector> MakeApiServerLivezCollector(
    boost::asio::io_context& loop, const ApiServerLivezOptions& options,
    std::shared_ptr<kube::Client> client);

}  // namespace kvip
