#pragma once
// core/v1 Pod objects as the kubelet reports them (a static pod's mirror pod): per container
// the restart count, readiness, current state and last termination. Parsing is split from
// I/O like the Lease's (kube/lease.h), for the same watch machinery.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/watch_event.h"

namespace kvip::kube {

struct ContainerTermination {
  std::string reason;  // e.g. Error, OOMKilled, Completed
  int exit_code = 0;
  int signal = 0;
  double started_at = 0;   // Unix seconds; 0 = not given
  double finished_at = 0;  // Unix seconds; 0 = not given
};

struct ContainerStatus {
  std::string name;
  std::string image;
  std::string image_id;
  int restart_count = 0;  // the kubelet's restartCount
  bool ready = false;
  bool running = false;
  double started_at = 0;       // state.running.startedAt, Unix seconds
  std::string waiting_reason;  // state.waiting.reason (CrashLoopBackOff, ErrImagePull, ...)
  std::string waiting_message;
  std::optional<ContainerTermination> terminated;       // state.terminated
  std::optional<ContainerTermination> last_terminated;  // lastState.terminated

  // The most recent run that ended: the current one when it has, else the one before.
  const ContainerTermination* LastEnded() const {
    if (terminated) return &*terminated;
    return last_terminated ? &*last_terminated : nullptr;
  }
};

// What spec.containers[] asks for (the manifest's image, before the kubelet resolves it).
struct ContainerSpec {
  std::string name;
  std::string image;
};

struct Pod {
  std::string name;
  std::string namespace_name;
  std::string resource_version;
  std::string uid;
  std::string config_hash;  // kubernetes.io/config.hash: a static pod's UID (its log dir name)
  std::string node;         // spec.nodeName
  std::vector<ContainerSpec> spec_containers;  // spec.containers, in the API's order
  std::string phase;                           // status.phase
  std::string reason;   // status.reason/message: why a pod ended without a container
  std::string message;  // status (DeadlineExceeded, Evicted, ...)
  std::string host_ip;  // status.hostIP
  std::vector<ContainerStatus> containers;  // status.containerStatuses, in the API's order

  const ContainerSpec* SpecContainer(std::string_view container) const;
  const ContainerStatus* Container(std::string_view container) const;
};

using PodList = ObjectList<Pod>;
using PodWatchEvent = ObjectEvent<Pod>;

// Each returns nullopt with `error` saying what is wrong when `json` is not what it should be.
std::optional<Pod> ParsePod(std::string_view json, std::string& error);
std::optional<PodList> ParsePodList(std::string_view json, std::string& error);
// The items of any pod list, also one that cannot be watched from (`kubectl get -o json`
// writes an empty metadata.resourceVersion).
std::optional<std::vector<Pod>> ParsePodItems(std::string_view json, std::string& error);
std::optional<PodWatchEvent> ParsePodWatchEvent(std::string_view json, std::string& error);

}  // namespace kvip::kube
