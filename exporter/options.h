#pragma once
// Command-line options of every mode, Prometheus-style (--web.listen-address, ...).

#include <chrono>
#include <string>

namespace kvip {

struct ServeOptions {
  std::string listen_address = ":9112";
  std::string telemetry_path = "/metrics";
  std::string web_config_file;
  std::string log_level = "info";
  std::string log_format = "logfmt";

  // kube-vip static pod manifest: VIP, interface, lease and metrics port come from its env
  // when readable; explicit flags win.
  std::string kubevip_manifest = "/etc/kubernetes/manifests/kube-vip.yaml";
  std::string kubevip_metrics_url;  // default http://127.0.0.1:<prometheus_server port>/metrics
  bool kubevip_reexport = true;
  std::chrono::milliseconds kubevip_scrape_timeout{2000};

  std::string vip_address;
  std::string vip_interface;  // default eno1
  bool vip_healthz = true;
  bool vip_arp_probe = false;  // needs CAP_NET_RAW
  std::chrono::milliseconds vip_arp_probe_interval{2000};
  bool vip_neighbor = true;  // the VIP's neighbour entry and the interface's MAC (netlink)
  bool vip_healthz_insecure = false;
  int vip_healthz_port = 0;  // 0: the manifest's `port` env, else 6443
  std::chrono::milliseconds vip_healthz_timeout{2000};
  std::chrono::milliseconds vip_healthz_interval{5000};  // background probe, start to start

  // The node's own API server, probed like the VIP (same interval, timeout, insecure).
  bool apiserver_livez = true;
  std::string apiserver_livez_url;  // default https://kubernetes:<port>/livez via 127.0.0.1

  std::string kubeconfig;
  std::string lease_name;       // default plndr-cp-lock
  std::string lease_namespace;  // default kube-system
  std::string node_name;        // default $NODE_NAME, else the host name
  bool lease_watch = true;

  // kube-vip's mirror pod (the kubelet's view of the static pod), LIST+WATCH.
  bool kubevip_pod = true;
  std::string kubevip_pod_name;  // default kube-vip-<node name>
  std::string kubevip_pod_namespace = "kube-system";

  std::string kubevip_log_path = "/var/log/pods/kube-system_kube-vip-*/kube-vip/*.log";
  bool kubevip_log = true;
};

}  // namespace kvip
