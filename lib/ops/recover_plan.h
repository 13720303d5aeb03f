#pragma once
// The guard of `kvip-exporter recover` (the seed's scenario B): deleting kube-vip's Lease
// forces a new election, which is safe only when nobody holds the VIP. Deleting a lease
// while a node still has the VIP on its interface creates two VIP holders.

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ops/cluster_access.h"
#include "ops/cluster_state.h"

namespace kvip::ops {

// One node's kvip-exporter, as read from its /metrics.
struct ExporterView {
  std::string url;
  bool up = false;
  std::string error;
  std::string node;               // kvip_exporter_node_info{node}
  std::optional<bool> vip_bound;  // kubevip_vip_bound{vip}
  double vip_last_change = 0;     // kubevip_vip_last_change_timestamp_seconds{vip}
};

struct StaleLeaseFacts {
  bool lease_present = false;
  LeaseInfo lease;
  int fallback_duration_seconds = 5;  // the manifest's vip_leaseduration when the lease has none
  std::vector<ExporterView> exporters;
  std::vector<std::string> kube_vip_nodes;  // nodes with a kube-vip mirror pod
  bool vip_answers = false;                 // VIP healthz ok
  double now = 0;
};

// One thing that was checked; `blocks` when it is a reason not to delete.
struct Finding {
  std::string text;
  bool blocks = false;
};

struct StaleLeaseDecision {
  bool stale = false;             // the lease exists and nobody renews it
  bool delete_lease = false;      // stale, and no finding blocks
  std::vector<Finding> findings;  // what was checked, in order
  std::string verdict;
};

StaleLeaseDecision DecideStaleLease(const StaleLeaseFacts& facts);

// --restore-backup (scenarios A/C): the proof that kube-vip runs the restored manifest. Its
// mirror pod on the backup's image, running and ready, when the API answers; without the
// API (scenario C), kube-vip's metrics from a process started after the restore.
struct RestoreFacts {
  std::string node;
  std::string image;        // the backup's
  std::string metrics_url;  // this node's kube-vip
  double not_before = 0;    // when the manifest was restored; 0 when it was already in place
  MetricsProbe metrics;
  Result<std::vector<KubeVipPod>> pods = Error{};
};
// How kube-vip is seen back, or nullopt while it is not.
std::optional<std::string> KubeVipCameBack(const RestoreFacts& facts);

}  // namespace kvip::ops
