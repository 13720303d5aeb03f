#pragma once
// What the API server says about kube-vip: its mirror pods (one per control-plane node,
// named <manifest pod name>-<node>) and its Lease. Pure parsing of API JSON, so the
// upgrade, verify and recover decisions can be tested without a cluster.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/lease.h"

namespace kvip::ops {

// RFC 3339 as the API server writes it: lib/kube's parser, the one the Lease watch uses.
using kube::ParseRfc3339;

struct KubeVipPod {
  std::string name;
  std::string node;
  std::string uid;
  std::string config_hash;  // kubernetes.io/config.hash: the static pod's UID (log dir name)
  std::string host_ip;
  std::string phase;
  std::string image;         // spec: what the manifest asks for
  std::string status_image;  // status: what the container runs
  std::string image_id;
  bool running = false;
  bool ready = false;
  double started_at = 0;  // running.startedAt, Unix seconds; 0 when not running
  int restart_count = 0;
  std::string waiting_reason;  // ErrImagePull, CrashLoopBackOff, ...
  // The most recent run that ended (state.terminated, else lastState.terminated): when it
  // started tells whether a crash happened after a change; 0 when none ended.
  double last_run_started_at = 0;
  int last_exit_code = 0;

  // "running, ready", "not running, not ready", ...: how the upgrade, verify and rollout
  // describe a pod.
  std::string RunningReadyText() const {
    return std::string(running ? "running" : "not running") + (ready ? ", ready" : ", not ready");
  }
};

// Mirror pods of the manifest's pod in a PodList: name == <pod_name>-<spec.nodeName>,
// container `container` described. Sorted by node.
std::optional<std::vector<KubeVipPod>> ParseKubeVipPods(std::string_view pod_list_json,
                                                        const std::string& pod_name,
                                                        const std::string& container,
                                                        std::string& error);

// The upgrade's view of kube-vip's Lease (parsed by lib/kube), with unset fields as 0.
struct LeaseInfo {
  std::string holder;
  double renew_time = 0;  // Unix seconds; 0 when unset
  double acquire_time = 0;
  int duration_seconds = 0;
  int transitions = 0;
  std::string resource_version;

  // Held, and not expired as of `now` (kube::LeaseExpiredAt, the daemon's rule).
  bool FreshAt(double now) const {
    return !holder.empty() && renew_time > 0 && duration_seconds > 0 &&
           !kube::LeaseExpiredAt(renew_time, duration_seconds, now);
  }
};

// A Lease object (GET .../leases/<name>) through kube::ParseLease.
std::optional<LeaseInfo> ParseLease(std::string_view lease_json, std::string& error);

}  // namespace kvip::ops
