#pragma once
// `kvip-exporter verify`: the seed's post-upgrade checklist (lib/ops/verify_checklist.h) as
// one command: flags, the baseline file, the report, and the exit code of the first failing
// item (exit_codes.h, kVerifyExitCodes).

#include <string>

#include "ops/cluster_access.h"

namespace kvip {

struct VerifyOptions {
  ops::ClusterOptions cluster;
  std::string output = "table";  // table | json
  std::string expect_version;    // default: the local manifest's tag
  std::string control_plane_selector = "node-role.kubernetes.io/control-plane";
  std::string baseline;         // judge restarts against this file
  std::string record_baseline;  // write the baseline here and exit
  std::string prometheus_url;
  std::string prometheus_exporter_job = "kvip-exporter";
  std::string prometheus_kubevip_job = "kube-vip";
};

// Runs the checklist (or records a baseline), prints it, returns its exit code.
int Verify(const VerifyOptions& options);

}  // namespace kvip
