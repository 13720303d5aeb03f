#pragma once
// The end of a rollout: `verify`'s whole checklist (lib/ops/verify_checklist.h), run
// in-process against the baseline taken before the first node's step.

#include <optional>
#include <string>
#include <vector>

#include "ops/check.h"
#include "ops/cluster_access.h"
#include "ops/rollout_plan.h"
#include "ops/verify_baseline.h"
#include "rollout.h"

namespace kvip::rollout_detail {

struct RolloutVerify {
  ops::ClusterAccess access;  // no local manifest: the VIP comes from kube-vip's env
  std::optional<ops::VerifyBaseline> baseline;
  std::string baseline_error;
};

// Opens the checklist's access and captures the baseline (each mirror pod and its restarts).
RolloutVerify PrepareVerify(const RolloutOptions& options, const ops::Discovery& discovery);

// The checklist's lines; `failed_item` names the first failing one ("" when all passed).
std::vector<ops::Check> VerifyAfterRollout(const RolloutVerify& verify,
                                           const RolloutOptions& options,
                                           const ops::RolloutRecord& record,
                                           std::string& failed_item);

}  // namespace kvip::rollout_detail
