#include "rollout_verify.h"

#include <set>

#include "ops/verify_checklist.h"

namespace kvip::rollout_detail {

RolloutVerify PrepareVerify(const RolloutOptions& options, const ops::Discovery& discovery) {
  ops::ClusterOptions cluster;
  cluster.kubevip_manifest = "";  // this machine need not be a node
  cluster.kubeconfig = options.kubeconfig;
  cluster.vip_healthz_insecure = options.vip_healthz_insecure;
  for (const ops::RolloutNode& node : discovery.nodes) {
    if (node.vip.empty()) continue;
    cluster.vip_address = node.vip;
    cluster.vip_port = node.vip_port;
    break;
  }
  RolloutVerify verify{ops::OpenClusterAccess(cluster), std::nullopt, ""};
  auto baseline = ops::CaptureBaseline(verify.access);
  if (baseline)
    verify.baseline = std::move(*baseline);
  else
    verify.baseline_error = baseline.error();
  return verify;
}

std::vector<ops::Check> VerifyAfterRollout(const RolloutVerify& verify,
                                           const RolloutOptions& options,
                                           const ops::RolloutRecord& record,
                                           std::string& failed_item) {
  ops::VerifyInputs inputs;
  inputs.expect_version = options.to;
  if (options.rollback) {
    // Back to what each node had: one version when they all had the same (the usual case).
    std::set<std::string> before;
    for (const ops::NodeRecord& node : record.nodes) before.insert(ops::TagOf(node.from));
    inputs.expect_version = before.size() == 1 ? *before.begin() : "";
  }
  inputs.baseline = verify.baseline ? &*verify.baseline : nullptr;
  inputs.prometheus_url = options.prometheus_url;
  ops::VerifyOutcome outcome = ops::RunVerifyChecklist(verify.access, inputs);
  std::vector<ops::Check> checks = outcome.Checks();
  failed_item = outcome.FirstFailure();
  if (!verify.baseline) {
    checks.push_back({"baseline", false,
                      "no baseline was taken before the first step, so restarts were not judged: " +
                          verify.baseline_error});
    if (failed_item.empty()) failed_item = "baseline";
  }
  return checks;
}

}  // namespace kvip::rollout_detail
