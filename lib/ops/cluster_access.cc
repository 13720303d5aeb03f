#include "ops/cluster_access.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

#include "common/node_name.h"
#include "http/http_client.h"
#include "kubevip/healthz.h"
#include "kubevip/metrics_page.h"

namespace kvip::ops {
namespace {

constexpr size_t kMaxLogBytes = 8 << 20;

}  // namespace

std::string ClusterAccess::PodNamespace() const {
  return manifest && !manifest->pod_namespace.empty() ? manifest->pod_namespace : "kube-system";
}
std::string ClusterAccess::PodName() const {
  return manifest && !manifest->pod_name.empty() ? manifest->pod_name : "kube-vip";
}
std::string ClusterAccess::ContainerName() const {
  return manifest && !manifest->container_name.empty() ? manifest->container_name : "kube-vip";
}
std::string ClusterAccess::LeaseName() const {
  return manifest && !manifest->LeaseName().empty() ? manifest->LeaseName() : "plndr-cp-lock";
}
std::string ClusterAccess::LeaseNamespace() const {
  return manifest && !manifest->LeaseNamespace().empty() ? manifest->LeaseNamespace()
                                                         : "kube-system";
}
std::string ClusterAccess::LeasePath() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + LeaseNamespace() + "/leases/" + LeaseName();
}
int ClusterAccess::MetricsPort() const {
  return manifest ? manifest->MetricsPort().value_or(2112) : 2112;
}
std::string ClusterAccess::MetricsUrl() const {
  if (manifest && !manifest->MetricsUrl().empty()) return manifest->MetricsUrl();
  return "http://127.0.0.1:" + std::to_string(MetricsPort()) + "/metrics";
}

ClusterAccess OpenClusterAccess(const ClusterOptions& options) {
  ClusterAccess access;
  access.options = options;
  access.manifest = manifest::ReadManifest(options.kubevip_manifest, access.manifest_error);
  access.node = ResolveNodeName(options.node_name);
  access.vip = !options.vip_address.empty() ? options.vip_address
               : access.manifest            ? access.manifest->VipAddress()
                                            : "";
  access.vip_port = options.vip_port > 0 ? options.vip_port
                    : access.manifest    ? access.manifest->ApiServerPort()
                                         : 6443;
  if (auto config = kube::LoadClientConfig(options.kubeconfig, access.api_error))
    access.api = std::make_unique<kube::Client>(std::move(*config));
  return access;
}

Check ProbeVipHealthz(const ClusterAccess& access) {
  if (access.vip.empty())
    return {"vip-healthz", false,
            "no VIP: the manifest has no address and --vip.address is not set"};
  const std::string url = kubevip::HealthzUrl(access.vip, access.vip_port);
  // The cluster CA from the kubeconfig verifies the API server behind the VIP.
  HttpRequest request = kubevip::HealthzRequest(
      url, access.options.request_timeout, access.api ? access.api->config().tls : TlsOptions{},
      access.options.vip_healthz_insecure);
  kubevip::HealthzAnswer answer = kubevip::JudgeHealthz(url, HttpFetch(request));
  return {"vip-healthz", answer.up, answer.detail};
}

Result<std::vector<KubeVipPod>> FetchKubeVipPods(const ClusterAccess& access) {
  if (!access.api) return Error{"no API access: " + access.api_error};
  const std::string path = "/api/v1/namespaces/" + access.PodNamespace() + "/pods";
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (!r.ok || r.status != 200) return Error{access.api->DescribeFailure("list", path, r)};
  std::string error;
  auto pods = ParseKubeVipPods(r.body, access.PodName(), access.ContainerName(), error);
  if (!pods) return Error{error};
  return std::move(*pods);
}

LeaseLookup FetchLease(const ClusterAccess& access) {
  LeaseLookup out;
  if (!access.api) {
    out.error = "no API access: " + access.api_error;
    return out;
  }
  const std::string path = access.LeasePath();
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (r.ok && r.status == 404) {
    out.ok = true;
    return out;
  }
  if (!r.ok || r.status != 200) {
    out.error = access.api->DescribeFailure("get", path, r);
    return out;
  }
  auto lease = ParseLease(r.body, out.error);
  if (!lease) return out;
  out.ok = out.present = true;
  out.lease = std::move(*lease);
  return out;
}

Result<std::string> FetchPodLog(const ClusterAccess& access, const std::string& pod) {
  if (!access.api) return Error{"no API access: " + access.api_error};
  const std::string path = "/api/v1/namespaces/" + access.PodNamespace() + "/pods/" + pod +
                           "/log?container=" + access.ContainerName() +
                           "&limitBytes=" + std::to_string(kMaxLogBytes);
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (!r.ok || r.status != 200) return Error{access.api->DescribeFailure("get", path, r)};
  return std::move(r.body);
}

MetricsProbe ProbeKubeVipMetrics(const std::string& url, std::chrono::milliseconds timeout) {
  const promtext::Limits limits;
  kubevip::MetricsPage page = kubevip::ReadMetricsPage(
      url, HttpFetch(kubevip::MetricsRequest(url, timeout, limits.max_body_bytes)), limits);
  MetricsProbe probe;
  probe.up = page.ok();
  if (!probe.up) probe.error = url + ": " + page.reason;
  probe.process_start_time = kubevip::ProcessStartTime(page.families).value_or(0);
  return probe;
}

bool VipIsLocal(const std::string& vip) {
  unsigned char want[sizeof(in6_addr)] = {};
  int family = vip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(family, vip.c_str(), want) != 1) return false;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* a = list; a && !found; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != family) continue;
    if (family == AF_INET) {
      sockaddr_in in{};
      std::memcpy(&in, a->ifa_addr, sizeof in);
      found = std::memcmp(&in.sin_addr, want, 4) == 0;
    } else {
      sockaddr_in6 in6{};
      std::memcpy(&in6, a->ifa_addr, sizeof in6);
      found = std::memcmp(&in6.sin6_addr, want, 16) == 0;
    }
  }
  freeifaddrs(list);
  return found;
}

}  // namespace kvip::ops
