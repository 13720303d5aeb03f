#include "serve.h"

#include <curl/curl.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdlib>

#include "collectors/collector_set.h"
#include "collectors/process.h"
#include "common/logging.h"
#include "common/metric_family.h"
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
};

std::string DefaultNodeName() {
  if (const char* env = std::getenv("NODE_NAME"); env && *env) return env;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

Effective Resolve(const ServeOptions& options) {
  Effective e;
  // TODO(manifest): take address, vip_interface, vip_leasename, cp_namespace and
  // prometheus_server from the kube-vip manifest's env when readable.
  e.node_name = options.node_name.empty() ? DefaultNodeName() : options.node_name;
  if (!options.vip_address.empty()) e.vip_address = options.vip_address;
  if (!options.vip_interface.empty()) e.vip_interface = options.vip_interface;
  if (!options.lease_name.empty()) e.lease_name = options.lease_name;
  if (!options.lease_namespace.empty()) e.lease_namespace = options.lease_namespace;
  if (!options.kubevip_metrics_url.empty()) e.kubevip_metrics_url = options.kubevip_metrics_url;
  return e;
}

// One collector per source. Event-driven collectors attach to `loop`.
std::vector<CollectorPtr> MakeCollectors(const ServeOptions& options, const Effective& e,
                                         boost::asio::io_context& loop) {
  (void)loop;
  (void)options;
  (void)e;
  std::vector<CollectorPtr> collectors;
  collectors.push_back(std::make_unique<ProcessCollector>());
  return collectors;
}

}  // namespace

int Serve(const ServeOptions& options, const char* version_string) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  boost::asio::io_context loop;

  Effective effective = Resolve(options);
  const std::string& node = effective.node_name;
  auto metrics = std::make_shared<CollectorSet>(MakeCollectors(options, effective, loop));
  metrics->AddStatic(GaugeFamily("kvip_exporter_build_info",
                                 "A metric with a constant '1' value labeled by version, revision "
                                 "and compiler from which kvip-exporter was built.",
                                 1,
                                 {{"version", KVIP_VERSION},
                                  {"revision", KVIP_REVISION},
                                  {"compiler", __VERSION__}}));
  metrics->AddStatic(GaugeFamily("kvip_exporter_node_info",
                                 "The node identity matched against the lease holder.", 1,
                                 {{"node", node}}));

  WebOptions web;
  web.listen_address = options.listen_address;
  web.telemetry_path = options.telemetry_path;
  web.version = version_string;
  std::unique_ptr<WebServer> server;
  try {
    server = std::make_unique<WebServer>(web, metrics);
  } catch (const std::exception& err) {
    LogError(err.what());
    return 1;
  }
  std::string ports;
  for (int port : server->ListeningPorts()) ports += (ports.empty() ? "" : ",") + std::to_string(port);
  LogInfo("listening", {{"address", options.listen_address}, {"ports", ports}, {"node", node}});

  boost::asio::signal_set signals(loop, SIGINT, SIGTERM);
  signals.async_wait([&loop](const boost::system::error_code&, int signal) {
    LogInfo("shutting down", {{"signal", std::to_string(signal)}});
    loop.stop();
  });
  loop.run();
  server.reset();
  curl_global_cleanup();
  return 0;
}

}  // namespace kvip
