#include "serve.h"

#include <curl/curl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>

#include "collectors/apiserver_livez.h"
#include "collectors/collector_set.h"
#include "collectors/kubevip_log.h"
#include "collectors/kubevip_pod.h"
#include "collectors/kubevip_scrape.h"
#include "collectors/lease_watch.h"
#include "collectors/manifest.h"
#include "collectors/process.h"
#include "collectors/vip_arp_probe.h"
#include "collectors/vip_healthz.h"
#include "collectors/vip_neighbor.h"
#include "collectors/vip_netlink.h"
#include "common/logging.h"
#include "common/metric_catalog.h"
#include "common/node_name.h"
#include "kube/client.h"
#include "manifest/manifest.h"
#include "web/web_server.h"

namespace kvip {
namespace {

// What the daemon watches, after flags, the kube-vip manifest and defaults are combined.
struct Effective {
  std::string node_name;
  std::string vip_address;
  std::string vip_interface = "eno1";
  std::string lease_name = "plndr-cp-lock";
  std::string lease_namespace = "kube-system";
  std::string kubevip_metrics_url = "http://127.0.0.1:2112/metrics";
  int api_server_port = 6443;  // where the VIP serves the API (kube-vip's `port`)
};

// Flags win; then the kube-vip container's env in the static pod manifest; then defaults.
// An unreadable or malformed manifest is logged (naming the file and the problem) and
// the daemon carries on with flags and defaults.
Effective Resolve(const ServeOptions& options) {
  Effective e;
  if (!options.kubevip_manifest.empty()) {
    std::string error;
    if (auto m = manifest::ReadManifest(options.kubevip_manifest, error)) {
      if (!m->VipAddress().empty()) e.vip_address = m->VipAddress();
      if (!m->VipInterface().empty()) e.vip_interface = m->VipInterface();
      if (!m->LeaseName().empty()) e.lease_name = m->LeaseName();
      if (!m->LeaseNamespace().empty()) e.lease_namespace = m->LeaseNamespace();
      if (!m->MetricsUrl().empty()) e.kubevip_metrics_url = m->MetricsUrl();
      e.api_server_port = m->ApiServerPort();
      LogInfo("read the kube-vip manifest",
              {{"path", options.kubevip_manifest}, {"image", m->image}});
    } else if (access(options.kubevip_manifest.c_str(), F_OK) != 0) {
      LogInfo("no kube-vip manifest; using flags and defaults", {{"err", error}});
    } else {
      LogError("ignoring the kube-vip manifest; using flags and defaults", {{"err", error}});
    }
  }
  e.node_name = ResolveNodeName(options.node_name);
  if (!options.vip_address.empty()) e.vip_address = options.vip_address;
  if (!options.vip_interface.empty()) e.vip_interface = options.vip_interface;
  if (!options.lease_name.empty()) e.lease_name = options.lease_name;
  if (!options.lease_namespace.empty()) e.lease_namespace = options.lease_namespace;
  if (!options.kubevip_metrics_url.empty()) e.kubevip_metrics_url = options.kubevip_metrics_url;
  if (options.vip_healthz_port > 0) e.api_server_port = options.vip_healthz_port;
  return e;
}

// The Kubernetes client shared by the lease watch and the VIP healthz probe (CA, client
// certificate, token). Without one the lease watch reports watch_up 0 and the rest carries on.
std::shared_ptr<kube::Client> LoadKubeClient(const ServeOptions& options, std::string& error) {
  if (!options.lease_watch && !options.vip_healthz && !options.apiserver_livez &&
      !options.kubevip_pod)
    return nullptr;
  auto config = kube::LoadClientConfig(options.kubeconfig, error);
  if (!config) {
    LogError(
        "no Kubernetes client configuration: the lease watch reports "
        "kubevip_lease_watch_up 0; the VIP healthz probe verifies with the system CA",
        {{"err", error}});
    return nullptr;
  }
  LogInfo("Kubernetes client",
          {{"source", config->source}, {"server", config->server}, {"user", config->user}});
  return std::make_shared<kube::Client>(std::move(*config));
}

// One collector per source. Event-driven collectors attach to `loop`.
std::vector<CollectorPtr> MakeCollectors(const ServeOptions& options, const Effective& e,
                                         boost::asio::io_context& loop) {
  (void)loop;
  (void)options;
  (void)e;
  std::vector<CollectorPtr> collectors;
  collectors.push_back(std::make_unique<ProcessCollector>());
  if (!options.kubevip_manifest.empty())
    collectors.push_back(std::make_unique<ManifestCollector>(options.kubevip_manifest));
  collectors.push_back(std::make_unique<VipNetlinkCollector>(loop, e.vip_address, e.vip_interface));
  if (options.vip_neighbor) {
    collectors.push_back(
        std::make_unique<VipNeighborCollector>(loop, e.vip_address, e.vip_interface));
  }
  if (options.vip_arp_probe) {
    collectors.push_back(std::make_unique<VipArpProbeCollector>(
        loop, VipArpProbeOptions{e.vip_address, e.vip_interface, options.vip_arp_probe_interval}));
  }
  if (options.kubevip_log) {
    collectors.push_back(std::make_unique<KubeVipLogCollector>(loop, options.kubevip_log_path));
  }
  KubeVipScrapeOptions scrape;
  scrape.metrics_url = e.kubevip_metrics_url;
  scrape.timeout = options.kubevip_scrape_timeout;
  scrape.reexport = options.kubevip_reexport;
  collectors.push_back(std::make_unique<KubeVipScrapeCollector>(std::move(scrape)));
  std::string client_error;
  std::shared_ptr<kube::Client> client = LoadKubeClient(options, client_error);
  if (options.lease_watch) {
    kube::LeaseWatchOptions lease;
    lease.namespace_name = e.lease_namespace;
    lease.name = e.lease_name;
    collectors.push_back(std::make_unique<LeaseWatchCollector>(loop, client, std::move(lease),
                                                               e.node_name, client_error));
  }
  if (options.kubevip_pod) {
    kube::WatchOptions pod;
    pod.namespace_name = options.kubevip_pod_namespace;
    pod.name =
        options.kubevip_pod_name.empty() ? "kube-vip-" + e.node_name : options.kubevip_pod_name;
    collectors.push_back(std::make_unique<KubeVipPodCollector>(loop, client, std::move(pod)));
  }
  // Both background probes take their timing and TLS check from the --vip.healthz-* flags.
  const ProbeSettings probe{.port = e.api_server_port,
                            .timeout = options.vip_healthz_timeout,
                            .interval = options.vip_healthz_interval,
                            .insecure = options.vip_healthz_insecure};
  if (options.vip_healthz && !e.vip_address.empty()) {
    collectors.push_back(
        MakeVipHealthzCollector(loop, VipHealthzOptions{probe, e.vip_address}, client));
  }
  if (options.apiserver_livez) {
    collectors.push_back(MakeApiServerLivezCollector(
        loop, ApiServerLivezOptions{probe, options.apiserver_livez_url}, client));
  }
  return collectors;
}

// SIGHUP re-reads --web.config.file (it is also re-read when it changes on disk).
void ReloadWebConfigOnHangup(boost::asio::signal_set& hangups, WebServer& server) {
  hangups.async_wait([&hangups, &server](const boost::system::error_code& error, int) {
    if (error) return;
    server.ReloadConfig();
    ReloadWebConfigOnHangup(hangups, server);
  });
}

}  // namespace

int Serve(const ServeOptions& options, const char* version_string) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  boost::asio::io_context loop;

