#include "rollout_cluster.h"

#include <rapidjson/document.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/json_member.h"
#include "common/logging.h"
#include "common/metric_family.h"
#include "ops/cluster_state.h"

namespace kvip::rollout_detail {
namespace {

constexpr size_t kMaxLogBytes = 1 << 20;

std::string LeasePath(const std::string& ns, const std::string& name) {
  return "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases/" + name;
}

// The port of "https://host:port[/...]", or "443".
std::string PortOf(const std::string& server) {
  auto host_start = server.find("://");
  std::string rest = host_start == std::string::npos ? server : server.substr(host_start + 3);
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.back() == ']') return "443";
  return rest.substr(colon + 1);
}

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or "".
std::string StartTicks(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

}  // namespace

std::string SelfIdentity() {
  std::string pid = std::to_string(getpid());
  return HostName() + "/" + pid + "/" + StartTicks(pid);
}

bool IsDeadProcessOfThisHost(const std::string& identity) {
  auto first = identity.find('/');
  auto second = identity.find('/', first == std::string::npos ? first : first + 1);
  if (first == std::string::npos || second == std::string::npos) return false;
  if (identity.substr(0, first) != HostName()) return false;
  const std::string pid = identity.substr(first + 1, second - first - 1);
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return false;
  // Gone, or the pid reused by a process that started at another time.
  return StartTicks(pid) != identity.substr(second + 1);
}

Result<std::unique_ptr<RolloutCluster>> RolloutCluster::Open(const std::string& kubeconfig,
                                                             const std::string& namespace_) {
  std::string error;
  auto config = kube::LoadClientConfig(kubeconfig, error);
  if (!config) return Error{error};
  auto cluster = std::make_unique<RolloutCluster>();
  cluster->clients_.push_back(std::make_unique<kube::Client>(std::move(*config)));
  cluster->ns_ = namespace_;
  return cluster;
}

void RolloutCluster::AddNodeAddresses(const std::vector<ops::RolloutNode>& nodes) {
  const kube::ClientConfig& base = clients_.front()->config();
  const std::string port = PortOf(base.server);
  for (const ops::RolloutNode& node : nodes) {
    if (node.internal_ip.empty()) continue;
    std::string host = node.internal_ip.find(':') != std::string::npos
                           ? "[" + node.internal_ip + "]"
                           : node.internal_ip;
    kube::ClientConfig config = base;
    config.server = "https://" + host + ":" + port;
    if (config.server == base.server) continue;
    clients_.push_back(std::make_unique<kube::Client>(std::move(config)));
  }
}

HttpResponse RolloutCluster::Request(const std::string& method, const std::string& path,
                                     const std::string& body, std::chrono::milliseconds timeout) {
  HttpResponse r;
  for (size_t tried = 0; tried < clients_.size(); ++tried) {
    size_t index = (current_ + tried) % clients_.size();
    r = clients_[index]->Request(method, path, body, timeout);
    if (r.ok) {
      if (index != current_)
        LogWarn("the API server did not answer at one address; carrying on through another",
                {{"failed", clients_[current_]->config().server},
                 {"now", clients_[index]->config().server}});
      current_ = index;
      return r;
    }
  }
  return r;
}

std::string RolloutCluster::Describe(const std::string& verb, const std::string& path,
                                     const HttpResponse& r) {
  return clients_[current_]->DescribeFailure(verb, path, r) +
         (clients_.size() > 1 && !r.ok ? " (and on every other API server address: " +
                                             std::to_string(clients_.size()) + " tried)"
                                       : "");
}

Result<ops::Discovery> RolloutCluster::Discover(const std::string& pod_name,
                                                const std::string& container) {
  const std::string nodes_path =
      std::string("/api/v1/nodes?labelSelector=") + ops::kControlPlaneLabel;
  HttpResponse nodes = Request("GET", nodes_path);
  if (!nodes.ok || nodes.status != 200) return Error{Describe("list", nodes_path, nodes)};
  const std::string pods_path = "/api/v1/namespaces/" + ns_ + "/pods";
  HttpResponse pods = Request("GET", pods_path);
  if (!pods.ok || pods.status != 200) return Error{Describe("list", pods_path, pods)};
  return ops::DiscoverRolloutNodes(nodes.body, pods.body, pod_name, container);
}

Result<std::string> RolloutCluster::LeaseHolder(const std::string& ns, const std::string& name,
                                                bool& fresh) {
  const std::string path = LeasePath(ns, name);
  HttpResponse r = Request("GET", path);
  fresh = false;
  if (r.ok && r.status == 404) return std::string();
  if (!r.ok || r.status != 200) return Error{Describe("get", path, r)};
  std::string error;
  auto lease = ops::ParseLease(r.body, error);
  if (!lease) return Error{error};
  fresh = lease->FreshAt(UnixNow());
  return lease->holder;
}

Result<bool> RolloutCluster::CreatePod(const std::string& json) {
  const std::string path = "/api/v1/namespaces/" + ns_ + "/pods";
  HttpResponse r = Request("POST", path, json);
  if (r.ok && r.status == 409) return false;
  if (!r.ok || r.status / 100 != 2) return Error{Describe("create", path, r)};
  return true;
}

Result<std::string> RolloutCluster::GetPod(const std::string& name) {
  const std::string path = "/api/v1/namespaces/" + ns_ + "/pods/" + name;
  HttpResponse r = Request("GET", path);
  if (r.ok && r.status == 404) return std::string();
  if (!r.ok || r.status != 200) return Error{Describe("get", path, r)};
  return std::move(r.body);
}

Result<std::string> RolloutCluster::PodLog(const std::string& name) {
  const std::string path = "/api/v1/namespaces/" + ns_ + "/pods/" + name +
                           "/log?container=step&limitBytes=" + std::to_string(kMaxLogBytes);
  HttpResponse r = Request("GET", path);
  if (!r.ok || r.status != 200) return Error{Describe("get", path, r)};
  return std::move(r.body);
}

void RolloutCluster::DeletePod(const std::string& name) {
  Request("DELETE", "/api/v1/namespaces/" + ns_ + "/pods/" + name,
          R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0})");
}

