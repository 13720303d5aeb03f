#include "manifest/cluster_state.h"

#include <rapidjson/document.h>

#include <algorithm>

namespace kvip::manifest {
namespace {

using rapidjson::Value;

const Value* Member(const Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string String(const Value& object, const char* name) {
  const Value* v = Member(object, name);
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

int Int(const Value& object, const char* name) {
  const Value* v = Member(object, name);
  return v && v->IsInt() ? v->GetInt() : 0;
}

}  // namespace

std::optional<std::vector<KubeVipPod>> ParseKubeVipPods(std::string_view pod_list_json,
                                                        const std::string& pod_name,
                                                        const std::string& container,
                                                        std::string& error) {
  rapidjson::Document doc;
  doc.Parse(pod_list_json.data(), pod_list_json.size());
  const Value* items = doc.HasParseError() ? nullptr : Member(doc, "items");
  if (!items || !items->IsArray()) {
    error = "the pod list is not a Kubernetes PodList (no items array)";
    return std::nullopt;
  }
  std::vector<KubeVipPod> pods;
  for (const Value& item : items->GetArray()) {
    const Value* metadata = Member(item, "metadata");
    const Value* spec = Member(item, "spec");
    if (!metadata || !spec) continue;
    KubeVipPod pod;
    pod.name = String(*metadata, "name");
    pod.node = String(*spec, "nodeName");
    if (pod.node.empty() || pod.name != pod_name + "-" + pod.node) continue;
    pod.uid = String(*metadata, "uid");
    if (const Value* annotations = Member(*metadata, "annotations"))
      pod.config_hash = String(*annotations, "kubernetes.io/config.hash");
    if (const Value* containers = Member(*spec, "containers");
        containers && containers->IsArray()) {
      for (const Value& c : containers->GetArray()) {
        if (String(c, "name") == container) pod.image = String(c, "image");
      }
    }
    if (const Value* status = Member(item, "status")) {
      pod.phase = String(*status, "phase");
      pod.host_ip = String(*status, "hostIP");
      const Value* statuses = Member(*status, "containerStatuses");
      for (rapidjson::SizeType i = 0; statuses && statuses->IsArray() && i < statuses->Size();
           ++i) {
        const Value& c = (*statuses)[i];
        if (String(c, "name") != container) continue;
        pod.status_image = String(c, "image");
        pod.image_id = String(c, "imageID");
        pod.restart_count = Int(c, "restartCount");
        const Value* ready = Member(c, "ready");
        pod.ready = ready && ready->IsBool() && ready->GetBool();
        if (const Value* last = Member(c, "lastState")) {
          if (const Value* terminated = Member(*last, "terminated")) {
            pod.last_run_started_at = ParseRfc3339(String(*terminated, "startedAt")).value_or(0);
            pod.last_exit_code = Int(*terminated, "exitCode");
          }
        }
        if (const Value* state = Member(c, "state")) {
          if (const Value* running = Member(*state, "running")) {
            pod.running = true;
            pod.started_at = ParseRfc3339(String(*running, "startedAt")).value_or(0);
          }
          if (const Value* waiting = Member(*state, "waiting"))
            pod.waiting_reason = String(*waiting, "reason");
          if (const Value* terminated = Member(*state, "terminated")) {
            pod.waiting_reason = "Terminated: " + String(*terminated, "reason");
            pod.last_run_started_at = ParseRfc3339(String(*terminated, "startedAt")).value_or(0);
            pod.last_exit_code = Int(*terminated, "exitCode");
          }
        }
      }
    }
    pods.push_back(std::move(pod));
  }
  std::sort(pods.begin(), pods.end(),
            [](const KubeVipPod& a, const KubeVipPod& b) { return a.node < b.node; });
  return pods;
}

std::optional<LeaseInfo> ParseLease(std::string_view lease_json, std::string& error) {
  auto lease = kube::ParseLease(lease_json, error);
  if (!lease) return std::nullopt;
  LeaseInfo info;
  info.holder = lease->holder;
  info.renew_time = lease->renew_time.value_or(0);
  info.acquire_time = lease->acquire_time.value_or(0);
  info.duration_seconds = static_cast<int>(lease->duration_seconds.value_or(0));
  info.transitions = static_cast<int>(lease->transitions.value_or(0));
  info.resource_version = lease->resource_version;
  return info;
}

bool IsLockConflictLine(std::string_view line) {
  return line.find("Failed to update lock optimistically") != std::string_view::npos ||
         line.find("Failed to update lease optimistically") != std::string_view::npos;
}

int CountLockConflictLines(std::string_view text) {
  int count = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (IsLockConflictLine(line)) ++count;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return count;
}

}  // namespace kvip::manifest
