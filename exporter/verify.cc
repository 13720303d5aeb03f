#include "verify.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "common/metric_family.h"
#include "http/http_client.h"
#include "promtext/parse.h"

namespace kvip {
namespace {

constexpr size_t kMaxLogBytes = 8 << 20;

// "v1.0.4" from a pod's image, or the whole image when it has no tag.
std::string VersionOf(const std::string& image) {
  std::string error;
  auto ref = manifest::ParseImageRef(image, error);
  return ref && !ref->tag.empty() ? ref->tag : image;
}

}  // namespace

void WriteChecksJson(JsonWriter& w, const char* key, const std::vector<Check>& checks) {
  w.Key(key);
  w.StartArray();
  for (const Check& c : checks) {
    w.StartObject();
    w.Key("name");
    w.String(c.name.c_str());
    w.Key("ok");
    w.Bool(c.ok);
    w.Key("detail");
    w.String(c.detail.c_str());
    if (c.seconds >= 0) {
      w.Key("seconds");
      w.Double(c.seconds);
    }
    w.EndObject();
  }
  w.EndArray();
}

bool ParseOutputFormat(std::string_view text, OutputFormat& format) {
  if (text == "table" || text == "text")
    format = OutputFormat::kTable;
  else if (text == "json")
    format = OutputFormat::kJson;
  else
    return false;
  return true;
}

void PrintCheckTable(std::ostream& out, const std::vector<Check>& checks) {
  size_t width = 4;
  for (const Check& c : checks) width = std::max(width, c.name.size());
  for (const Check& c : checks) {
    out << "  " << (c.ok ? "ok  " : "FAIL") << "  " << std::left
        << std::setw(static_cast<int>(width)) << c.name << "  " << c.detail;
    if (c.seconds >= 0) out << " (" << std::fixed << std::setprecision(1) << c.seconds << " s)";
    out << "\n";
  }
}

std::string ResolveNodeName(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("NODE_NAME"); env && *env) return env;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

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
  Check check{"vip-healthz", false, ""};
  if (access.vip.empty()) {
    check.detail = "no VIP: the manifest has no address and --vip.address is not set";
    return check;
  }
  std::string host =
      access.vip.find(':') != std::string::npos ? "[" + access.vip + "]" : access.vip;
  HttpRequest request;
  request.url = "https://" + host + ":" + std::to_string(access.vip_port) + "/healthz";
  request.timeout = access.options.request_timeout;
  request.max_body_bytes = 4096;
  // The cluster CA from the kubeconfig verifies the API server behind the VIP.
  if (access.api) request.tls = access.api->config().tls;
  request.tls.insecure_skip_verify = access.options.vip_healthz_insecure;
  HttpResponse response = HttpFetch(request);
  if (!response.ok) {
    check.detail = request.url + ": " + response.error;
  } else if (response.status != 200 || response.body != "ok") {
    check.detail = request.url + ": HTTP " + std::to_string(response.status) + " " +
                   response.body.substr(0, 200);
  } else {
    check.ok = true;
    check.detail = request.url + " answered ok";
  }
  return check;
}

std::optional<std::vector<manifest::KubeVipPod>> FetchKubeVipPods(ClusterAccess& access,
                                                                  std::string& error) {
  if (!access.api) {
    error = "no API access: " + access.api_error;
    return std::nullopt;
  }
  const std::string path = "/api/v1/namespaces/" + access.PodNamespace() + "/pods";
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (!r.ok || r.status != 200) {
    error = access.api->DescribeFailure("list", path, r);
    return std::nullopt;
  }
  return manifest::ParseKubeVipPods(r.body, access.PodName(), access.ContainerName(), error);
}

LeaseLookup FetchLease(ClusterAccess& access) {
  LeaseLookup out;
  if (!access.api) {
    out.error = "no API access: " + access.api_error;
    return out;
  }
  const std::string path = "/apis/coordination.k8s.io/v1/namespaces/" + access.LeaseNamespace() +
                           "/leases/" + access.LeaseName();
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (r.ok && r.status == 404) {
    out.ok = true;
    return out;
  }
  if (!r.ok || r.status != 200) {
    out.error = access.api->DescribeFailure("get", path, r);
    return out;
  }
  auto lease = manifest::ParseLease(r.body, out.error);
  if (!lease) return out;
  out.ok = out.present = true;
  out.lease = std::move(*lease);
  return out;
}

std::optional<std::string> FetchPodLog(ClusterAccess& access, const std::string& pod,
                                       std::string& error) {
  if (!access.api) {
    error = "no API access: " + access.api_error;
    return std::nullopt;
  }
  const std::string path = "/api/v1/namespaces/" + access.PodNamespace() + "/pods/" + pod +
                           "/log?container=" + access.ContainerName() +
                           "&limitBytes=" + std::to_string(kMaxLogBytes);
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (!r.ok || r.status != 200) {
    error = access.api->DescribeFailure("get", path, r);
    return std::nullopt;
  }
  return std::move(r.body);
}

