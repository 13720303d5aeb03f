#pragma once
// `kvip-exporter verify`: the seed's verification checklist as one command with an exit
// code (VIP answers, every kube-vip pod running the expected version, lease held and fresh,
// every :2112 up, no lock-conflict lines since the last restart, restart counts). The
// cluster access it is made of lives in lib/ops, shared with `upgrade` and `recover`.

#include <string>

#include "ops/cluster_access.h"

namespace kvip {

struct VerifyOptions {
  ops::ClusterOptions cluster;
  std::string output = "table";  // table | json
  std::string expect_version;    // default: the local manifest's tag
};

// Runs the checklist, prints it, returns 0 when every check passes, else 1.
int Verify(const VerifyOptions& options);

}  // namespace kvip