  Effective effective = Resolve(options);
  const std::string& node = effective.node_name;
  auto metrics = std::make_shared<CollectorSet>(MakeCollectors(options, effective, loop));
  metrics->AddStatic(
      MakeFamily(Spec("kvip_exporter_build_info"), 1, {KVIP_VERSION, KVIP_REVISION, __VERSION__}));
  metrics->AddStatic(MakeFamily(Spec("kvip_exporter_node_info"), 1, {node}));

  WebOptions web;
  web.listen_address = options.listen_address;
  web.telemetry_path = options.telemetry_path;
  web.web_config_file = options.web_config_file;
  web.version = version_string;
  std::unique_ptr<WebServer> server;
  try {
    server = std::make_unique<WebServer>(web, metrics);
  } catch (const std::exception& err) {
    LogError(err.what());
    return 1;
  }
  std::string ports;
  for (int port : server->ListeningPorts())
    ports += (ports.empty() ? "" : ",") + std::to_string(port);
  LogInfo("listening", {{"address", options.listen_address}, {"ports", ports}, {"node", node}});

  boost::asio::signal_set signals(loop, SIGINT, SIGTERM);
  signals.async_wait([&loop](const boost::system::error_code&, int signal) {
    LogInfo("shutting down", {{"signal", std::to_string(signal)}});
    loop.stop();
  });
  boost::asio::signal_set hangups(loop, SIGHUP);
  ReloadWebConfigOnHangup(hangups, *server);
  loop.run();
  if (!server->Stop(web.shutdown_grace)) {
    // A collector is still inside its deadline on a worker thread; running destructors
    // (curl, collectors) under it is unsafe and waiting breaks the 1 s stop promise.
    LogWarn("exiting while a scrape is still collecting");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  server.reset();
  curl_global_cleanup();
  return 0;
}

}  // namespace kvip
