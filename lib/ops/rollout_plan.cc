#include "ops/rollout_plan.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "common/json_member.h"
#include "kube/pod.h"
#include "manifest/image_ref.h"

namespace kvip::ops {

using rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

void Key(JsonWriter& w, const char* key) { w.Key(key); }
void Str(JsonWriter& w, const std::string& value) {
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}
void KeyStr(JsonWriter& w, const char* key, const std::string& value) {
  Key(w, key);
  Str(w, value);
}

// `{"apiVersion":..,"kind":..,"metadata":{"name":..,"namespace":..` with metadata left open
// for the caller's further fields.
void OpenObject(JsonWriter& w, const char* api_version, const char* kind, const std::string& name,
                const std::string& namespace_) {
  w.StartObject();
  KeyStr(w, "apiVersion", api_version);
  KeyStr(w, "kind", kind);
  Key(w, "metadata");
  w.StartObject();
  KeyStr(w, "name", name);
  KeyStr(w, "namespace", namespace_);
}

// The hostPath of the volume kube-vip mounts at /etc/kubernetes/*.conf (admin.conf, or
// super-admin.conf on a kubeadm cluster's first node).
std::string KubeconfigHostPath(const Value& pod_spec, const std::string& container) {
  std::string volume;
  if (const Value* containers = json::Member(pod_spec, "containers");
      containers && containers->IsArray()) {
    for (const Value& c : containers->GetArray()) {
      if (json::String(c, "name") != container) continue;
      const Value* mounts = json::Member(c, "volumeMounts");
      for (rapidjson::SizeType i = 0; mounts && mounts->IsArray() && i < mounts->Size(); ++i) {
        std::string path = json::String((*mounts)[i], "mountPath");
        if (path.starts_with("/etc/kubernetes/") && path.ends_with(".conf"))
          volume = json::String((*mounts)[i], "name");
      }
    }
  }
  const Value* volumes = json::Member(pod_spec, "volumes");
  for (rapidjson::SizeType i = 0;
       !volume.empty() && volumes && volumes->IsArray() && i < volumes->Size(); ++i) {
    if (json::String((*volumes)[i], "name") != volume) continue;
    if (const Value* host_path = json::Member((*volumes)[i], "hostPath"))
      return json::String(*host_path, "path");
  }
  return "";
}

// A literal `value` of the container's env (valueFrom is not resolved), or "".
std::string ContainerEnv(const Value& pod_spec, const std::string& container, const char* name) {
  const Value* containers = json::Member(pod_spec, "containers");
  for (rapidjson::SizeType i = 0; containers && containers->IsArray() && i < containers->Size();
       ++i) {
    if (json::String((*containers)[i], "name") != container) continue;
    const Value* env = json::Member((*containers)[i], "env");
    for (rapidjson::SizeType j = 0; env && env->IsArray() && j < env->Size(); ++j)
      if (json::String((*env)[j], "name") == name) return json::String((*env)[j], "value");
  }
  return "";
}

}  // namespace

