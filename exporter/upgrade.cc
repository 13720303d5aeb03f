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
namespace {

int ExitCodeFor(ops::PreflightBlock block) {
  switch (block) {
    case ops::PreflightBlock::kBadInput:
      return kUpgradeBadInput;
    case ops::PreflightBlock::kClusterUnhealthy:
      return kUpgradeClusterUnhealthy;
    case ops::PreflightBlock::kLeaderFirst:
      return kUpgradeLeaderFirst;
    case ops::PreflightBlock::kBackup:
      return kUpgradeBackupFailed;
    case ops::PreflightBlock::kRuntime:
      return kUpgradeRuntimeFailed;
  }
  return kUpgradeClusterUnhealthy;
}

std::string ReadOrEmpty(const std::string& path) {
  std::string text;
  std::string error;
  ReadFileBounded(path, text, kMaxManifestBytes, error);
  return text;
}

}  // namespace

void Upgrader::AddPreflight(Check check, int exit_code_on_failure) {
  if (!check.ok && preflight_exit_ == kUpgradeOk) preflight_exit_ = exit_code_on_failure;
  LogInfo("preflight",
          {{"check", check.name}, {"ok", check.ok ? "true" : "false"}, {"detail", check.detail}});
  preflight_.push_back(std::move(check));
}

ops::PreflightFacts Upgrader::GatherPreflightFacts() {
  const manifest::KubeVipManifest& m = *access_.manifest;
  ops::PreflightFacts f;
  f.node = access_.node;
  f.manifest_path = ManifestPath();
  f.manifest_image = m.image;
  f.manifest_tag = m.image_ref.tag;
  f.target_image = target_image_;
  // Pulling changes nothing kube-vip runs: the leader may pull first.
  f.allow_leader = options_.allow_leader || options_.pull_only;
  f.api_available = access_.api != nullptr;
  f.api_error = access_.api_error;
  f.vip_healthz = probe_->VipHealthz();
  f.lease = probe_->Lease();
  f.now = probe_->Now();
  f.lease_name = access_.LeaseNamespace() + "/" + access_.LeaseName();
  f.pods = probe_->Pods();

  ops::BackupFacts& b = f.backup;
  b.backup_path = state_.backup_path;
  b.backup_dir = std::filesystem::path(b.backup_path).parent_path().string();
  b.manifest_path = ManifestPath();
  b.manifest_text = ReadOrEmpty(ManifestPath());
  std::string error;
  if (auto free_bytes = manifest::FreeBytes(b.backup_dir, error))
    b.free_bytes = *free_bytes;
  else
    b.free_bytes = Error{error};
  b.dir_writable = access(b.backup_dir.c_str(), W_OK) == 0;
  if (!b.dir_writable) b.dir_error = std::strerror(errno);
  b.exists = access(b.backup_path.c_str(), F_OK) == 0;
  std::string existing;
  if (b.exists && ReadFileBounded(b.backup_path, existing, kMaxManifestBytes, error))
    b.existing = std::move(existing);

  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  f.state_dir_ok = !ec && access(options_.state_dir.c_str(), W_OK) == 0;
  f.state_dir_detail = f.state_dir_ok
                           ? state_file_ + " writable"
                           : options_.state_dir + ": " + (ec ? ec.message() : std::strerror(errno));

  f.runtime_argv = ops::RuntimeVersionArgv(Cli(), RuntimeEndpoint());
  f.runtime = ops::RunCommand(f.runtime_argv, std::chrono::seconds(10));

  f.group_vars_path = options_.ansible_group_vars;
  if (!f.group_vars_path.empty()) {
    std::string vars;
    if (!ReadFileBounded(f.group_vars_path, vars, kMaxManifestBytes, f.group_vars_error) ||
        !manifest::SetAnsibleVar(vars, f.group_vars_path, "kubevip_version", options_.to,
                                 f.group_vars_error)) {
      if (f.group_vars_error.empty()) f.group_vars_error = f.group_vars_path + ": not editable";
    } else {
      f.group_vars_error.clear();
    }
  }
  return f;
}

bool Upgrader::Preflight() {
  ops::PreflightVerdict verdict = ops::DecidePreflight(GatherPreflightFacts());
  if (verdict.this_node_leads) state_.was_leader = *verdict.this_node_leads;
  for (ops::PreflightItem& item : verdict.items)
    AddPreflight(std::move(item.check), ExitCodeFor(item.block));
  return preflight_exit_ == kUpgradeOk;
}

