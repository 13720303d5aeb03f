#pragma once
// `kvip-exporter rollout --to vX | --rollback | --status`: the seed's rolling upgrade of the
// whole control plane from any machine with a kubeconfig. Each node's step is the node-local
// `upgrade`, run in a short-lived pod pinned to that node; followers first, the leader last;
// a Lease of our own keeps a second rollout out; `verify` judges the end.

#include <chrono>
#include <string>

#include "exit_codes.h"

namespace kvip {

struct RolloutOptions {
  std::string kubeconfig;  // default $KUBECONFIG, else in-cluster
  std::string output = "table";
  std::string to;  // target tag
  bool rollback = false;
  bool status = false;
  bool dry_run = false;
  std::string image;  // the exporter image the step pods run
  std::string namespace_ = "kube-system";
  std::string pod_name = "kube-vip";  // the static pod's name (mirror pods: <name>-<node>)
  std::string container = "kube-vip";
  std::string lease_name = "plndr-cp-lock";
  std::string lease_namespace = "kube-system";
  // On each node (host paths; a node's host-root annotation prefixes them).
  std::string manifest = "/etc/kubernetes/manifests/kube-vip.yaml";
  std::string containerd_address = "/run/containerd/containerd.sock";
  std::string state_dir = "/var/lib/kvip-exporter";
  std::string runtime = "ctr";             // the node step's --runtime
  std::chrono::seconds step_timeout{120};  // the node step's --timeout
  std::chrono::seconds settle{10};         // the node step's --settle
  std::chrono::seconds pod_start_timeout{120};
  std::string prometheus_url;  // passed on to the final verify
  bool vip_healthz_insecure = false;
};

int Rollout(const RolloutOptions& options);

}  // namespace kvip
