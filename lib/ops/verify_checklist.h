#pragma once
// The seed's post-upgrade verification as one library call, for `verify` and for `rollout`
// (which captures a baseline before it begins and runs the checklist when it ends). Every
// item gets its own lines and its own exit code; the items are judged by pure functions
// of what the cluster and Prometheus answered, so each verdict is unit-tested.

#include <string>
#include <vector>

#include "common/result.h"
#include "ops/check.h"
#include "ops/cluster_access.h"
#include "ops/cluster_state.h"
#include "ops/verify_baseline.h"

namespace kvip::ops {

// The checklist's items in order. Each value is verify's exit code when that item fails;
// when several fail, the first in this order (the lowest code) is the exit code.
enum class VerifyItem : int {
  kVip = 3,            // the VIP's /healthz answers ok
  kPods = 4,           // one mirror pod per control-plane node, running, ready, on the version
  kMetrics = 5,        // every kube-vip's :2112/metrics answers
  kRestarts = 6,       // no restarts since the baseline
  kLockConflicts = 7,  // no lock-conflict line in any current container's log
  kLease = 8,          // the Lease held by a kube-vip node and fresh
  kPrometheusApi = 9,  // Prometheus answered (reachable, its documented JSON)
  kTargets = 10,       // the exporters' targets (and kube-vip's :2112 job, if any) up
  kRules = 11,         // kube-vip rule groups loaded, no rule in error
  kAlerts = 12,        // no kube-vip alert firing
};

// Each item's name (its lines' prefix and the report's "FAILED: <name>") and what its exit
// code means (verify's --help footer), declared once, in checklist order.
struct VerifyItemInfo {
  VerifyItem item;
  const char* name;
  const char* failure;
};
inline constexpr VerifyItemInfo kVerifyItems[] = {
    {VerifyItem::kVip, "vip", "VIP /healthz not ok"},
    {VerifyItem::kPods, "pods",
     "a control-plane node without a running, ready kube-vip on the version"},
    {VerifyItem::kMetrics, "metrics", "a kube-vip :2112/metrics not answering"},
    {VerifyItem::kRestarts, "restarts", "kube-vip restarted since the baseline"},
    {VerifyItem::kLockConflicts, "lock-conflicts",
     "lock-conflict lines since the containers started"},
    {VerifyItem::kLease, "lease", "lease not held by a kube-vip node, or stale"},
    {VerifyItem::kPrometheusApi, "prometheus", "Prometheus unreachable or not its API"},
    {VerifyItem::kTargets, "targets", "an exporter (or kube-vip job) target not up"},
    {VerifyItem::kRules, "rules", "kube-vip rules not loaded or in error"},
    {VerifyItem::kAlerts, "alerts", "a kube-vip alert firing"},
};

struct VerifyLine {
  VerifyItem item;
  Check check;
};

struct VerifyInputs {
  std::string expect_version;  // every pod's image tag; "" = any
  std::string control_plane_selector = "node-role.kubernetes.io/control-plane";
  const VerifyBaseline* baseline = nullptr;    // null: restarts reported, not judged
  std::string prometheus_url;                  // "": the Prometheus items are skipped
  std::string exporter_job = "kvip-exporter";  // the mixin's selector, job="kvip-exporter"
  std::string kubevip_job = "kube-vip";        // the seed's :2112 job; judged when present
};

struct VerifyOutcome {
  std::vector<VerifyLine> lines;
  int exit_code = 0;  // 0 when every line passed, else the first failing item's code
  bool ok() const { return exit_code == 0; }
  std::vector<Check> Checks() const;
  // The first failing line's item name ("pods", "restarts", ...), "" when all passed.
  std::string FirstFailure() const;
};

// Runs every item against the cluster (and Prometheus when inputs.prometheus_url is set).
VerifyOutcome RunVerifyChecklist(const ClusterAccess& access, const VerifyInputs& inputs);

// --- the pure verdicts RunVerifyChecklist is made of ------------------------------------

const char* VerifyItemName(VerifyItem item);
int VerifyExitCode(const std::vector<VerifyLine>& lines);

// Node names in a NodeList.
std::optional<std::vector<std::string>> ParseNodeNames(std::string_view node_list_json,
                                                       std::string& error);
// One "pod <node>" line per control-plane node and per node with a mirror pod: the pod
// exists, runs, is ready and runs `expect` (when set).
std::vector<Check> JudgeMirrorPods(const std::vector<std::string>& control_plane_nodes,
                                   const std::vector<KubeVipPod>& pods, const std::string& expect,
                                   const std::string& selector);
Check JudgeLockConflicts(const std::string& node, const Result<std::string>& log);
// Held and fresh, by a node that runs kube-vip (when `kubevip_nodes` is not empty).
Check JudgeLease(const LeaseLookup& lease, const std::string& lease_name,
                 const std::vector<std::string>& kubevip_nodes, double now);
// Each takes the raw answer (or the fetch error): errors become kPrometheusApi lines.
std::vector<VerifyLine> JudgePromTargets(const Result<std::string>& answer,
                                         const std::string& exporter_job,
                                         const std::string& kubevip_job);
VerifyLine JudgePromRules(const Result<std::string>& answer);
VerifyLine JudgePromAlerts(const Result<std::string>& answer);

}  // namespace kvip::ops
