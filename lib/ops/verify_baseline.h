#pragma once
// What `verify` judges restarts against: each node's kube-vip mirror pod and its restart
// count, captured before a rollout begins (`verify --record-baseline FILE`, or in-process by
// `rollout`). After the rollout the same static pod may not have restarted more; a static
// pod recreated by a manifest change (new config hash) may not have restarted at all.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ops/check.h"
#include "ops/cluster_access.h"
#include "ops/cluster_state.h"

namespace kvip::ops {

struct BaselinePod {
  std::string node;
  std::string pod_uid;      // the mirror pod's metadata.uid
  std::string config_hash;  // the static pod's identity: changes exactly when the manifest does
  int restart_count = 0;
  double started_at = 0;  // the running container's start, Unix seconds; 0 if not running
};

struct VerifyBaseline {
  double taken_at = 0;  // Unix seconds
  std::vector<BaselinePod> pods;

  const BaselinePod* Find(const std::string& node) const;
};

// The baseline of these mirror pods, taken at `now` (pure).
VerifyBaseline BaselineOf(const std::vector<KubeVipPod>& pods, double now);
// The cluster's kube-vip mirror pods now, through the API.
Result<VerifyBaseline> CaptureBaseline(const ClusterAccess& access);

// The file format: {"version":1,"taken_at":...,"pods":[{"node":...},...]}.
std::string BaselineJson(const VerifyBaseline& baseline);
std::optional<VerifyBaseline> ParseBaseline(std::string_view json, std::string& error);
Result<VerifyBaseline> ReadBaselineFile(const std::string& path);
// Written atomically (temp file, fsync, rename); false and `error` naming the file on failure.
bool WriteBaselineFile(const std::string& path, const VerifyBaseline& baseline, std::string& error);

// The restarts item: with a baseline, every pod's restarts since it (same static pod: count
// not above the baseline's; recreated or new: 0); without one, the counts, not judged.
Check JudgeRestarts(const std::vector<KubeVipPod>& pods, const VerifyBaseline* baseline,
                    double now);

}  // namespace kvip::ops
