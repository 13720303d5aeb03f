#pragma once
// The rollout's I/O against the API server: one client per API server address (the
// kubeconfig's, usually the VIP, then every control-plane node's own), so the VIP's hand-over
// during the leader's step does not cut the rollout off; the step pods; the lock; the record.

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "http/http_client.h"
#include "kube/client.h"
#include "ops/rollout_plan.h"

namespace kvip::rollout_detail {

class RolloutCluster {
 public:
  // Loads the kubeconfig; fails with the loader's message.
  static Result<std::unique_ptr<RolloutCluster>> Open(const std::string& kubeconfig,
                                                      const std::string& namespace_);

  // Adds https://<ip>:<the kubeconfig's port> for each node as a fallback address.
  void AddNodeAddresses(const std::vector<ops::RolloutNode>& nodes);

  // One request, tried on each address in turn while the transport fails (a refused or
  // timed-out connection); an HTTP answer of any status is final.
  HttpResponse Request(const std::string& method, const std::string& path,
                       const std::string& body = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string Describe(const std::string& verb, const std::string& path, const HttpResponse& r);

  Result<ops::Discovery> Discover(const std::string& pod_name, const std::string& container);
  // The kube-vip lease's holder ("" when none); fails when the API cannot say.
  Result<std::string> LeaseHolder(const std::string& ns, const std::string& name, bool& fresh);

  // Step pods.
  Result<bool> CreatePod(const std::string& json);      // false: it exists already
  Result<std::string> GetPod(const std::string& name);  // "" when it does not exist
  Result<std::string> PodLog(const std::string& name);
  void DeletePod(const std::string& name);
  // Names of the step pods there now (label app.kubernetes.io/component=rollout-step).
  Result<std::vector<std::string>> StepPodNames();

  // The lock (a Lease of our own) and the record (a ConfigMap).
  Result<std::optional<ops::LockHolder>> ReadLock();
  Result<bool> WriteLock(const std::string& me, const std::string& resource_version,
                         const std::string& description);  // false: lost a race
  void ReleaseLock(const std::string& me);
  ops::RolloutRecord ReadRecord();
  void WriteRecord(const ops::RolloutRecord& record);

  const std::string& ns() const { return ns_; }
  const kube::ClientConfig& config() const { return clients_.front()->config(); }

 private:
  std::vector<std::unique_ptr<kube::Client>> clients_;  // the kubeconfig's first
  size_t current_ = 0;                                  // the last one that answered
  std::string ns_;
};

// This process as the lock's holder: host/pid/start-ticks, and whether a holder of that shape
// on this host names a process that is gone (a rollout killed without releasing the lock).
std::string SelfIdentity();
bool IsDeadProcessOfThisHost(const std::string& identity);

}  // namespace kvip::rollout_detail
