#pragma once
// The kube-vip static pod manifest (/etc/kubernetes/manifests/kube-vip.yaml): what the
// kube-vip container's env says about the VIP, its lease and metrics port, and its image.
// Parsing is separate from file I/O so both can be tested on fixtures.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "manifest/image_ref.h"

namespace kvip::manifest {

struct KubeVipManifest {
  std::string pod_name;       // metadata.name (kube-vip); the mirror pod is <pod_name>-<node>
  std::string pod_namespace;  // metadata.namespace (kube-system)
  std::string container_name;
  std::string image;  // as written, e.g. ghcr.io/kube-vip/kube-vip:v1.0.3
  ImageRef image_ref;
  std::map<std::string, std::string> env;  // literal `value:` entries only

  // From env, empty/nullopt when absent: `address`, else the deprecated `vip_address`.
  std::string VipAddress() const;
  std::string VipInterface() const { return Env("vip_interface"); }
  std::string LeaseName() const { return Env("vip_leasename"); }
  std::string LeaseNamespace() const { return Env("cp_namespace"); }
  // The port of `prometheus_server` (":2112" → 2112).
  std::optional<int> MetricsPort() const;
  // http://127.0.0.1:<port>/metrics, or the host `prometheus_server` names if specific.
  std::string MetricsUrl() const;
  // The API server port kube-vip fronts (`port`, default 6443).
  int ApiServerPort() const;
  std::optional<std::chrono::seconds> LeaseDuration() const;

  std::string Env(const std::string& name) const;
};

// Parses manifest text. `source` (the path) only serves error messages, which name it and
// say what is wrong: "…/kube-vip.yaml: invalid YAML at line 3, column 5: …".
std::optional<KubeVipManifest> ParseManifest(std::string_view text, const std::string& source,
                                             std::string& error);

// Reads and parses the file at `path`.
std::optional<KubeVipManifest> ReadManifest(const std::string& path, std::string& error);

// Returns `text` with the kube-vip container's image reference replaced by `new_image` and
// every other byte unchanged (comments, quoting, key order, CRLF line ends). The result is
// re-parsed and compared with the original tree: anything but the image differing is an
// error, never a silently different manifest.
std::optional<std::string> RewriteImage(std::string_view text, const std::string& source,
                                        const std::string& new_image, std::string& error);

}  // namespace kvip::manifest
