#pragma once
// The upgrade of one node as an object (exporter/ only): upgrade.cc holds the run, the
// preflight and the report; upgrade_steps.cc the steps (backup, pull, rewrite, waits,
// rollback). The decisions they carry out are in lib/ops.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "ops/cluster_access.h"
#include "ops/probe.h"
#include "ops/upgrade_decisions.h"
#include "ops/upgrade_plan.h"
#include "report.h"
#include "upgrade.h"

namespace kvip::upgrade_detail {

using Clock = std::chrono::steady_clock;
using ops::UpgradeStep;
using ops::WholeSeconds;

inline constexpr size_t kMaxManifestBytes = 1 << 20;

class Upgrader {
 public:
  explicit Upgrader(const UpgradeOptions& options) : options_(options) {}
  int Run();

 private:
  void AddPreflight(Check check, int exit_code_on_failure);
  ops::PreflightFacts GatherPreflightFacts();
  bool Preflight();
  bool PreflightWaitingForHealth();
  int AlreadyAtTarget();
  int ContinueFromPull(bool resumed);
  int ContinueWaiting();
  int RollBack(const std::string& failure, bool requested);
  bool Backup();
  bool Pull();
  bool Rewrite();
  ops::WaitQuestion Question(const std::string& image, double not_before,
                             bool expect_other_leader) const;
  bool WaitForKubeVip(const ops::WaitQuestion& question, bool judge_conflicts, const char* phase,
                      std::string& failure);
  bool UpdateGroupVars();
  bool SaveState(UpgradeStep step);
  void AddStep(std::string name, bool ok, std::string detail, Clock::time_point started);
  std::vector<std::string> Plan() const;
  int Finish(const std::string& result, int exit_code, const std::string& message);

  std::string ManifestPath() const { return options_.cluster.kubevip_manifest; }
  std::string RuntimeEndpoint() const;
  ops::RuntimeCli Cli() const {
    return options_.runtime == "crictl" ? ops::RuntimeCli::kCrictl : ops::RuntimeCli::kCtr;
  }

  const UpgradeOptions& options_;
  OutputFormat format_ = OutputFormat::kTable;
  ops::ClusterAccess access_;
  std::unique_ptr<ops::LiveClusterProbe> probe_;
  std::string state_file_;
  ops::UpgradeState state_;
  std::string target_image_;
  std::vector<Check> preflight_;
  std::vector<Check> steps_;
  int preflight_exit_ = kUpgradeOk;
  bool printed_plan_ = false;
};

}  // namespace kvip::upgrade_detail
