#pragma once
// The rollout's decisions, as pure functions of what the API server says: which nodes, in
// which order (followers first, the leader last), the pod that runs one node's step, how that
// pod ended, who holds the rollout lock, and what is recorded per node. The I/O that gathers
// these facts and carries the verdicts out is in exporter/rollout*.cc.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "manifest/image_ref.h"
#include "ops/check.h"
#include "ops/cluster_state.h"

namespace kvip::ops {

// The annotation a Node may carry when its filesystem is not the machine's root (the
// testbed's three nodes share one machine): every hostPath of the step pod is prefixed by it.
inline constexpr const char* kHostRootAnnotation = "kvip-exporter.dev/host-root";
inline constexpr const char* kControlPlaneLabel = "node-role.kubernetes.io/control-plane";

struct RolloutNode {
  std::string name;
  std::string internal_ip;
  std::string host_root = "/";
  KubeVipPod pod;                    // its kube-vip mirror pod
  std::string kubeconfig_host_path;  // the kubeconfig kube-vip mounts (its hostPath)
  std::string vip;                   // from kube-vip's env; "" when not a literal value
  int vip_port = 6443;
};

// Control-plane Nodes (by label) that run a kube-vip mirror pod `<pod_name>-<node>`, sorted
// by name; `skipped` names control-plane nodes without one.
struct Discovery {
  std::vector<RolloutNode> nodes;
  std::vector<std::string> without_kubevip;
};
Result<Discovery> DiscoverRolloutNodes(std::string_view node_list_json,
                                       std::string_view pod_list_json, const std::string& pod_name,
                                       const std::string& container);

// Followers first (by name), the lease holder last. Fails when the holder is not one of the
// nodes (no holder, or a holder that runs no kube-vip here): the order would be a guess.
Result<std::vector<std::string>> PlanOrder(const std::vector<RolloutNode>& nodes,
                                           const std::string& lease_holder);

using manifest::TagOf;

// A node is done with `to` when its mirror pod asks for that tag and runs it, ready.
bool NodeOnVersion(const KubeVipPod& pod, const std::string& to);

// The leader's step may start only when every other node is on the target, running and
// ready; the failing check names the nodes that are not.
Check FollowersReady(const std::vector<RolloutNode>& nodes, const std::string& leader,
                     const std::string& to);

// --- the step pod ----------------------------------------------------------------------

// The step pods' names and the label they carry (how a re-run finds a killed run's steps).
inline constexpr const char* kStepPodPrefix = "kvip-exporter-step-";
inline constexpr const char* kPreflightPodPrefix = "kvip-exporter-preflight-";
inline constexpr const char* kStepPodComponent = "rollout-step";  // app.kubernetes.io/component

struct StepPodSpec {
  std::string name;  // kvip-exporter-step-<node> or kvip-exporter-preflight-<node>
  std::string namespace_;
  std::string node;
  std::string image;                 // the exporter's
  std::string host_root;             // "/" on a real node
  std::string manifest;              // the node's kube-vip manifest path (as the kubelet reads it)
  std::string kubeconfig_host_path;  // kube-vip's own kubeconfig; "" when unknown
  std::string containerd_socket;     // host path, without the host root
  std::string state_dir;             // host path, without the host root
  std::vector<std::string> args;     // the node step's flags after "upgrade"
  std::string rollout_id;
  int deadline_seconds = 900;  // activeDeadlineSeconds
};

// Where the node step reads its kubeconfig inside the pod.
inline constexpr const char* kStepKubeconfig = "/var/run/kvip-exporter/kubeconfig";

// host_root + path, with exactly one slash between them.
std::string UnderHostRoot(const std::string& host_root, const std::string& path);

// The Pod object (JSON) for one node's step: pinned to the node, host network, the
// control-plane toleration, restartPolicy Never, and only the mounts the step needs: the
// manifests directory's parent, containerd's socket, the state directory and kube-vip's
// kubeconfig.
std::string StepPodJson(const StepPodSpec& spec);

// How a step pod stands now.
struct StepPodState {
  enum Phase { kPending, kRunning, kFinished, kCannotStart, kGone } phase = kPending;
  int exit_code = -1;  // kFinished
  std::string detail;  // kCannotStart: the waiting reason and message; kFinished: reason
};
StepPodState JudgeStepPod(std::string_view pod_json);

// The node step's JSON report (its last line on stdout, `--output json`) in a pod log, and the
// other lines (its progress log) to stream.
struct StepReport {
  std::string result;  // upgraded, rolled-back, already-at-target, pulled, planned, refused, ...
  int exit_code = -1;
  std::string message;
  std::string from;
  std::string to;
  std::string backup;
  bool was_leader = false;
  std::vector<Check> failed;  // the report's failed preflight checks and steps
};
std::optional<StepReport> FindStepReport(std::string_view log);

// --- the rollout lock: a Lease of our own ----------------------------------------------

inline constexpr const char* kRolloutLockName = "kvip-exporter-rollout";
inline constexpr int kRolloutLockSeconds = 30;

struct LockHolder {
  std::string identity;  // host/pid/start-ticks of the rollout process
  double renew_time = 0;
  int duration_seconds = 0;
  std::string resource_version;
  std::string description;  // what it is doing (annotation), for the error message
};
std::optional<LockHolder> ParseLockLease(std::string_view lease_json, std::string& error);

enum class LockVerdict { kTake, kRefuse };
struct LockDecision {
  LockVerdict verdict = LockVerdict::kTake;
  std::string reason;
};
// Free, expired, ours, or held by a rollout process of this host that no longer runs:
// take it. Held and fresh by anyone else: refuse, naming the holder and when it expires.
LockDecision DecideLock(const std::optional<LockHolder>& holder, const std::string& me, double now,
                        bool holder_is_dead_process_here);

// The Lease body (create, or update with resource_version) for holder `me` at `now`.
std::string LockLeaseJson(const std::string& namespace_, const std::string& me, double now,
                          const std::string& resource_version, const std::string& description);

// RFC 3339 with microseconds, as Lease MicroTime fields want it.
std::string FormatMicroTime(double unix_seconds);

// --- what the rollout records per node (a ConfigMap, for --status) ------------------------

inline constexpr const char* kRolloutRecordName = "kvip-exporter-rollout";

struct NodeRecord {
  std::string node;
  std::string result;
  int exit_code = 0;
  std::string from;
  std::string to;
  std::string backup;
  std::string message;
  double at = 0;
};
struct RolloutRecord {
  std::string action;  // "to v1.0.4" or "rollback"
  double started_at = 0;
  std::vector<NodeRecord> nodes;

  void Put(NodeRecord record);  // replaces the node's earlier record
};
std::string RecordConfigMapJson(const std::string& namespace_, const RolloutRecord& record);
// From a ConfigMap; an empty record when it has none.
RolloutRecord ParseRecordConfigMap(std::string_view configmap_json);

}  // namespace kvip::ops
