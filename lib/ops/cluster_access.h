#pragma once
// How the one-shot modes (upgrade, verify, recover) look at kube-vip: this node's manifest,
// the API server (mirror pods, the Lease, container logs), the VIP's /healthz and kube-vip's
// own :2112. Every call returns what it saw, failures included, and decides nothing: the
// decisions are pure functions of these facts (upgrade_decisions.h, recover_plan.h).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "kube/client.h"
#include "manifest/manifest.h"
#include "ops/check.h"
#include "ops/cluster_state.h"

namespace kvip::ops {

// Flags every one-shot mode shares with the daemon's own names.
struct ClusterOptions {
  std::string kubevip_manifest = "/etc/kubernetes/manifests/kube-vip.yaml";
  std::string kubeconfig;   // default $KUBECONFIG, else in-cluster
  std::string node_name;    // default $NODE_NAME, else the host name
  std::string vip_address;  // default: the manifest's address
  int vip_port = 0;         // default: the manifest's port, else 6443
  bool vip_healthz_insecure = false;
  std::chrono::milliseconds request_timeout{3000};
};

// The manifest, the API, the VIP, as far as they could be opened.
struct ClusterAccess {
  ClusterOptions options;
  std::optional<manifest::KubeVipManifest> manifest;
  std::string manifest_error;
  std::string node;
  std::string vip;
  int vip_port = 6443;
  std::unique_ptr<kube::Client> api;  // null when no kubeconfig could be loaded
  std::string api_error;

  std::string PodNamespace() const;
  std::string PodName() const;
  std::string ContainerName() const;
  std::string LeaseName() const;
  std::string LeaseNamespace() const;
  std::string LeasePath() const;   // the Lease's API path
  std::string MetricsUrl() const;  // this node's kube-vip
  int MetricsPort() const;
};

// Reads the manifest and the kubeconfig; failures are recorded, not fatal, so each mode
// decides what it can do without them.
ClusterAccess OpenClusterAccess(const ClusterOptions& options);

// GET https://<vip>:<port>/healthz, expecting "ok".
Check ProbeVipHealthz(const ClusterAccess& access);

// kube-vip's mirror pods, sorted by node.
Result<std::vector<KubeVipPod>> FetchKubeVipPods(const ClusterAccess& access);

struct LeaseLookup {
  bool ok = false;       // the API answered (404 included)
  bool present = false;  // the Lease exists
  LeaseInfo lease;
  std::string error;
};
LeaseLookup FetchLease(const ClusterAccess& access);

// The current container's log of `pod` (since its last restart), capped at 8 MiB.
Result<std::string> FetchPodLog(const ClusterAccess& access, const std::string& pod);

struct MetricsProbe {
  bool up = false;
  double process_start_time = 0;  // kube-vip's process_start_time_seconds; 0 if absent
  std::string error;
};
// GET a kube-vip :2112/metrics; up when it answers 200 with valid text format.
MetricsProbe ProbeKubeVipMetrics(const std::string& url, std::chrono::milliseconds timeout);

// True when `vip` is assigned to an interface of this network namespace.
bool VipIsLocal(const std::string& vip);

}  // namespace kvip::ops
