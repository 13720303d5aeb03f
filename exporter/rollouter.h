#pragma once
// The rollout as an object (exporter/ only): rollout.cc holds the run, the order, the
// preflight pass and the report; rollout_pods.cc the step pods (create or adopt, stream,
// judge, delete), the lock's upkeep and the signals. The decisions are in lib/ops/rollout_plan.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ops/rollout_plan.h"
#include "report.h"
#include "rollout.h"
#include "rollout_cluster.h"
#include "rollout_verify.h"

namespace kvip::rollout_detail {

using Clock = std::chrono::steady_clock;

// One node-step pod as it runs: what it streamed so far and how it ended.
struct StepRun {
  const ops::RolloutNode* node = nullptr;
  std::string pod;
  std::vector<std::string> args;
  size_t lines_shown = 0;
  bool done = false;
  bool ran = false;  // the step's process ran (it has an exit code)
  int exit_code = -1;
  std::optional<ops::StepReport> report;
  std::string error;  // why it could not run, or ended without a report
  Clock::time_point pending_since = Clock::now();
};

class Rollouter {
 public:
  explicit Rollouter(const RolloutOptions& options) : o_(options) {}
  int Run();

 private:
  int Status();
  int Finish(const std::string& result, int exit_code, const std::string& message);
  bool Interrupted();
  bool TakeLock();
  void RenewLockIfDue();
  ops::StepPodSpec SpecFor(const ops::RolloutNode& node, const std::string& pod,
                           std::vector<std::string> args) const;
  void RunPods(std::vector<StepRun>& runs, bool adopt);
  void Poll(StepRun& run);
  int Preflight();  // kRolloutOk, or the exit code its worst node calls for
  int StepNodes();
  int TakeResult(const StepRun& run, double took, const std::string& how);
  int AdoptLeftoverSteps();
  int PlanWhenHealthy();
  std::vector<std::string> NodeStepArgs() const;
  int StepDeadlineSeconds() const;  // a step pod's activeDeadlineSeconds
  const ops::RolloutNode* NodeNamed(const std::string& name) const;

  const RolloutOptions& o_;
  OutputFormat format_ = OutputFormat::kTable;
  std::unique_ptr<RolloutCluster> cluster_;
  ops::Discovery discovery_;
  std::vector<std::string> order_;
  std::string leader_;
  std::string me_;
  bool have_lock_ = false;
  Clock::time_point lock_renewed_;
  bool interrupted_ = false;
  std::string rollout_id_;
  ops::RolloutRecord record_;
  std::vector<std::string> plan_;
  std::vector<Check> preflight_;
  std::vector<Check> steps_;
  std::vector<Check> verify_;
};

}  // namespace kvip::rollout_detail