Result<Discovery> DiscoverRolloutNodes(std::string_view node_list_json,
                                       std::string_view pod_list_json, const std::string& pod_name,
                                       const std::string& container) {
  std::string error;
  auto pods = ParseKubeVipPods(pod_list_json, pod_name, container, error);
  if (!pods) return Error{error};
  rapidjson::Document nodes_doc;
  nodes_doc.Parse(node_list_json.data(), node_list_json.size());
  const Value* items = nodes_doc.HasParseError() ? nullptr : json::Member(nodes_doc, "items");
  if (!items || !items->IsArray()) return Error{"the node list is not a NodeList (no items)"};
  rapidjson::Document pods_doc;
  pods_doc.Parse(pod_list_json.data(), pod_list_json.size());
  const Value* pod_items = json::Member(pods_doc, "items");

  Discovery discovery;
  for (const Value& item : items->GetArray()) {
    const Value* metadata = json::Member(item, "metadata");
    if (!metadata) continue;
    const Value* labels = json::Member(*metadata, "labels");
    if (!labels || !json::Member(*labels, kControlPlaneLabel)) continue;
    RolloutNode node;
    node.name = json::String(*metadata, "name");
    if (const Value* annotations = json::Member(*metadata, "annotations")) {
      std::string root = json::String(*annotations, kHostRootAnnotation);
      if (!root.empty()) node.host_root = root;
    }
    const Value* status = json::Member(item, "status");
    const Value* addresses = status ? json::Member(*status, "addresses") : nullptr;
    for (rapidjson::SizeType i = 0; addresses && addresses->IsArray() && i < addresses->Size();
         ++i) {
      if (json::String((*addresses)[i], "type") == "InternalIP" && node.internal_ip.empty())
        node.internal_ip = json::String((*addresses)[i], "address");
    }
    auto pod = std::find_if(pods->begin(), pods->end(),
                            [&](const KubeVipPod& p) { return p.node == node.name; });
    if (pod == pods->end()) {
      discovery.without_kubevip.push_back(node.name);
      continue;
    }
    node.pod = *pod;
    for (rapidjson::SizeType i = 0; pod_items && pod_items->IsArray() && i < pod_items->Size();
         ++i) {
      const Value* pod_metadata = json::Member((*pod_items)[i], "metadata");
      const Value* spec = json::Member((*pod_items)[i], "spec");
      if (!pod_metadata || !spec || json::String(*pod_metadata, "name") != pod->name) continue;
      node.kubeconfig_host_path = KubeconfigHostPath(*spec, container);
      // kube-vip's own env names the VIP (`address`, or the older `vip_address`) and its port.
      node.vip = ContainerEnv(*spec, container, "address");
      if (node.vip.empty()) node.vip = ContainerEnv(*spec, container, "vip_address");
      const std::string port = ContainerEnv(*spec, container, "port");
      if (!port.empty() && port.find_first_not_of("0123456789") == std::string::npos &&
          port.size() < 6)
        node.vip_port = std::stoi(port);
    }
    discovery.nodes.push_back(std::move(node));
  }
  std::sort(discovery.nodes.begin(), discovery.nodes.end(),
            [](const RolloutNode& a, const RolloutNode& b) { return a.name < b.name; });
  std::sort(discovery.without_kubevip.begin(), discovery.without_kubevip.end());
  return discovery;
}

Result<std::vector<std::string>> PlanOrder(const std::vector<RolloutNode>& nodes,
                                           const std::string& lease_holder) {
  if (nodes.empty()) return Error{"no control-plane node runs a kube-vip mirror pod"};
  if (lease_holder.empty())
    return Error{"the kube-vip lease has no holder: the leader, which goes last, is unknown"};
  std::vector<std::string> order;
  bool leader_found = false;
  for (const RolloutNode& node : nodes) {
    if (node.name == lease_holder)
      leader_found = true;
    else
      order.push_back(node.name);
  }
  if (!leader_found)
    return Error{"the kube-vip lease is held by \"" + lease_holder +
                 "\", which runs no kube-vip mirror pod here: the order would be a guess"};
  order.push_back(lease_holder);
  return order;
}

bool NodeOnVersion(const KubeVipPod& pod, const std::string& to) {
  return TagOf(pod.image) == to && TagOf(pod.status_image) == to && pod.running && pod.ready;
}

Check FollowersReady(const std::vector<RolloutNode>& nodes, const std::string& leader,
                     const std::string& to) {
  std::string behind;
  for (const RolloutNode& node : nodes) {
    if (node.name == leader || NodeOnVersion(node.pod, to)) continue;
    behind += (behind.empty() ? "" : ", ") + node.name + " (" + TagOf(node.pod.image) +
              (node.pod.running ? "" : ", not running") + (node.pod.ready ? "" : ", not ready") +
              ")";
  }
  if (!behind.empty()) return {"followers-ready", false, "not on " + to + " and ready: " + behind};
  return {"followers-ready", true, "every follower runs " + to + ", ready"};
}

std::string UnderHostRoot(const std::string& host_root, const std::string& path) {
  if (host_root.empty() || host_root == "/") return path;
  std::string root = host_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root + (path.starts_with('/') ? "" : "/") + path;
}

