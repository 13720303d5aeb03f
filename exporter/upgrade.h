#pragma once
// `kvip-exporter upgrade --to vX`: the seed's rolling-upgrade runbook for one node, made
// safe: preflight, leader-last guard, durable backup, pre-pull into containerd's k8s.io
// namespace, byte-preserving image rewrite, waits with deadlines, and automatic rollback.
// A state file makes a re-run after a crash resume or roll back instead of guessing.

#include <chrono>
#include <string>

#include "exit_codes.h"
#include "ops/cluster_access.h"

namespace kvip {

struct UpgradeOptions {
  ops::ClusterOptions cluster;
  std::string output = "table";  // table | json
  std::string to;                // target tag, e.g. v1.0.4
  std::string image_digest;      // optional pin, sha256:…
  bool allow_leader = false;
  bool dry_run = false;
  bool pull_only = false;  // preflight and pre-pull only (the rollout's first pass)
  bool rollback = false;   // undo the unfinished upgrade recorded in the state file
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

int Upgrade(const UpgradeOptions& options);

}  // namespace kvip