// Bad input or a leader going first fails at once; a cluster that is only unhealthy gets
// --preflight-wait to recover, since in a rolling upgrade the node before this one may still be
// settling (its mirror pod not yet Ready, the lease just handed over).
bool Upgrader::PreflightWaitingForHealth() {
  const auto deadline = Clock::now() + options_.preflight_wait;
  std::optional<bool> passed = PollUntil(deadline, std::chrono::seconds(1), [&] {
    preflight_.clear();
    preflight_exit_ = kUpgradeOk;
    if (Preflight()) return std::optional<bool>(true);
    if (preflight_exit_ != kUpgradeClusterUnhealthy) return std::optional<bool>(false);
    if (Clock::now() < deadline)
      LogInfo("preflight: the cluster is not healthy yet; checking again",
              {{"wait_left",
                WholeSeconds(std::chrono::duration<double>(deadline - Clock::now()).count())}});
    return std::optional<bool>();
  });
  return passed.value_or(false);
}

std::vector<std::string> Upgrader::Plan() const {
  const std::string node_pod = access_.PodName() + "-" + access_.node;
  std::vector<std::string> plan{
      "back up " + ManifestPath() + " to " + state_.backup_path + " (same mode and owner, fsynced)",
      "pre-pull: " + ops::JoinWords(ops::PullArgv(Cli(), RuntimeEndpoint(), target_image_)),
      "rewrite the image " + state_.from_image + " -> " + target_image_ + " in " + ManifestPath() +
          " (every other byte kept; " + manifest::TempPathFor(ManifestPath()) + ", fsync, rename)",
      "wait up to " + WholeSeconds(static_cast<double>(options_.timeout.count())) + ": " +
          node_pod + " runs the new image and is Ready; " + access_.MetricsUrl() +
          " answers; https://" + access_.vip + ":" + std::to_string(access_.vip_port) +
          "/healthz ok; lease fresh" +
          (state_.was_leader ? " and held by another node, which has the VIP" : "") + "; then " +
          WholeSeconds(static_cast<double>(options_.settle.count())) +
          " without lock-conflict lines",
      "on any failed wait: restore " + state_.backup_path + " atomically and wait for recovery",
  };
  if (!options_.ansible_group_vars.empty())
    plan.push_back("set kubevip_version: " + options_.to + " in " + options_.ansible_group_vars);
  return plan;
}

int Upgrader::Finish(const std::string& result, int exit_code, const std::string& message) {
  LogFinished("upgrade", result, exit_code, message);
  Report report;
  report.title = "kube-vip upgrade on " + access_.node + ": " + state_.from_image + " -> " +
                 target_image_ + (options_.dry_run ? " (dry run)" : "");
  report.fields = {{"command", std::string("upgrade")},
                   {"node", access_.node},
                   {"manifest", ManifestPath()},
                   {"from", state_.from_image},
                   {"to", target_image_},
                   {"dry_run", options_.dry_run},
                   {"result", result},
                   {"exit_code", exit_code},
                   {"message", message},
                   {"backup", state_.backup_path},
                   {"state_file", state_file_},
                   {"was_leader", state_.was_leader}};
  report.sections.push_back(Report::Section::Checks("preflight", "preflight", preflight_));
  report.sections.push_back(
      Report::Section::List("plan", "plan", printed_plan_ ? Plan() : std::vector<std::string>{}));
  report.sections.push_back(Report::Section::Checks("steps", "steps", steps_));
  return PrintFinalReport(report, format_, result, exit_code, message);
}

