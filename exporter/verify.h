#pragma once
// `kvip-exporter verify`: the seed's verification checklist as one command with an exit
// code (VIP answers, every kube-vip pod running the expected version, lease held and fresh,
// every :2112 up, no lock-conflict lines since the last restart, restart counts). The
// probes it is made of are shared with `upgrade` (its waits) and `recover`.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"
#include "manifest/cluster_state.h"
#include "manifest/manifest.h"

namespace kvip {

// Flags every one-shot mode shares with the daemon's own names.
struct ClusterOptions {
  std::string kubevip_manifest = "/etc/kubernetes/manifests/kube-vip.yaml";
  std::string kubeconfig;   // default $KUBECONFIG, else in-cluster
  std::string node_name;    // default $NODE_NAME, else the host name
  std::string vip_address;  // default: the manifest's address
  int vip_port = 0;         // default: the manifest's port, else 6443
  bool vip_healthz_insecure = false;
  std::chrono::milliseconds request_timeout{3000};
  std::string output = "table";  // table | json
};

enum class OutputFormat { kTable, kJson };
bool ParseOutputFormat(std::string_view text, OutputFormat& format);

// One line of a report: a check or a step that was carried out.
struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
  double seconds = -1;  // how long a step took; negative for checks
};

// Prints checks as an aligned table (OK/FAIL, name, detail).
void PrintCheckTable(std::ostream& out, const std::vector<Check>& checks);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;
// Writes `key`: [{name, ok, detail[, seconds]}...] into an open JSON object.
void WriteChecksJson(JsonWriter& w, const char* key, const std::vector<Check>& checks);

// What the modes need to look at kube-vip: the manifest, the API, the VIP.
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
  std::string MetricsUrl() const;  // this node's kube-vip
  int MetricsPort() const;
};

// Reads the manifest and the kubeconfig; failures are recorded, not fatal, so each mode
// decides what it can do without them.
ClusterAccess OpenClusterAccess(const ClusterOptions& options);

// The node identity kube-vip writes into the lease: --node-name, $NODE_NAME, host name.
std::string ResolveNodeName(const std::string& flag);

// GET https://<vip>:<port>/healthz, expecting "ok".
Check ProbeVipHealthz(const ClusterAccess& access);

// kube-vip's mirror pods, sorted by node.
std::optional<std::vector<manifest::KubeVipPod>> FetchKubeVipPods(ClusterAccess& access,
                                                                  std::string& error);

struct LeaseLookup {
  bool ok = false;       // the API answered (404 included)
  bool present = false;  // the Lease exists
  manifest::LeaseInfo lease;
  std::string error;
};
LeaseLookup FetchLease(ClusterAccess& access);

// The current container's log of `pod` (since its last restart), capped at 8 MiB.
std::optional<std::string> FetchPodLog(ClusterAccess& access, const std::string& pod,
                                       std::string& error);

struct MetricsProbe {
  bool up = false;
  double process_start_time = 0;  // kube-vip's process_start_time_seconds; 0 if absent
  std::string error;
};
// GET a kube-vip :2112/metrics; up when it answers 200 with valid text format.
MetricsProbe ProbeKubeVipMetrics(const std::string& url, std::chrono::milliseconds timeout);

// True when `vip` is assigned to an interface of this network namespace.
bool VipIsLocal(const std::string& vip);

struct VerifyOptions {
  ClusterOptions cluster;
  std::string expect_version;  // default: the local manifest's tag
};

// Runs the checklist, prints it, returns 0 when every check passes, else 1.
int Verify(const VerifyOptions& options);

}  // namespace kvip