Result<std::vector<std::string>> RolloutCluster::StepPodNames() {
  const std::string path = "/api/v1/namespaces/" + ns_ +
                           "/pods?labelSelector=app.kubernetes.io%2Fcomponent%3D" +
                           ops::kStepPodComponent;
  HttpResponse r = Request("GET", path);
  if (!r.ok || r.status != 200) return Error{Describe("list", path, r)};
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  const rapidjson::Value* items = doc.HasParseError() ? nullptr : json::Member(doc, "items");
  std::vector<std::string> names;
  for (rapidjson::SizeType i = 0; items && items->IsArray() && i < items->Size(); ++i) {
    const rapidjson::Value* metadata = json::Member((*items)[i], "metadata");
    std::string name = metadata ? json::String(*metadata, "name") : "";
    if (name.starts_with(ops::kStepPodPrefix)) names.push_back(name);
  }
  return names;
}

Result<std::optional<ops::LockHolder>> RolloutCluster::ReadLock() {
  const std::string path = LeasePath(ns_, ops::kRolloutLockName);
  HttpResponse r = Request("GET", path);
  if (r.ok && r.status == 404) return std::optional<ops::LockHolder>();
  if (!r.ok || r.status != 200) return Error{Describe("get", path, r)};
  std::string error;
  auto holder = ops::ParseLockLease(r.body, error);
  if (!holder) return Error{error};
  return std::optional<ops::LockHolder>(std::move(*holder));
}

Result<bool> RolloutCluster::WriteLock(const std::string& me, const std::string& resource_version,
                                       const std::string& description) {
  const std::string body = ops::LockLeaseJson(ns_, me, UnixNow(), resource_version, description);
  const std::string collection = "/apis/coordination.k8s.io/v1/namespaces/" + ns_ + "/leases";
  const bool create = resource_version.empty();
  const std::string path = create ? collection : LeasePath(ns_, ops::kRolloutLockName);
  HttpResponse r = Request(create ? "POST" : "PUT", path, body);
  if (r.ok && r.status == 409) return false;  // someone else wrote it in between
  if (!r.ok || r.status / 100 != 2) return Error{Describe(create ? "create" : "update", path, r)};
  return true;
}

void RolloutCluster::ReleaseLock(const std::string& me) {
  auto lock = ReadLock();
  if (!lock || !*lock || (*lock)->identity != me) return;
  Request("DELETE", LeasePath(ns_, ops::kRolloutLockName),
          R"({"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":")" +
              (*lock)->resource_version + "\"}}");
}

ops::RolloutRecord RolloutCluster::ReadRecord() {
  HttpResponse r =
      Request("GET", "/api/v1/namespaces/" + ns_ + "/configmaps/" + ops::kRolloutRecordName);
  return r.ok && r.status == 200 ? ops::ParseRecordConfigMap(r.body) : ops::RolloutRecord{};
}

void RolloutCluster::WriteRecord(const ops::RolloutRecord& record) {
  const std::string body = ops::RecordConfigMapJson(ns_, record);
  const std::string path =
      "/api/v1/namespaces/" + ns_ + "/configmaps/" + std::string(ops::kRolloutRecordName);
  HttpResponse r = Request("PUT", path, body);
  if (r.ok && r.status == 404) Request("POST", "/api/v1/namespaces/" + ns_ + "/configmaps", body);
}

}  // namespace kvip::rollout_detail