namespace {

std::string ParentOf(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void HostPathVolume(JsonWriter& w, const std::string& name, const std::string& path,
                    const char* type) {
  w.StartObject();
  KeyStr(w, "name", name);
  Key(w, "hostPath");
  w.StartObject();
  KeyStr(w, "path", path);
  KeyStr(w, "type", type);
  w.EndObject();
  w.EndObject();
}

void Mount(JsonWriter& w, const std::string& name, const std::string& path, bool read_only) {
  w.StartObject();
  KeyStr(w, "name", name);
  KeyStr(w, "mountPath", path);
  Key(w, "readOnly");
  w.Bool(read_only);
  w.EndObject();
}

void EnvVar(JsonWriter& w, const char* name, const std::string& value) {
  w.StartObject();
  KeyStr(w, "name", name);
  KeyStr(w, "value", value);
  w.EndObject();
}

}  // namespace

std::string StepPodJson(const StepPodSpec& spec) {
  // In the pod every path is the node's own: the manifests directory's parent, the socket and
  // the state directory at the paths the step's defaults name.
  const std::string config_dir = ParentOf(ParentOf(spec.manifest));
  const std::string socket_in_pod = "/run/containerd/containerd.sock";
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  OpenObject(w, "v1", "Pod", spec.name, spec.namespace_);
  Key(w, "labels");
  w.StartObject();
  KeyStr(w, "app.kubernetes.io/name", "kvip-exporter");
  KeyStr(w, "app.kubernetes.io/component", kStepPodComponent);
  w.EndObject();
  Key(w, "annotations");
  w.StartObject();
  KeyStr(w, "kvip-exporter.dev/rollout-id", spec.rollout_id);
  w.EndObject();
  w.EndObject();

  Key(w, "spec");
  w.StartObject();
  KeyStr(w, "nodeName", spec.node);
  Key(w, "hostNetwork");
  w.Bool(true);
  KeyStr(w, "restartPolicy", "Never");
  Key(w, "activeDeadlineSeconds");
  w.Int(spec.deadline_seconds);
  Key(w, "terminationGracePeriodSeconds");
  w.Int(30);
  Key(w, "automountServiceAccountToken");
  w.Bool(false);
  Key(w, "tolerations");
  w.StartArray();
  w.StartObject();
  KeyStr(w, "key", kControlPlaneLabel);
  KeyStr(w, "operator", "Exists");
  KeyStr(w, "effect", "NoSchedule");
  w.EndObject();
  w.EndArray();

  Key(w, "containers");
  w.StartArray();
  w.StartObject();
  KeyStr(w, "name", "step");
  KeyStr(w, "image", spec.image);
  KeyStr(w, "imagePullPolicy", "IfNotPresent");
  Key(w, "args");
  w.StartArray();
  Str(w, "upgrade");
  for (const std::string& arg : spec.args) Str(w, arg);
  Str(w, "--output=json");
  Str(w, "--kubevip.manifest=" + spec.manifest);
  Str(w, "--state-dir=" + spec.state_dir);
  if (!spec.kubeconfig_host_path.empty()) Str(w, std::string("--kubeconfig=") + kStepKubeconfig);
  w.EndArray();
  Key(w, "env");
  w.StartArray();
  w.StartObject();
  KeyStr(w, "name", "NODE_NAME");
  Key(w, "valueFrom");
  w.StartObject();
  Key(w, "fieldRef");
  w.StartObject();
  KeyStr(w, "fieldPath", "spec.nodeName");
  w.EndObject();
  w.EndObject();
  w.EndObject();
  EnvVar(w, "CONTAINERD_ADDRESS", socket_in_pod);
  EnvVar(w, "CONTAINER_RUNTIME_ENDPOINT", "unix://" + socket_in_pod);
  w.EndArray();
  Key(w, "securityContext");
  w.StartObject();
  Key(w, "runAsUser");  // the manifests and containerd's socket belong to root
  w.Int(0);
  Key(w, "allowPrivilegeEscalation");
  w.Bool(false);
  Key(w, "capabilities");
  w.StartObject();
  Key(w, "drop");
  w.StartArray();
  Str(w, "ALL");
  w.EndArray();
  Key(w, "add");  // root without CAP_DAC_OVERRIDE/CHOWN could not keep the files' owners
  w.StartArray();
  Str(w, "CHOWN");
  Str(w, "DAC_OVERRIDE");
  Str(w, "FOWNER");
  w.EndArray();
  w.EndObject();
  w.EndObject();
  Key(w, "volumeMounts");
  w.StartArray();
  Mount(w, "kubernetes", config_dir, false);
  Mount(w, "containerd", socket_in_pod, false);
  Mount(w, "state", spec.state_dir, false);
  if (!spec.kubeconfig_host_path.empty()) Mount(w, "kubeconfig", kStepKubeconfig, true);
  w.EndArray();
  w.EndObject();
  w.EndArray();

  Key(w, "volumes");
  w.StartArray();
  HostPathVolume(w, "kubernetes", UnderHostRoot(spec.host_root, config_dir), "Directory");
  HostPathVolume(w, "containerd", UnderHostRoot(spec.host_root, spec.containerd_socket), "Socket");
  HostPathVolume(w, "state", UnderHostRoot(spec.host_root, spec.state_dir), "DirectoryOrCreate");
  // kube-vip's hostPath is already a path of this machine's filesystem: no prefix.
  if (!spec.kubeconfig_host_path.empty())
    HostPathVolume(w, "kubeconfig", spec.kubeconfig_host_path, "File");
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

StepPodState JudgeStepPod(std::string_view pod_json) {
  std::string error;
  auto pod = kube::ParsePod(pod_json, error);
  StepPodState state;
  if (!pod || pod->phase.empty()) {
    state.detail = "no pod status";
    return state;
  }
  const kube::ContainerStatus* c = pod->containers.empty() ? nullptr : &pod->containers[0];
  if (c && c->terminated) {
    state.phase = StepPodState::kFinished;
    state.exit_code = c->terminated->exit_code;
    state.detail = c->terminated->reason;
    return state;
  }
  if (pod->phase == "Failed" || pod->phase == "Succeeded") {
    // Ended without a container status: activeDeadlineSeconds, eviction, node lost.
    state.phase = StepPodState::kFinished;
    state.detail = pod->reason + ": " + pod->message;
    return state;
  }
  if (c && !c->waiting_reason.empty()) {
    state.detail =
        c->waiting_reason + (c->waiting_message.empty() ? "" : ": " + c->waiting_message);
    static constexpr std::string_view kHopeless[] = {
        "ErrImagePull",         "ImagePullBackOff",
        "InvalidImageName",     "CreateContainerConfigError",
        "CreateContainerError", "RunContainerError"};
    if (std::find(std::begin(kHopeless), std::end(kHopeless), c->waiting_reason) !=
        std::end(kHopeless))
      state.phase = StepPodState::kCannotStart;
    return state;
  }
  if (c && c->running) state.phase = StepPodState::kRunning;
  return state;
}

std::optional<StepReport> FindStepReport(std::string_view log) {
  std::optional<StepReport> found;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string_view::npos) end = log.size();
    std::string_view line = log.substr(start, end - start);
    start = end + 1;
    if (!line.starts_with("{\"command\":\"upgrade\"")) continue;
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    StepReport report;
    report.result = json::String(doc, "result");
    report.exit_code = json::Int(doc, "exit_code", -1);
    report.message = json::String(doc, "message");
    report.from = json::String(doc, "from");
    report.to = json::String(doc, "to");
    report.backup = json::String(doc, "backup");
    report.was_leader = json::Bool(doc, "was_leader");
    for (const char* section : {"preflight", "steps"}) {
      const Value* checks = json::Member(doc, section);
      for (rapidjson::SizeType i = 0; checks && checks->IsArray() && i < checks->Size(); ++i) {
        if (!json::Bool((*checks)[i], "ok", /*fallback=*/true))
          report.failed.push_back(
              {json::String((*checks)[i], "name"), false, json::String((*checks)[i], "detail")});
      }
    }
    found = std::move(report);
  }
  return found;
}

