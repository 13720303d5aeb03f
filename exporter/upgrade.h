#pragma once
// `kvip-exporter upgrade --to vX`: the seed's rolling-upgrade runbook for one node, made
// safe: preflight, leader-last guard, durable backup, pre-pull into containerd's k8s.io
// namespace, byte-preserving image rewrite, waits with deadlines, and automatic rollback.
// A state file makes a re-run after a crash resume or roll back instead of guessing.

#include <chrono>
#include <string>

#include "verify.h"

namespace kvip {

struct UpgradeOptions {
  ClusterOptions cluster;
  std::string to;            // target tag, e.g. v1.0.4
  std::string image_digest;  // optional pin, sha256:…
  bool allow_leader = false;
  bool dry_run = false;
  bool rollback = false;  // undo the unfinished upgrade recorded in the state file
  std::string state_dir = "/var/lib/kvip-exporter";
  std::string backup_dir;       // default: the manifests directory's parent (/etc/kubernetes)
  std::string runtime = "ctr";  // ctr | crictl
  std::string containerd_address = "/run/containerd/containerd.sock";
  std::string runtime_endpoint;  // crictl's; default unix://<containerd_address>
  std::string ansible_group_vars;
  std::chrono::seconds timeout{120};  // each wait: for the new version, for the rollback
  std::chrono::seconds settle{10};    // conditions must hold this long, log free of conflicts
  std::chrono::seconds pull_timeout{300};
  // How long an unhealthy cluster (stale lease, VIP not answering, no ready failover target)
  // may take to recover before the preflight gives up: the node upgraded just before this one
  // may still be reporting Ready.
  std::chrono::seconds preflight_wait{30};
};

// Exit codes, distinct per failure class so scripts (ansible) can branch on them.
enum UpgradeExit : int {
  kUpgradeOk = 0,  // upgraded, already at the target, planned (--dry-run), rolled back on request
  kUpgradeInternal = 1,
  kUpgradeUsage = 2,
  kUpgradeBadInput = 3,          // manifest or group vars missing/malformed
  kUpgradeClusterUnhealthy = 4,  // API, VIP healthz, lease, or no failover target
  kUpgradeLeaderFirst = 5,       // this node leads and followers are not upgraded yet
  kUpgradeBackupFailed = 6,      // backup or state file could not be written
  kUpgradeRuntimeFailed = 7,     // runtime unreachable or the pull failed; nothing changed
  kUpgradeRewriteFailed = 8,     // the manifest could not be rewritten; nothing changed
  kUpgradeRolledBack = 9,        // the new version failed a wait; the old one is back and healthy
  kUpgradeRollbackFailed = 10,   // the rollback did not confirm recovery: act now
  kUpgradeStateConflict = 11,    // the state file and the manifest disagree; see the message
  kUpgradeGroupVarsFailed = 12,  // upgraded, but the Ansible group vars were not updated
};

int Upgrade(const UpgradeOptions& options);

}  // namespace kvip
