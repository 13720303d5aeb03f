#pragma once
// The decisions of `kvip-exporter upgrade` that need no I/O: the persisted state of an
// upgrade in progress and what a re-run does with it, the leader-last guard, where the
// backup goes, and the pre-pull command line. The exporter's upgrade mode does the I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/cluster_state.h"

namespace kvip::ops {

// Steps of one upgrade, in order; the state file records the last one reached.
enum class UpgradeStep {
  kBackedUp,     // backup written; manifest unchanged
  kPulled,       // new image in the runtime; manifest unchanged
  kRewriting,    // about to rename the new manifest into place (either file may be live)
  kWaiting,      // manifest runs the new image; waiting for it to be healthy
  kRollingBack,  // restoring the backup
  kDone,         // terminal: upgraded and healthy
  kRolledBack,   // terminal: the old manifest is back
};

std::string_view StepName(UpgradeStep step);
std::optional<UpgradeStep> ParseStepName(std::string_view name);
bool IsTerminal(UpgradeStep step);

struct UpgradeState {
  std::string manifest_path;
  std::string node;
  std::string from_image;
  std::string to_image;
  std::string backup_path;
  UpgradeStep step = UpgradeStep::kBackedUp;
  bool was_leader = false;
  double started_at = 0;
  double updated_at = 0;
  double rewritten_at = 0;  // when the new manifest went into place; the new pod starts after
  std::string failure;      // why it is rolling back / rolled back

  bool operator==(const UpgradeState&) const = default;
};

std::string SerializeUpgradeState(const UpgradeState& state);
std::optional<UpgradeState> ParseUpgradeState(std::string_view json, const std::string& source,
                                              std::string& error);

enum class ResumeAction {
  kStartFresh,         // no unfinished upgrade: preflight and go
  kContinueFromPull,   // backup exists, manifest unchanged: pull (again), rewrite, wait
  kContinueWaiting,    // manifest already has the new image: wait (and roll back on failure)
  kRollBack,           // restore the backup and wait for the old version
  kMarkRolledBack,     // rollback asked before the manifest changed: nothing to restore
  kAlreadyRolledBack,  // rollback asked again after a finished rollback: nothing to do
  kRefuse,             // the recorded state and the manifest disagree: never guess
};

struct ResumeDecision {
  ResumeAction action = ResumeAction::kStartFresh;
  std::string reason;  // for the report; says what to do for kRefuse
};

// What a (re-)run does, given the state file (nullopt: none), the manifest's current image,
// the requested target image (empty with --rollback) and whether --rollback was given.
ResumeDecision DecideResume(const std::optional<UpgradeState>& state, const std::string& state_file,
                            const std::string& manifest_path, const std::string& current_image,
                            const std::string& target_image, bool rollback_requested);

struct LeaderGuard {
  bool this_node_leads = false;
  std::vector<std::string> nodes_first;  // other nodes whose kube-vip is not on the target yet
  bool Refuses() const { return this_node_leads && !nodes_first.empty(); }
};

// The seed's order: followers first, the lease holder last.
LeaderGuard CheckLeaderLast(const std::string& node, const std::string& lease_holder,
                            const std::vector<KubeVipPod>& pods, const std::string& target_image);

// /etc/kubernetes/manifests/kube-vip.yaml + v1.0.3 → /etc/kubernetes/kube-vip.yaml.v1.0.3.bak:
// next to the manifests directory, never in it (kubelet runs every file there). With
// `backup_dir` set, that directory instead.
std::string BackupPathFor(const std::string& manifest_path, const std::string& old_tag,
                          const std::string& backup_dir = "");

enum class RuntimeCli { kCtr, kCrictl };

// The pre-pull as an argv (never a shell): into containerd's k8s.io namespace, where the
// kubelet looks (the seed's `ctr image pull` without -n k8s.io pulls where it never does).
std::vector<std::string> PullArgv(RuntimeCli cli, const std::string& endpoint,
                                  const std::string& image);
// A cheap call that proves the runtime answers.
std::vector<std::string> RuntimeVersionArgv(RuntimeCli cli, const std::string& endpoint);

}  // namespace kvip::ops