MetricsProbe ProbeKubeVipMetrics(const std::string& url, std::chrono::milliseconds timeout) {
  MetricsProbe probe;
  HttpRequest request;
  request.url = url;
  request.timeout = timeout;
  request.max_body_bytes = 4 << 20;
  HttpResponse r = HttpFetch(request);
  if (!r.ok) {
    probe.error = r.error;
    return probe;
  }
  if (r.status != 200) {
    probe.error = url + ": HTTP " + std::to_string(r.status);
    return probe;
  }
  promtext::ParseResult parsed = promtext::Parse(r.body);
  if (!parsed.ok()) {
    probe.error = url + ": not Prometheus text format: " + parsed.error->ToString();
    return probe;
  }
  probe.up = true;
  for (const auto& family : parsed.families) {
    if (family.name == "process_start_time_seconds" && !family.metric.empty())
      probe.process_start_time = family.metric.front().gauge.value;
  }
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

int Verify(const VerifyOptions& options) {
  OutputFormat format;
  if (!ParseOutputFormat(options.cluster.output, format)) {
    std::cerr << "--output: unknown format \"" << options.cluster.output << "\" (table, json)\n";
    return 2;
  }
  ClusterAccess access = OpenClusterAccess(options.cluster);
  std::vector<Check> checks;
  std::string expect = options.expect_version;
  if (expect.empty() && access.manifest) expect = access.manifest->image_ref.tag;

  checks.push_back(ProbeVipHealthz(access));

  LeaseLookup lease = FetchLease(access);
  Check lease_check{"lease", false, ""};
  const std::string lease_name = access.LeaseNamespace() + "/" + access.LeaseName();
  double now = UnixNow();
  if (!lease.ok) {
    lease_check.detail = lease.error;
  } else if (!lease.present) {
    lease_check.detail = lease_name + " does not exist";
  } else if (!lease.lease.FreshAt(now)) {
    lease_check.detail = lease_name + " held by \"" + lease.lease.holder +
                         "\" but not renewed for " +
                         std::to_string(static_cast<int>(now - lease.lease.renew_time)) +
                         " s (duration " + std::to_string(lease.lease.duration_seconds) + " s)";
  } else {
    lease_check.ok = true;
    lease_check.detail = lease_name + " held by " + lease.lease.holder + ", renewed " +
                         std::to_string(static_cast<int>(now - lease.lease.renew_time)) + " s ago";
  }
  checks.push_back(lease_check);

  std::string pods_error;
  auto pods = FetchKubeVipPods(access, pods_error);
  if (!pods || pods->empty()) {
    checks.push_back({"pods", false, pods ? "no kube-vip mirror pods found" : pods_error});
  } else {
    std::string restarts;
    for (const auto& pod : *pods) {
      std::string version = VersionOf(pod.status_image.empty() ? pod.image : pod.status_image);
      bool on_version = expect.empty() || version == expect;
      Check pod_check{"pod " + pod.node, pod.running && pod.ready && on_version, ""};
      pod_check.detail = pod.name + " " + version + (pod.running ? " running" : " not running") +
                         (pod.ready ? ", ready" : ", not ready") +
                         (pod.waiting_reason.empty() ? "" : " (" + pod.waiting_reason + ")") +
                         (on_version ? "" : "; expected " + expect);
      checks.push_back(pod_check);

      const std::string url =
          "http://" + pod.host_ip + ":" + std::to_string(access.MetricsPort()) + "/metrics";
      MetricsProbe metrics = ProbeKubeVipMetrics(url, access.options.request_timeout);
      checks.push_back(
          {"metrics " + pod.node, metrics.up, metrics.up ? url + " up" : metrics.error});

      std::string log_error;
      auto log = FetchPodLog(access, pod.name, log_error);
      int conflicts = log ? manifest::CountLockConflictLines(*log) : -1;
      checks.push_back(
          {"lock-conflicts " + pod.node, conflicts == 0,
           log ? std::to_string(conflicts) + " lock-conflict lines since the last restart"
               : log_error});
      restarts +=
          (restarts.empty() ? "" : ", ") + pod.node + "=" + std::to_string(pod.restart_count);
    }
    // Reported, not judged: restarts before an upgrade are history, not a failure.
    checks.push_back({"restarts", true, restarts});
  }

  bool all_ok = std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
  if (format == OutputFormat::kJson) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("command");
    w.String("verify");
    w.Key("ok");
    w.Bool(all_ok);
    w.Key("expected_version");
    w.String(expect.c_str());
    WriteChecksJson(w, "checks", checks);
    w.EndObject();
    std::cout << buffer.GetString() << "\n";
  } else {
    std::cout << "kube-vip verification (expected version " << (expect.empty() ? "any" : expect)
              << "):\n";
    PrintCheckTable(std::cout, checks);
    std::cout << (all_ok ? "all checks passed\n" : "some checks FAILED\n");
  }
  return all_ok ? 0 : 1;
}

}  // namespace kvip