// --- lock ----------------------------------------------------------------------------------

std::optional<LockHolder> ParseLockLease(std::string_view lease_json, std::string& error) {
  rapidjson::Document doc;
  doc.Parse(lease_json.data(), lease_json.size());
  const Value* spec = doc.HasParseError() ? nullptr : json::Member(doc, "spec");
  const Value* metadata = doc.HasParseError() ? nullptr : json::Member(doc, "metadata");
  if (!spec || !metadata) {
    error = "the rollout lock is not a Lease object";
    return std::nullopt;
  }
  LockHolder holder;
  holder.identity = json::String(*spec, "holderIdentity");
  holder.renew_time = kube::ParseRfc3339(json::String(*spec, "renewTime")).value_or(0);
  holder.duration_seconds = json::Int(*spec, "leaseDurationSeconds");
  holder.resource_version = json::String(*metadata, "resourceVersion");
  if (const Value* annotations = json::Member(*metadata, "annotations"))
    holder.description = json::String(*annotations, "kvip-exporter.dev/rollout");
  return holder;
}

LockDecision DecideLock(const std::optional<LockHolder>& holder, const std::string& me, double now,
                        bool holder_is_dead_process_here) {
  if (!holder || holder->identity.empty()) return {LockVerdict::kTake, "the lock is free"};
  if (holder->identity == me) return {LockVerdict::kTake, "the lock is ours"};
  if (kube::LeaseExpiredAt(holder->renew_time, holder->duration_seconds, now))
    return {LockVerdict::kTake, "the lock held by " + holder->identity + " expired"};
  if (holder_is_dead_process_here)
    return {LockVerdict::kTake,
            "the lock's holder " + holder->identity + " was a rollout on this host that has ended"};
  const double left = holder->renew_time + holder->duration_seconds - now;
  return {
      LockVerdict::kRefuse,
      "another rollout holds the lock " + std::string(kRolloutLockName) + ": " + holder->identity +
          (holder->description.empty() ? "" : " (" + holder->description + ")") + ", renewed " +
          std::to_string(static_cast<int>(now - holder->renew_time)) + " s ago; it expires in " +
          std::to_string(static_cast<int>(std::ceil(left))) + " s unless renewed"};
}

