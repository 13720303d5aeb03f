#pragma once
// The decisions of `kvip-exporter upgrade` as pure functions from facts to a verdict, in the
// manner of recover_plan.h: the preflight (bad input, cluster health, the leader-last guard,
// failover target, backup room, state dir, runtime, group vars), the wait conditions after a
// rewrite (hopeless pod states, freshness, hand-over, VIP placement), the settle period, and
// the lock-conflict verdict. exporter/upgrade.cc gathers the facts and carries the verdicts
// out; WaitForKubeVip below is the one loop, behind the ClusterProbe interface.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ops/check.h"
#include "ops/cluster_access.h"
#include "ops/cluster_state.h"
#include "ops/probe.h"
#include "ops/run_command.h"

namespace kvip::ops {

// "12 s": whole seconds, rounded, as the reports write durations.
std::string WholeSeconds(double seconds);
std::string JoinWords(const std::vector<std::string>& words, const char* separator = " ");

// ---- preflight ----

// What a failed preflight check means; exporter/ maps each to its exit code.
enum class PreflightBlock { kBadInput, kClusterUnhealthy, kLeaderFirst, kBackup, kRuntime };

struct PreflightItem {
  Check check;
  PreflightBlock block;
};

// The backup's place: writable, room for it, no different file there.
struct BackupFacts {
  std::string backup_path;
  std::string backup_dir;
  std::string manifest_path;
  std::string manifest_text;                        // the manifest's bytes now
  Result<unsigned long long> free_bytes = Error{};  // in backup_dir
  bool dir_writable = false;
  std::string dir_error;                // strerror when not writable
  bool exists = false;                  // a file is at backup_path
  std::optional<std::string> existing;  // its bytes, when it exists and could be read
};
Check DecideBackupPreflight(const BackupFacts& facts);

struct PreflightFacts {
  std::string node;
  std::string manifest_path;
  std::string manifest_image;
  std::string manifest_tag;
  std::string target_image;
  bool allow_leader = false;
  bool api_available = true;
  std::string api_error;
  Check vip_healthz;
  std::string lease_name;  // namespace/name
  LeaseLookup lease;
  double now = 0;
  Result<std::vector<KubeVipPod>> pods = Error{};
  BackupFacts backup;
  bool state_dir_ok = false;
  std::string state_dir_detail;
  std::vector<std::string> runtime_argv;
  CommandResult runtime;
  std::string group_vars_path;   // empty: not asked to edit one
  std::string group_vars_error;  // empty: kubevip_version can be set
};

struct PreflightVerdict {
  std::vector<PreflightItem> items;       // every check, in report order
  std::optional<bool> this_node_leads;    // known when the lease and the pods were read
  std::optional<PreflightBlock> blocked;  // the first failed check's meaning
  bool ok() const { return !blocked; }
};
PreflightVerdict DecidePreflight(const PreflightFacts& facts);

// Whether a failed preflight is worth checking again (--preflight-wait): only an unhealthy
// cluster may heal; bad input or the leader going first never does.
bool PreflightMayRecover(const PreflightVerdict& verdict);

// The pre-pull's outcome: `argv` ran within `timeout` and exited 0.
Check DecidePull(const std::vector<std::string>& argv, const CommandResult& result,
                 std::chrono::seconds timeout);

// ---- the waits after a rewrite (and after a rollback) ----

// Why waiting longer for `pod` would only prolong the outage, or empty. A crash counts only
// when the run that crashed started after the change (`not_before`): a restored manifest
// brings back the old pod's UID, and with it the old container's history.
std::string Hopeless(const KubeVipPod& pod, double not_before);

// What the wait asks for: this node's kube-vip on `image`, started after `not_before`.
struct WaitQuestion {
  std::string node;
  std::string image;
  double not_before = 0;             // 0: any start time will do
  bool expect_other_leader = false;  // this node led: another must take the lease
  std::string metrics_url;           // this node's kube-vip :2112
};

struct WaitFacts {
  Result<std::vector<KubeVipPod>> pods = Error{};
  MetricsProbe metrics;
  Check vip_healthz;
  LeaseLookup lease;
  bool vip_here = false;  // read only when the lease exists
  double now = 0;
};

struct WaitVerdict {
  std::vector<Check> conditions;
  std::string hopeless;      // non-empty: stop waiting, it cannot succeed
  std::string pod_identity;  // uid/restarts of this node's pod: a restart restarts the settle
  bool AllOk() const;
};
WaitVerdict DecideWait(const WaitQuestion& question, const WaitFacts& facts);
WaitFacts GatherWaitFacts(ClusterProbe& probe, const WaitQuestion& question);

// The settle period: every condition must hold, on the same pod instance, for `settle`.
class SettleTracker {
 public:
  enum class State { kUnhealthy, kSettling, kSettled };
  explicit SettleTracker(std::chrono::milliseconds settle) : settle_(settle) {}
  State Observe(bool all_ok, const std::string& identity,
                std::chrono::steady_clock::time_point now);
  // The last Observe() began a settle period (for the log).
  bool StartedNow() const { return started_now_; }
  // How long the current settle period has lasted at `now`; nullopt when not settling.
  std::optional<std::chrono::milliseconds> SettlingFor(
      std::chrono::steady_clock::time_point now) const {
    if (!settling_) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - since_);
  }

 private:
  std::chrono::milliseconds settle_;
  bool settling_ = false;  // not std::optional: g++ 12 -O2 sees it as maybe-uninitialized
  std::chrono::steady_clock::time_point since_{};
  std::string identity_;
  bool started_now_ = false;
};

// "not healthy within 120 s: pod: ...; lease: ..." from the last conditions seen. When they
// all held at the end, but not for the whole settle period yet (`settling_for`): "not
// healthy within 40 s: healthy for the last 6 s only, short of the 10 s settle".
std::string WaitTimeoutFailure(const std::vector<Check>& last, std::chrono::milliseconds timeout,
                               std::optional<std::chrono::milliseconds> settling_for = std::nullopt,
                               std::chrono::milliseconds settle = {});

struct ConflictVerdict {
  bool ok = false;
  std::string text;
};
// After the settle period: the new container's log must hold no lock-conflict line (when
// `judge`; a rollback only reports them).
ConflictVerdict DecideConflicts(const Result<std::string>& log, const std::string& pod, bool judge);

struct WaitOptions {
  std::chrono::milliseconds timeout{120000};
  std::chrono::milliseconds settle{10000};
  std::chrono::milliseconds poll_interval{500};
  bool judge_conflicts = true;
  std::string pod_name;  // whose log is judged: <manifest pod name>-<node>
  const char* phase = "wait";
};

struct WaitOutcome {
  bool ok = false;
  std::string detail;  // the conditions seen (ok) or why it failed
};
// Polls the conditions until they held for the settle period (then judges the log), a
// hopeless state, or the timeout.
WaitOutcome WaitForKubeVip(ClusterProbe& probe, const WaitQuestion& question,
                           const WaitOptions& options);

}  // namespace kvip::ops
