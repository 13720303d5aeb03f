#pragma once
// `kvip-exporter recover`: the seed's rollback scenarios as guarded commands.
//   default          scenario B: delete a stale kube-vip Lease to force a new election, only
//                    when the API and every node's exporter agree that no node has held the
//                    VIP for longer than the lease duration; prints what it checked.
//   --restore-backup scenarios A/C: put this node's manifest backup back atomically and
//                    wait for kube-vip to come back (works with the API down).

#include <chrono>
#include <string>
#include <vector>

#include "exit_codes.h"
#include "ops/cluster_access.h"

namespace kvip {

struct RecoverOptions {
  ops::ClusterOptions cluster;
  std::string output = "table";            // table | json
  std::vector<std::string> exporter_urls;  // every node's kvip-exporter /metrics
  bool dry_run = false;
  bool restore_backup = false;
  std::string backup;  // default: the upgrade state's backup, else the newest *.bak
  std::string backup_dir;
  std::string state_dir = "/var/lib/kvip-exporter";
  std::chrono::seconds timeout{60};
};

int Recover(const RecoverOptions& options);

}  // namespace kvip
