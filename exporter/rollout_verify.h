#pragma once
// The end of a rollout: the seed's checklist judged against what the cluster was when the
// rollout began (each node's mirror pod and its restart count).

#include <map>
#include <string>
#include <vector>

#include "ops/check.h"
#include "ops/rollout_plan.h"
#include "rollout.h"
#include "rollout_cluster.h"

namespace kvip::rollout_detail {

struct VerifyBaseline {
  struct Pod {
    std::string uid;
    int restarts = 0;
  };
  std::map<std::string, Pod> by_node;
};

VerifyBaseline CaptureBaseline(RolloutCluster& cluster, const ops::Discovery& discovery);

std::vector<ops::Check> VerifyAfterRollout(RolloutCluster& cluster, const RolloutOptions& options,
                                           const VerifyBaseline& baseline,
                                           const ops::RolloutRecord& record);

}  // namespace kvip::rollout_detail
