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
  std::optional<ContainerTermination> terminated;       // state.terminated
  std::optional<ContainerTermination> last_terminated;  // lastState.terminated
};

struct Pod {
  std::string name;
  std::string namespace_name;
  std::string resource_version;
  std::string uid;
  std::string node;                         // spec.nodeName
  std::string phase;                        // status.phase
  std::vector<ContainerStatus> containers;  // status.containerStatuses, in the API's order
};

using PodList = ObjectList<Pod>;
using PodWatchEvent = ObjectEvent<Pod>;

// Each returns nullopt with `error` saying what is wrong when `json` is not what it should be.
std::optional<Pod> ParsePod(std::string_view json, std::string& error);
std::optional<PodList> ParsePodList(std::string_view json, std::string& error);
std::optional<PodWatchEvent> ParsePodWatchEvent(std::string_view json, std::string& error);

}  // namespace kvip::kube
