#include "ops/cluster_state.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "common/json_member.h"

namespace kvip::ops {

using rapidjson::Value;

std::optional<std::vector<KubeVipPod>> ParseKubeVipPods(std::string_view pod_list_json,
                                                        const std::string& pod_name,
                                                        const std::string& container,
                                                        std::string& error) {
  rapidjson::Document doc;
  doc.Parse(pod_list_json.data(), pod_list_json.size());
  const Value* items = doc.HasParseError() ? nullptr : json::Member(doc, "items");
  if (!items || !items->IsArray()) {
    error = "the pod list is not a Kubernetes PodList (no items array)";
    return std::nullopt;
  }
  std::vector<KubeVipPod> pods;
  for (const Value& item : items->GetArray()) {
    const Value* metadata = json::Member(item, "metadata");
    const Value* spec = json::Member(item, "spec");
    if (!metadata || !spec) continue;
    KubeVipPod pod;
    pod.name = json::String(*metadata, "name");
    pod.node = json::String(*spec, "nodeName");
    if (pod.node.empty() || pod.name != pod_name + "-" + pod.node) continue;
    pod.uid = json::String(*metadata, "uid");
    if (const Value* annotations = json::Member(*metadata, "annotations"))
      pod.config_hash = json::String(*annotations, "kubernetes.io/config.hash");
    if (const Value* containers = json::Member(*spec, "containers");
        containers && containers->IsArray()) {
      for (const Value& c : containers->GetArray()) {
        if (json::String(c, "name") == container) pod.image = json::String(c, "image");
      }
    }
    if (const Value* status = json::Member(item, "status")) {
      pod.phase = json::String(*status, "phase");
      pod.host_ip = json::String(*status, "hostIP");
      const Value* statuses = json::Member(*status, "containerStatuses");
      for (rapidjson::SizeType i = 0; statuses && statuses->IsArray() && i < statuses->Size();
           ++i) {
        const Value& c = (*statuses)[i];
        if (json::String(c, "name") != container) continue;
        pod.status_image = json::String(c, "image");
        pod.image_id = json::String(c, "imageID");
        pod.restart_count = json::Int(c, "restartCount");
        const Value* ready = json::Member(c, "ready");
        pod.ready = ready && ready->IsBool() && ready->GetBool();
        if (const Value* last = json::Member(c, "lastState")) {
          if (const Value* terminated = json::Member(*last, "terminated")) {
            pod.last_run_started_at =
                ParseRfc3339(json::String(*terminated, "startedAt")).value_or(0);
            pod.last_exit_code = json::Int(*terminated, "exitCode");
          }
        }
        if (const Value* state = json::Member(c, "state")) {
          if (const Value* running = json::Member(*state, "running")) {
            pod.running = true;
            pod.started_at = ParseRfc3339(json::String(*running, "startedAt")).value_or(0);
          }
          if (const Value* waiting = json::Member(*state, "waiting"))
            pod.waiting_reason = json::String(*waiting, "reason");
          if (const Value* terminated = json::Member(*state, "terminated")) {
            pod.waiting_reason = "Terminated: " + json::String(*terminated, "reason");
            pod.last_run_started_at =
                ParseRfc3339(json::String(*terminated, "startedAt")).value_or(0);
            pod.last_exit_code = json::Int(*terminated, "exitCode");
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

}  // namespace kvip::ops
