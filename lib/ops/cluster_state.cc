#include "ops/cluster_state.h"

#include <algorithm>

#include "kube/pod.h"

namespace kvip::ops {

std::optional<std::vector<KubeVipPod>> ParseKubeVipPods(std::string_view pod_list_json,
                                                        const std::string& pod_name,
                                                        const std::string& container,
                                                        std::string& error) {
  auto items = kube::ParsePodItems(pod_list_json, error);
  if (!items) {
    error = "the pod list is not a Kubernetes PodList (" + error + ")";
    return std::nullopt;
  }
  std::vector<KubeVipPod> pods;
  for (const kube::Pod& item : *items) {
    if (item.node.empty() || item.name != pod_name + "-" + item.node) continue;
    KubeVipPod pod;
    pod.name = item.name;
    pod.node = item.node;
    pod.uid = item.uid;
    pod.config_hash = item.config_hash;
    pod.host_ip = item.host_ip;
    pod.phase = item.phase;
    if (const kube::ContainerSpec* spec = item.SpecContainer(container)) pod.image = spec->image;
    if (const kube::ContainerStatus* c = item.Container(container)) {
      pod.status_image = c->image;
      pod.image_id = c->image_id;
      pod.running = c->running;
      pod.ready = c->ready;
      pod.started_at = c->started_at;
      pod.restart_count = c->restart_count;
      pod.waiting_reason =
          c->terminated ? "Terminated: " + c->terminated->reason : c->waiting_reason;
      if (const kube::ContainerTermination* ended = c->LastEnded()) {
        pod.last_run_started_at = ended->started_at;
        pod.last_exit_code = ended->exit_code;
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
