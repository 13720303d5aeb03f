// kvip-exporter: Prometheus exporter for kube-vip (default mode: serve).

#include <CLI/CLI.hpp>

#include <iostream>

#include "common/logging.h"
#include "options.h"
#include "serve.h"

namespace {

constexpr int kUsageError = 2;

std::string VersionString() {
  return std::string("kvip-exporter, version ") + KVIP_VERSION + " (revision: " + KVIP_REVISION +
         ", compiler: " + __VERSION__ + ")";
}

void AddServeFlags(CLI::App& app, kvip::ServeOptions& o) {
  app.add_option("--web.listen-address", o.listen_address,
                 "Address on which to expose metrics and web interface.")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", o.telemetry_path, "Path under which to expose metrics.")
      ->capture_default_str();
  app.add_option("--web.config.file", o.web_config_file,
                 "Path to a web configuration file (TLS and basic auth, exporter-toolkit format).");
  app.add_option("--log.level", o.log_level, "Only log messages at or above: debug, info, warn, error.")
      ->capture_default_str();
  app.add_option("--log.format", o.log_format, "Log format: logfmt or json.")->capture_default_str();

  app.add_option("--kubevip.manifest", o.kubevip_manifest,
                 "kube-vip static pod manifest; VIP, interface, lease and metrics port are read "
                 "from its env unless given as flags.")
      ->capture_default_str();
  app.add_option("--kubevip.metrics-url", o.kubevip_metrics_url,
                 "kube-vip's metrics endpoint (default http://127.0.0.1:2112/metrics, or the "
                 "manifest's prometheus_server port).");
  app.add_flag("!--no-kubevip.reexport", o.kubevip_reexport,
               "Do not re-expose kube-vip's own series with the kubevip_ prefix.");
  app.add_option("--vip.address", o.vip_address, "The VIP (default: the manifest's address).");
  app.add_option("--vip.interface", o.vip_interface,
                 "Interface the VIP lives on (default: the manifest's vip_interface, else eno1).");
  app.add_flag("!--no-vip.healthz", o.vip_healthz, "Do not probe https://<vip>:6443/healthz.");
  app.add_flag("--vip.healthz-insecure", o.vip_healthz_insecure,
               "Do not verify the API server certificate when probing the VIP.");
  app.add_option("--kubeconfig", o.kubeconfig,
                 "Kubeconfig for the Lease watch (default: $KUBECONFIG, else in-cluster).");
  app.add_option("--lease.name", o.lease_name, "Lease kube-vip holds (default: manifest, else plndr-cp-lock).");
  app.add_option("--lease.namespace", o.lease_namespace,
                 "Namespace of the Lease (default: manifest's cp_namespace, else kube-system).");
  app.add_option("--node-name", o.node_name,
                 "This node's identity as kube-vip writes it into the lease (default: $NODE_NAME, "
                 "else the host name).");
  app.add_flag("!--no-lease.watch", o.lease_watch, "Do not watch the Lease.");
  app.add_option("--kubevip.log-path", o.kubevip_log_path,
                 "Glob of kube-vip's CRI container log files.")
      ->capture_default_str();
  app.add_flag("!--no-kubevip.log", o.kubevip_log, "Do not tail kube-vip's container log.");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvip-exporter: Prometheus exporter for kube-vip"};
  app.set_version_flag("--version", VersionString());
  kvip::ServeOptions serve;
  AddServeFlags(app, serve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& err) {
    app.exit(err);
    return kUsageError;
  }

  spdlog::level::level_enum level;
  kvip::LogFormat format;
  if (!kvip::ParseLogLevel(serve.log_level, level)) {
    std::cerr << "--log.level: unknown level \"" << serve.log_level << "\" (debug, info, warn, error)\n";
    return kUsageError;
  }
  if (!kvip::ParseLogFormat(serve.log_format, format)) {
    std::cerr << "--log.format: unknown format \"" << serve.log_format << "\" (logfmt, json)\n";
    return kUsageError;
  }
  kvip::SetupLogging(level, format);
  return kvip::Serve(serve, VersionString().c_str());
}