int Upgrader::Run() {
  if (!ParseOutputFlag(options_.output, format_)) return kUpgradeUsage;
  if (options_.runtime != "ctr" && options_.runtime != "crictl") {
    std::cerr << "--runtime: unknown runtime CLI \"" << options_.runtime << "\" (ctr, crictl)\n";
    return kUpgradeUsage;
  }
  if (options_.pull_only && (options_.rollback || options_.to.empty())) {
    std::cerr << "upgrade: --pull-only needs --to and excludes --rollback\n";
    return kUpgradeUsage;
  }
  if (options_.to.empty() && !options_.rollback) {
    std::cerr << "upgrade: --to is required (e.g. --to v1.0.4), unless --rollback\n";
    return kUpgradeUsage;
  }
  if (!options_.to.empty() && !manifest::IsValidTag(options_.to)) {
    std::cerr << "--to: \"" << options_.to << "\" is not an image tag (e.g. v1.0.4)\n";
    return kUpgradeUsage;
  }
  if (!options_.image_digest.empty() && !manifest::IsValidDigest(options_.image_digest)) {
    std::cerr << "--image-digest: \"" << options_.image_digest << "\" is not sha256:<64 hex>\n";
    return kUpgradeUsage;
  }
  access_ = ops::OpenClusterAccess(options_.cluster);
  probe_ = std::make_unique<ops::LiveClusterProbe>(access_);
  state_file_ = options_.state_dir + "/upgrade-state.json";
  if (!access_.manifest) return Finish("failed", kUpgradeBadInput, access_.manifest_error);
  const manifest::KubeVipManifest& m = *access_.manifest;

  std::optional<ops::UpgradeState> recorded;
  if (access(state_file_.c_str(), F_OK) == 0) {
    std::string text;
    std::string error;
    if (ReadFileBounded(state_file_, text, kMaxManifestBytes, error))
      recorded = ops::ParseUpgradeState(text, state_file_, error);
    if (!recorded) return Finish("refused", kUpgradeStateConflict, error);
  }
  if (!options_.to.empty())
    target_image_ = m.image_ref.WithVersion(options_.to, options_.image_digest).ToString();
  ops::ResumeDecision decision = ops::DecideResume(recorded, state_file_, ManifestPath(), m.image,
                                                   target_image_, options_.rollback);

  using enum ops::ResumeAction;
  if (decision.action != kStartFresh && recorded) {
    state_ = *recorded;
    target_image_ = state_.to_image;
    LogInfo("resuming", {{"decision", decision.reason}});
    steps_.push_back({"resume", decision.action != kRefuse, decision.reason});
  }
  if ((options_.dry_run || options_.pull_only) && decision.action != kStartFresh)
    return Finish("planned", decision.action == kRefuse ? kUpgradeStateConflict : kUpgradeOk,
                  (options_.dry_run ? "dry run: " : "pull only: ") + decision.reason);
  switch (decision.action) {
    case kRefuse:
      return Finish("refused", kUpgradeStateConflict, decision.reason);
    case kMarkRolledBack:
      state_.failure = "rollback requested before the manifest changed";
      SaveState(UpgradeStep::kRolledBack);
      return Finish("rolled-back", kUpgradeOk, decision.reason);
    case kAlreadyRolledBack:
      return Finish("rolled-back", kUpgradeOk, decision.reason);
    case kRollBack:
      return RollBack(options_.rollback ? "rollback requested" : state_.failure, options_.rollback);
    case kContinueFromPull:
      return ContinueFromPull(/*resumed=*/true);
    case kContinueWaiting:
      return ContinueWaiting();
    case kStartFresh:
      break;
  }

  state_ = ops::UpgradeState{};
  state_.manifest_path = ManifestPath();
  state_.node = access_.node;
  state_.from_image = m.image;
  state_.to_image = target_image_;
  state_.backup_path = ops::BackupPathFor(ManifestPath(), m.image_ref.tag, options_.backup_dir);
  state_.started_at = UnixNow();
  if (m.image == target_image_) return AlreadyAtTarget();

  bool ready = PreflightWaitingForHealth();
  printed_plan_ = options_.dry_run;
  if (!ready) return Finish("refused", preflight_exit_, "preflight failed; nothing was changed");
  if (options_.dry_run) return Finish("planned", kUpgradeOk, "dry run: nothing was changed");
  if (options_.pull_only) {
    if (!Pull()) return Finish("failed", kUpgradeRuntimeFailed, "the pull failed");
    return Finish("pulled", kUpgradeOk, target_image_ + " pulled; nothing else was changed");
  }

  if (!Backup())
    return Finish("failed", kUpgradeBackupFailed, "the backup failed; nothing was changed");
  if (!SaveState(UpgradeStep::kBackedUp))
    return Finish("failed", kUpgradeBackupFailed, "cannot record state; nothing was changed");
  return ContinueFromPull(/*resumed=*/false);
}

}  // namespace kvip::upgrade_detail

namespace kvip {

int Upgrade(const UpgradeOptions& options) { return upgrade_detail::Upgrader(options).Run(); }

}  // namespace kvip
