#pragma once
// The small interface the upgrade's and recover's waits look at the cluster through: the
// live one asks the API server, the VIP and kube-vip (cluster_access.h); the unit tests give
// a fake, so every branch of a decision runs in milliseconds without a cluster.

#include <string>
#include <vector>

#include "common/result.h"
#include "ops/check.h"
#include "ops/cluster_access.h"
#include "ops/cluster_state.h"

namespace kvip::ops {

class ClusterProbe {
 public:
  virtual ~ClusterProbe() = default;
  virtual Result<std::vector<KubeVipPod>> Pods() = 0;
  virtual LeaseLookup Lease() = 0;
  virtual Check VipHealthz() = 0;
  virtual MetricsProbe KubeVipMetrics(const std::string& url) = 0;
  virtual Result<std::string> PodLog(const std::string& pod) = 0;
  virtual bool VipIsLocal() = 0;  // the VIP is on an interface of this node
  virtual double Now() = 0;       // Unix seconds
};

// The real cluster, through `access` (which must outlive it).
class LiveClusterProbe final : public ClusterProbe {
 public:
  explicit LiveClusterProbe(const ClusterAccess& access) : access_(access) {}
  Result<std::vector<KubeVipPod>> Pods() override;
  LeaseLookup Lease() override;
  Check VipHealthz() override;
  MetricsProbe KubeVipMetrics(const std::string& url) override;
  Result<std::string> PodLog(const std::string& pod) override;
  bool VipIsLocal() override;
  double Now() override;

 private:
  const ClusterAccess& access_;
};

}  // namespace kvip::ops
