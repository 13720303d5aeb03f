#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>

#include "common/logging.h"
#include "common/metric_family.h"
#include "common/poll.h"
#include "common/read_file.h"
#include "manifest/ansible_vars.h"
#include "manifest/durable_file.h"
#include "ops/run_command.h"
#include "upgrader.h"

namespace kvip::upgrade_detail {

std::string Upgrader::RuntimeEndpoint() const {
  if (Cli() == ops::RuntimeCli::kCtr) return options_.containerd_address;
  if (!options_.runtime_endpoint.empty()) return options_.runtime_endpoint;
  return "unix://" + options_.containerd_address;
}

void Upgrader::AddStep(std::string name, bool ok, std::string detail, Clock::time_point started) {
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  (ok ? LogInfo : LogError)("step",
                            {{"step", name}, {"ok", ok ? "true" : "false"}, {"detail", detail}});
  steps_.push_back({std::move(name), ok, std::move(detail), seconds});
}

bool Upgrader::SaveState(UpgradeStep step) {
  state_.step = step;
  state_.updated_at = UnixNow();
  std::string error;
  if (!manifest::WriteFileAtomically(state_file_, ops::SerializeUpgradeState(state_),
                                     {0600, geteuid(), getegid()}, error)) {
    LogError("cannot record the upgrade state", {{"err", error}});
    steps_.push_back(
        {"state", false, "cannot record step " + std::string(ops::StepName(step)) + ": " + error});
    return false;
  }
  LogInfo("state", {{"step", std::string(ops::StepName(step))}, {"file", state_file_}});
  return true;
}

bool Upgrader::Backup() {
  auto started = Clock::now();
  std::string error;
  std::string current;
  std::string existing;
  if (ReadFileBounded(ManifestPath(), current, kMaxManifestBytes, error) &&
      ReadFileBounded(state_.backup_path, existing, kMaxManifestBytes, error) &&
      existing == current) {
    AddStep("backup", true, state_.backup_path + " already holds this manifest", started);
    return true;
  }
  bool ok = manifest::CopyFileDurably(ManifestPath(), state_.backup_path, error);
  AddStep("backup", ok, ok ? ManifestPath() + " -> " + state_.backup_path : error, started);
  return ok;
}

bool Upgrader::Pull() {
  auto started = Clock::now();
  auto argv = ops::PullArgv(Cli(), RuntimeEndpoint(), target_image_);
  Check pull =
      ops::DecidePull(argv, ops::RunCommand(argv, options_.pull_timeout), options_.pull_timeout);
  AddStep("pull", pull.ok, pull.detail, started);
  return pull.ok;
}

bool Upgrader::Rewrite() {
  auto started = Clock::now();
  std::string error;
  std::string text;
  auto ownership = manifest::OwnershipOf(ManifestPath(), error);
  std::optional<std::string> rewritten;
  if (ownership && ReadFileBounded(ManifestPath(), text, kMaxManifestBytes, error))
    rewritten = manifest::RewriteImage(text, ManifestPath(), target_image_, error);
  if (!rewritten) {
    AddStep("rewrite", false, error, started);
    return false;
  }
  if (!SaveState(UpgradeStep::kRewriting)) return false;
  bool ok = manifest::WriteFileAtomically(ManifestPath(), *rewritten, *ownership, error);
  if (!ok) {
    // A failed directory fsync comes after the rename: what counts is what is in place.
    std::string check_error;
    auto now_there = manifest::ReadManifest(ManifestPath(), check_error);
    ok = now_there && now_there->image == target_image_;
  }
  state_.rewritten_at = UnixNow();
  AddStep("rewrite", ok,
          ok ? state_.from_image + " -> " + target_image_ + " in " + ManifestPath() : error,
          started);
  return ok;
}

ops::WaitQuestion Upgrader::Question(const std::string& image, double not_before,
                                     bool expect_other_leader) const {
  ops::WaitQuestion question;
  question.node = access_.node;
  question.image = image;
  question.not_before = not_before;
  question.expect_other_leader = expect_other_leader;
  question.metrics_url = access_.MetricsUrl();
  return question;
}

bool Upgrader::WaitForKubeVip(const ops::WaitQuestion& question, bool judge_conflicts,
                              const char* phase, std::string& failure) {
  const auto started = Clock::now();
  ops::WaitOptions wait;
  wait.timeout = options_.timeout;
  wait.settle = options_.settle;
  wait.judge_conflicts = judge_conflicts;
  wait.pod_name = access_.PodName() + "-" + access_.node;
  wait.phase = phase;
  ops::WaitOutcome outcome = ops::WaitForKubeVip(*probe_, question, wait);
  AddStep(phase, outcome.ok, outcome.detail, started);
  failure = outcome.ok ? "" : outcome.detail;
  return outcome.ok;
}

bool Upgrader::UpdateGroupVars() {
  if (options_.ansible_group_vars.empty()) return true;
  auto started = Clock::now();
  const std::string& path = options_.ansible_group_vars;
  std::string error;
  std::string text;
  std::optional<std::string> updated;
  auto ownership = manifest::OwnershipOf(path, error);
  if (ownership && ReadFileBounded(path, text, kMaxManifestBytes, error))
    updated = manifest::SetAnsibleVar(text, path, "kubevip_version", options_.to, error);
  bool ok = updated &&
            (*updated == text || manifest::WriteFileAtomically(path, *updated, *ownership, error));
  AddStep("group-vars", ok, ok ? path + ": kubevip_version: " + options_.to : error, started);
  return ok;
}

int Upgrader::AlreadyAtTarget() {
  ops::WaitQuestion question = Question(target_image_, 0, false);
  for (Check& c : ops::DecideWait(question, ops::GatherWaitFacts(*probe_, question)).conditions)
    AddPreflight(std::move(c), kUpgradeClusterUnhealthy);
  if (preflight_exit_ != kUpgradeOk)
    return Finish(
        "already-at-target", preflight_exit_,
        ManifestPath() + " already runs " + target_image_ + ", but kube-vip is not healthy");
  if (!options_.dry_run && !UpdateGroupVars())
    return Finish("already-at-target", kUpgradeGroupVarsFailed, "group vars not updated");
  return Finish("already-at-target", kUpgradeOk, ManifestPath() + " already runs " + target_image_);
}

int Upgrader::ContinueFromPull(bool resumed) {
  if (resumed) {
    // The backup must be the manifest as it is now, or a rollback would install something else.
    std::string current;
    std::string backup;
    std::string error;
    if (!ReadFileBounded(ManifestPath(), current, kMaxManifestBytes, error) ||
        !ReadFileBounded(state_.backup_path, backup, kMaxManifestBytes, error) ||
        current != backup) {
      return Finish("refused", kUpgradeStateConflict,
                    error.empty() ? state_.backup_path + " differs from " + ManifestPath() +
                                        "; inspect both, then remove " + state_file_
                                  : error);
    }
    // Time may have passed since the crash: the cluster must still be fit for the change.
    if (!Preflight())
      return Finish("refused", preflight_exit_,
                    "preflight failed on resume; the manifest is unchanged: re-run when it passes, "
                    "or undo with --rollback");
  }
  if (!Pull()) {
    state_.failure = steps_.back().detail;
    SaveState(UpgradeStep::kRolledBack);
    return Finish("failed", kUpgradeRuntimeFailed, "the pull failed; the manifest was not changed");
  }
  if (!SaveState(UpgradeStep::kPulled))
    return Finish("failed", kUpgradeBackupFailed, "cannot record state");
  if (!Rewrite()) {
    std::string error;
    auto now_there = manifest::ReadManifest(ManifestPath(), error);
    if (now_there && now_there->image == state_.from_image) {
      state_.failure = steps_.back().detail;
      SaveState(UpgradeStep::kRolledBack);
      return Finish("failed", kUpgradeRewriteFailed,
                    "the manifest could not be rewritten; it was not changed");
    }
    return RollBack(steps_.back().detail, false);
  }
  if (!SaveState(UpgradeStep::kWaiting)) return RollBack("cannot record the upgrade state", false);
  return ContinueWaiting();
}

int Upgrader::ContinueWaiting() {
  std::string failure;
  if (!WaitForKubeVip(Question(target_image_, state_.rewritten_at, state_.was_leader),
                      /*judge_conflicts=*/true, "wait-new", failure))
    return RollBack(failure, false);
  state_.failure.clear();
  SaveState(UpgradeStep::kDone);
  if (!UpdateGroupVars())
    return Finish(
        "upgraded", kUpgradeGroupVarsFailed,
        access_.node + " runs " + target_image_ + ", but the group vars were not updated");
  return Finish("upgraded", kUpgradeOk,
                access_.node + " runs " + target_image_ + " and is healthy");
}

int Upgrader::RollBack(const std::string& failure, bool requested) {
  auto started = Clock::now();
  state_.failure = failure;
  SaveState(UpgradeStep::kRollingBack);
  std::string error;
  std::string backup;
  std::string current;
  if (!ReadFileBounded(state_.backup_path, backup, kMaxManifestBytes, error)) {
    AddStep("restore", false, error, started);
    return Finish("rollback-failed", kUpgradeRollbackFailed,
                  failure + "; and the backup cannot be read");
  }
  auto backed_up = manifest::ParseManifest(backup, state_.backup_path, error);
  if (!backed_up || backed_up->image != state_.from_image) {
    AddStep("restore", false,
            backed_up
                ? state_.backup_path + " runs " + backed_up->image + ", not " + state_.from_image
                : error,
            started);
    return Finish("rollback-failed", kUpgradeRollbackFailed,
                  failure + "; and the backup is not usable");
  }
  double not_before = 0;  // unchanged manifest: the old pod may have been running all along
  ReadFileBounded(ManifestPath(), current, kMaxManifestBytes, error);
  if (current != backup) {
    auto ownership = manifest::OwnershipOf(ManifestPath(), error);
    if (!ownership) ownership = manifest::OwnershipOf(state_.backup_path, error);
    if (!ownership || !manifest::WriteFileAtomically(ManifestPath(), backup, *ownership, error)) {
      AddStep("restore", false, error, started);
      return Finish("rollback-failed", kUpgradeRollbackFailed,
                    failure + "; and restoring the backup failed");
    }
    not_before = UnixNow();
  }
  AddStep("restore", true, state_.backup_path + " -> " + ManifestPath(), started);
  std::string not_recovered;
  if (!WaitForKubeVip(Question(state_.from_image, not_before, false), /*judge_conflicts=*/false,
                      "wait-rollback", not_recovered)) {
    state_.failure = failure + "; rollback restored the manifest but recovery was not confirmed: " +
                     not_recovered;
    SaveState(UpgradeStep::kRolledBack);
    return Finish("rollback-failed", kUpgradeRollbackFailed, state_.failure);
  }
  SaveState(UpgradeStep::kRolledBack);
  if (requested) return Finish("rolled-back", kUpgradeOk, "rolled back to " + state_.from_image);
  return Finish("rolled-back", kUpgradeRolledBack,
                failure + "; rolled back to " + state_.from_image + ", which is healthy");
}

}  // namespace kvip::upgrade_detail
