#include "rollout_verify.h"

#include <algorithm>

namespace kvip::rollout_detail {

VerifyBaseline CaptureBaseline(RolloutCluster& /*cluster*/, const ops::Discovery& discovery) {
  VerifyBaseline baseline;
  for (const ops::RolloutNode& n : discovery.nodes)
    baseline.by_node[n.name] = {n.pod.uid, n.pod.restart_count};
  return baseline;
}

std::vector<ops::Check> VerifyAfterRollout(RolloutCluster& cluster, const RolloutOptions& options,
                                           const VerifyBaseline& baseline,
                                           const ops::RolloutRecord& record) {
  std::vector<ops::Check> checks;
  auto discovered = cluster.Discover(options.pod_name, options.container);
  if (!discovered) return {{"pods", false, discovered.error()}};
  for (const ops::RolloutNode& n : discovered->nodes) {
    std::string expect = options.to;
    if (options.rollback) {
      auto rec = std::find_if(record.nodes.begin(), record.nodes.end(),
                              [&](const ops::NodeRecord& r) { return r.node == n.name; });
      expect = rec != record.nodes.end() ? ops::TagOf(rec->from) : ops::TagOf(n.pod.image);
    }
    checks.push_back({"pod " + n.name, ops::NodeOnVersion(n.pod, expect),
                      n.pod.name + " " + ops::TagOf(n.pod.status_image) +
                          (n.pod.running ? " running" : " not running") +
                          (n.pod.ready ? ", ready" : ", not ready") + "; expected " + expect});
    auto before = baseline.by_node.find(n.name);
    const bool same_pod = before != baseline.by_node.end() && before->second.uid == n.pod.uid;
    const int allowed = same_pod ? before->second.restarts : 0;
    checks.push_back({"restarts " + n.name, n.pod.restart_count <= allowed,
                      std::to_string(n.pod.restart_count) + " restarts" +
                          (same_pod ? " (" + std::to_string(allowed) + " when the rollout began)"
                                    : " since the pod was recreated by the step")});
  }
  bool fresh = false;
  auto holder = cluster.LeaseHolder(options.lease_namespace, options.lease_name, fresh);
  checks.push_back(
      {"lease", holder && fresh,
       holder ? "held by " + *holder + (fresh ? ", fresh" : ", NOT fresh") : holder.error()});
  return checks;
}

}  // namespace kvip::rollout_detail