std::string FormatMicroTime(double unix_seconds) {
  auto whole = static_cast<time_t>(std::floor(unix_seconds));
  auto micros = static_cast<long>(std::llround((unix_seconds - static_cast<double>(whole)) * 1e6));
  if (micros >= 1000000) {
    ++whole;
    micros -= 1000000;
  }
  std::tm tm{};
  gmtime_r(&whole, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06ldZ", buffer, micros);
  return out;
}

std::string LockLeaseJson(const std::string& namespace_, const std::string& me, double now,
                          const std::string& resource_version, const std::string& description) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  OpenObject(w, "coordination.k8s.io/v1", "Lease", kRolloutLockName, namespace_);
  if (!resource_version.empty()) KeyStr(w, "resourceVersion", resource_version);
  Key(w, "annotations");
  w.StartObject();
  KeyStr(w, "kvip-exporter.dev/rollout", description);
  w.EndObject();
  w.EndObject();
  Key(w, "spec");
  w.StartObject();
  KeyStr(w, "holderIdentity", me);
  Key(w, "leaseDurationSeconds");
  w.Int(kRolloutLockSeconds);
  KeyStr(w, "renewTime", FormatMicroTime(now));
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

// --- record --------------------------------------------------------------------------------

void RolloutRecord::Put(NodeRecord record) {
  auto it = std::find_if(nodes.begin(), nodes.end(),
                         [&](const NodeRecord& r) { return r.node == record.node; });
  if (it != nodes.end())
    *it = std::move(record);
  else
    nodes.push_back(std::move(record));
}

std::string RecordConfigMapJson(const std::string& namespace_, const RolloutRecord& record) {
  rapidjson::StringBuffer inner;
  JsonWriter r(inner);
  r.StartObject();
  KeyStr(r, "action", record.action);
  Key(r, "started_at");
  r.Double(record.started_at);
  Key(r, "nodes");
  r.StartArray();
  for (const NodeRecord& n : record.nodes) {
    r.StartObject();
    KeyStr(r, "node", n.node);
    KeyStr(r, "result", n.result);
    Key(r, "exit_code");
    r.Int(n.exit_code);
    KeyStr(r, "from", n.from);
    KeyStr(r, "to", n.to);
    KeyStr(r, "backup", n.backup);
    KeyStr(r, "message", n.message);
    Key(r, "at");
    r.Double(n.at);
    r.EndObject();
  }
  r.EndArray();
  r.EndObject();

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  OpenObject(w, "v1", "ConfigMap", kRolloutRecordName, namespace_);
  w.EndObject();
  Key(w, "data");
  w.StartObject();
  KeyStr(w, "record.json", inner.GetString());
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

RolloutRecord ParseRecordConfigMap(std::string_view configmap_json) {
  RolloutRecord record;
  rapidjson::Document doc;
  doc.Parse(configmap_json.data(), configmap_json.size());
  const Value* data = doc.HasParseError() ? nullptr : json::Member(doc, "data");
  if (!data) return record;
  const std::string text = json::String(*data, "record.json");
  rapidjson::Document inner;
  inner.Parse(text.c_str(), text.size());
  if (inner.HasParseError() || !inner.IsObject()) return record;
  record.action = json::String(inner, "action");
  record.started_at = json::Number(inner, "started_at").value_or(0);
  const Value* nodes = json::Member(inner, "nodes");
  for (rapidjson::SizeType i = 0; nodes && nodes->IsArray() && i < nodes->Size(); ++i) {
    const Value& n = (*nodes)[i];
    record.nodes.push_back({json::String(n, "node"), json::String(n, "result"),
                            json::Int(n, "exit_code"), json::String(n, "from"),
                            json::String(n, "to"), json::String(n, "backup"),
                            json::String(n, "message"), json::Number(n, "at").value_or(0)});
  }
  return record;
}

}  // namespace kvip::ops
