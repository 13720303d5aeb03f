#include "upgrade.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/metric_family.h"
#include "common/read_file.h"
#include "manifest/ansible_vars.h"
#include "manifest/durable_file.h"
#include "manifest/upgrade_plan.h"
#include "run_command.h"

namespace kvip {
namespace {

using Clock = std::chrono::steady_clock;
using manifest::UpgradeStep;

constexpr size_t kMaxManifestBytes = 1 << 20;
constexpr auto kPollInterval = std::chrono::milliseconds(500);
// Container start times have one-second resolution.
constexpr double kStartSlack = 1.0;

std::string Join(const std::vector<std::string>& words, const char* separator = " ") {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

std::string Seconds(double s) { return std::to_string(static_cast<long long>(s + 0.5)) + " s"; }

// Why waiting longer for `pod` would only prolong the outage, or empty. A crash counts only
// when the run that crashed started after the change (`not_before`): a restored manifest
// brings back the old pod's UID, and with it the old container's history.
std::string Hopeless(const manifest::KubeVipPod& pod, double not_before) {
  const std::string& r = pod.waiting_reason;
  if (r == "ErrImagePull" || r == "ImagePullBackOff" || r == "InvalidImageName" ||
      r == "ErrImageNeverPull" || r == "CreateContainerConfigError")
    return r;
  bool crashed_since_change = not_before > 0 && pod.last_run_started_at + kStartSlack >= not_before;
  if (r == "CrashLoopBackOff" && crashed_since_change)
    return "CrashLoopBackOff, exit code " + std::to_string(pod.last_exit_code);
  return "";
}

class Upgrader {
 public:
  explicit Upgrader(const UpgradeOptions& options) : options_(options) {}
  int Run();

 private:
  struct WaitOutcome {
    bool ok = false;
    std::string failure;
  };

  void AddPreflight(Check check, int exit_code_on_failure);
  bool Preflight();
  bool PreflightWaitingForHealth();
  int AlreadyAtTarget();
  int ContinueFromPull(bool resumed);
  int ContinueWaiting();
  int RollBack(const std::string& failure, bool requested);
  bool Backup();
  bool Pull();
  bool Rewrite();
  WaitOutcome WaitForKubeVip(const std::string& image, double not_before, bool expect_other_leader,
                             bool judge_conflicts, const char* phase);
  std::vector<Check> Conditions(const std::string& image, double not_before,
                                bool expect_other_leader, std::string& hopeless,
                                std::string& pod_identity);
  bool UpdateGroupVars();
  bool SaveState(UpgradeStep step);
  void AddStep(std::string name, bool ok, std::string detail, Clock::time_point started);
  std::vector<std::string> Plan() const;
  int Finish(const std::string& result, int exit_code, const std::string& message);

  std::string ManifestPath() const { return options_.cluster.kubevip_manifest; }
  std::string RuntimeEndpoint() const;
  manifest::RuntimeCli Cli() const {
    return options_.runtime == "crictl" ? manifest::RuntimeCli::kCrictl
                                        : manifest::RuntimeCli::kCtr;
  }

  const UpgradeOptions& options_;
  OutputFormat format_ = OutputFormat::kTable;
  ClusterAccess access_;
  std::string state_file_;
  manifest::UpgradeState state_;
  std::string target_image_;
  std::vector<Check> preflight_;
  std::vector<Check> steps_;
  int preflight_exit_ = kUpgradeOk;
  bool printed_plan_ = false;
};

std::string Upgrader::RuntimeEndpoint() const {
  if (Cli() == manifest::RuntimeCli::kCtr) return options_.containerd_address;
  if (!options_.runtime_endpoint.empty()) return options_.runtime_endpoint;
  return "unix://" + options_.containerd_address;
}

void Upgrader::AddPreflight(Check check, int exit_code_on_failure) {
  if (!check.ok && preflight_exit_ == kUpgradeOk) preflight_exit_ = exit_code_on_failure;
  LogInfo("preflight",
          {{"check", check.name}, {"ok", check.ok ? "true" : "false"}, {"detail", check.detail}});
  preflight_.push_back(std::move(check));
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
  if (!manifest::WriteFileAtomically(state_file_, manifest::SerializeUpgradeState(state_),
                                     {0600, geteuid(), getegid()}, error)) {
    LogError("cannot record the upgrade state", {{"err", error}});
    steps_.push_back(
        {"state", false,
         "cannot record step " + std::string(manifest::StepName(step)) + ": " + error});
    return false;
  }
  LogInfo("state", {{"step", std::string(manifest::StepName(step))}, {"file", state_file_}});
  return true;
}

bool Upgrader::Preflight() {
  const manifest::KubeVipManifest& m = *access_.manifest;
  AddPreflight({"manifest", !m.image_ref.tag.empty(),
                ManifestPath() + " runs " + m.image +
                    (m.image_ref.tag.empty() ? "; it has no tag to name the backup after" : "")},
               kUpgradeBadInput);

  if (!access_.api) {
    AddPreflight({"api", false, access_.api_error}, kUpgradeClusterUnhealthy);
  }
  AddPreflight(ProbeVipHealthz(access_), kUpgradeClusterUnhealthy);

  LeaseLookup lease = FetchLease(access_);
  const double now = UnixNow();
  const std::string lease_name = access_.LeaseNamespace() + "/" + access_.LeaseName();
  if (!lease.ok) {
    AddPreflight({"lease", false, lease.error}, kUpgradeClusterUnhealthy);
  } else if (!lease.present || !lease.lease.FreshAt(now)) {
    AddPreflight({"lease", false,
                  lease.present
                      ? lease_name + " held by \"" + lease.lease.holder + "\" is stale (renewed " +
                            Seconds(now - lease.lease.renew_time) + " ago, duration " +
                            Seconds(lease.lease.duration_seconds) + "); see `kvip-exporter recover`"
                      : lease_name + " does not exist"},
                 kUpgradeClusterUnhealthy);
  } else {
    AddPreflight({"lease", true, lease_name + " held by " + lease.lease.holder + ", fresh"},
                 kUpgradeClusterUnhealthy);
  }

  std::string pods_error;
  auto pods = FetchKubeVipPods(access_, pods_error);
  if (!pods) {
    AddPreflight({"pods", false, pods_error}, kUpgradeClusterUnhealthy);
  } else {
    std::string summary;
    for (const auto& pod : *pods)
      summary += (summary.empty() ? "" : ", ") + pod.node + "=" + pod.image +
                 (pod.running && pod.ready ? "" : " (not ready)");
    AddPreflight(
        {"pods", !pods->empty(), pods->empty() ? "no kube-vip mirror pods found" : summary},
        kUpgradeClusterUnhealthy);
    if (lease.present) {
      manifest::LeaderGuard guard =
          manifest::CheckLeaderLast(access_.node, lease.lease.holder, *pods, target_image_);
      state_.was_leader = guard.this_node_leads;
      Check check{"leader-last", !guard.Refuses() || options_.allow_leader, ""};
      if (!guard.this_node_leads) {
        check.detail = access_.node + " is a follower (leader: " + lease.lease.holder + ")";
      } else if (!guard.Refuses()) {
        check.detail =
            access_.node + " leads and every other node is on the target: last, as it should be";
      } else {
        check.detail = access_.node + " holds the lease while " + Join(guard.nodes_first, ", ") +
                       " still run the old version: upgrade " + Join(guard.nodes_first, ", ") +
                       " first" +
                       (options_.allow_leader ? " (overridden by --allow-leader)"
                                              : " (or pass --allow-leader)");
      }
      AddPreflight(check, kUpgradeLeaderFirst);
      if (guard.this_node_leads) {
        std::vector<std::string> ready;
        for (const auto& pod : *pods)
          if (pod.node != access_.node && pod.running && pod.ready) ready.push_back(pod.node);
        AddPreflight(
            {"failover-target", !ready.empty(),
             ready.empty() ? "no other node's kube-vip is running and ready to take the VIP"
                           : "ready to take over: " + Join(ready, ", ")},
            kUpgradeClusterUnhealthy);
      }
    }
  }

  // Backup: writable, room for it, and no different file in its place.
  const std::string backup = state_.backup_path;
  const std::string backup_dir = std::filesystem::path(backup).parent_path().string();
  std::string error;
  std::string current;
  ReadFileBounded(ManifestPath(), current, kMaxManifestBytes, error);
  auto free_bytes = manifest::FreeBytes(backup_dir, error);
  Check backup_check{"backup", false, ""};
  std::string existing;
  std::string existing_error;
  bool exists = access(backup.c_str(), F_OK) == 0;
  if (!free_bytes) {
    backup_check.detail = error;
  } else if (access(backup_dir.c_str(), W_OK) != 0) {
    backup_check.detail = backup_dir + ": not writable: " + std::strerror(errno);
  } else if (exists && (!ReadFileBounded(backup, existing, kMaxManifestBytes, existing_error) ||
                        existing != current)) {
    backup_check.detail = backup + " exists and differs from " + ManifestPath() +
                          "; move it away or pass --backup-dir";
  } else if (!exists && *free_bytes < current.size() + 64 * 1024) {
    backup_check.detail = backup_dir + " has " + std::to_string(*free_bytes) +
                          " bytes free; the backup needs " + std::to_string(current.size()) +
                          " plus room to write it safely";
  } else {
    backup_check.ok = true;
    backup_check.detail =
        backup + (exists ? " already holds this manifest"
                         : " writable, " + std::to_string(*free_bytes / 1024) + " KiB free");
  }
  AddPreflight(backup_check, kUpgradeBackupFailed);

  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
  bool state_ok = !ec && access(options_.state_dir.c_str(), W_OK) == 0;
  AddPreflight({"state-dir", state_ok,
                state_ok ? state_file_ + " writable"
                         : options_.state_dir + ": " + (ec ? ec.message() : std::strerror(errno))},
               kUpgradeBackupFailed);

  auto version_argv = manifest::RuntimeVersionArgv(Cli(), RuntimeEndpoint());
  CommandResult runtime = RunCommand(version_argv, std::chrono::seconds(10));
  AddPreflight({"runtime", runtime.started && runtime.exit_code == 0,
                Join(version_argv) + ": " +
                    (runtime.exit_code == 0 ? "answers"
                     : runtime.timed_out    ? "timed out"
                                            : LastLine(runtime.output))},
               kUpgradeRuntimeFailed);

  if (!options_.ansible_group_vars.empty()) {
    std::string vars;
    std::string vars_error;
    bool ok = ReadFileBounded(options_.ansible_group_vars, vars, kMaxManifestBytes, vars_error) &&
              manifest::SetAnsibleVar(vars, options_.ansible_group_vars, "kubevip_version",
                                      options_.to, vars_error);
    AddPreflight({"group-vars", ok,
                  ok ? options_.ansible_group_vars + ": kubevip_version can be set" : vars_error},
                 kUpgradeBadInput);
  }
  return preflight_exit_ == kUpgradeOk;
}

// Bad input or a leader going first fails at once; a cluster that is only unhealthy gets
// --preflight-wait to recover, since in a rolling upgrade the node before this one may still be
// settling (its mirror pod not yet Ready, the lease just handed over).
bool Upgrader::PreflightWaitingForHealth() {
  const auto deadline = Clock::now() + options_.preflight_wait;
  while (true) {
    preflight_.clear();
    preflight_exit_ = kUpgradeOk;
    if (Preflight()) return true;
    if (preflight_exit_ != kUpgradeClusterUnhealthy || Clock::now() >= deadline) return false;
    LogInfo(
        "preflight: the cluster is not healthy yet; checking again",
        {{"wait_left", Seconds(std::chrono::duration<double>(deadline - Clock::now()).count())}});
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::vector<std::string> Upgrader::Plan() const {
  const std::string node_pod = access_.PodName() + "-" + access_.node;
  std::vector<std::string> plan{
      "back up " + ManifestPath() + " to " + state_.backup_path + " (same mode and owner, fsynced)",
      "pre-pull: " + Join(manifest::PullArgv(Cli(), RuntimeEndpoint(), target_image_)),
      "rewrite the image " + state_.from_image + " -> " + target_image_ + " in " + ManifestPath() +
          " (every other byte kept; " + manifest::TempPathFor(ManifestPath()) + ", fsync, rename)",
      "wait up to " + Seconds(static_cast<double>(options_.timeout.count())) + ": " + node_pod +
          " runs the new image and is Ready; " + access_.MetricsUrl() + " answers; https://" +
          access_.vip + ":" + std::to_string(access_.vip_port) + "/healthz ok; lease fresh" +
          (state_.was_leader ? " and held by another node, which has the VIP" : "") + "; then " +
          Seconds(static_cast<double>(options_.settle.count())) + " without lock-conflict lines",
      "on any failed wait: restore " + state_.backup_path + " atomically and wait for recovery",
  };
  if (!options_.ansible_group_vars.empty())
    plan.push_back("set kubevip_version: " + options_.to + " in " + options_.ansible_group_vars);
  return plan;
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
  auto argv = manifest::PullArgv(Cli(), RuntimeEndpoint(), target_image_);
  CommandResult r = RunCommand(argv, options_.pull_timeout);
  bool ok = r.started && !r.timed_out && r.exit_code == 0;
  std::string detail =
      Join(argv) + ": " +
      (ok ? "pulled"
       : r.timed_out
           ? "timed out after " + Seconds(static_cast<double>(options_.pull_timeout.count()))
           : "exit " + std::to_string(r.exit_code) + ": " + LastLine(r.output));
  AddStep("pull", ok, detail, started);
  return ok;
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

std::vector<Check> Upgrader::Conditions(const std::string& image, double not_before,
                                        bool expect_other_leader, std::string& hopeless,
                                        std::string& pod_identity) {
  std::vector<Check> conditions;
  std::string error;
  auto pods = FetchKubeVipPods(access_, error);
  Check pod_check{"pod", false, error};
  if (pods) {
    pod_check.detail = "no mirror pod for " + access_.node + " yet";
    for (const auto& pod : *pods) {
      if (pod.node != access_.node) continue;
      if (pod.image != image) {
        pod_check.detail = pod.name + " still describes " + pod.image;
        break;
      }
      if (std::string why = Hopeless(pod, not_before); !why.empty())
        hopeless = pod.name + " cannot run " + image + ": " + why;
      bool fresh = pod.started_at + kStartSlack >= not_before;
      pod_check.ok = pod.running && pod.ready && fresh;
      pod_check.detail = pod.name + " " + image + (pod.running ? " running" : " not running") +
                         (pod.ready ? ", ready" : ", not ready") +
                         (pod.waiting_reason.empty() ? "" : " (" + pod.waiting_reason + ")") +
                         (pod.running && !fresh ? ", but started before the change" : "");
      pod_identity = pod.uid + "/" + std::to_string(pod.restart_count);
    }
  }
  conditions.push_back(pod_check);

  MetricsProbe metrics = ProbeKubeVipMetrics(access_.MetricsUrl(), access_.options.request_timeout);
  bool metrics_fresh =
      metrics.process_start_time == 0 || metrics.process_start_time + kStartSlack >= not_before;
  conditions.push_back({"metrics", metrics.up && metrics_fresh,
                        !metrics.up     ? metrics.error
                        : metrics_fresh ? access_.MetricsUrl() + " answers"
                                        : access_.MetricsUrl() +
                                              " answers from a process started before the change"});

  conditions.push_back(ProbeVipHealthz(access_));

  LeaseLookup lease = FetchLease(access_);
  const double now = UnixNow();
  Check lease_check{"lease", false, lease.error};
  if (lease.ok && !lease.present) lease_check.detail = "the lease does not exist";
  if (lease.present) {
    bool fresh = lease.lease.FreshAt(now);
    bool handed_over = !expect_other_leader || lease.lease.holder != access_.node;
    lease_check.ok = fresh && handed_over;
    lease_check.detail = "held by " + lease.lease.holder + (fresh ? ", fresh" : ", stale") +
                         (handed_over ? "" : "; still this node, waiting for another to take over");
    // The VIP must be here exactly when this node holds the lease (two holders: split brain).
    bool holder_here = lease.lease.holder == access_.node;
    bool vip_here = VipIsLocal(access_.vip);
    conditions.push_back(lease_check);
    conditions.push_back({"vip-placement", holder_here == vip_here,
                          std::string("VIP ") + (vip_here ? "is" : "is not") +
                              " on this node, which " + (holder_here ? "holds" : "does not hold") +
                              " the lease"});
  } else {
    conditions.push_back(lease_check);
  }
  return conditions;
}

Upgrader::WaitOutcome Upgrader::WaitForKubeVip(const std::string& image, double not_before,
                                               bool expect_other_leader, bool judge_conflicts,
                                               const char* phase) {
  const auto started = Clock::now();
  const auto deadline = started + options_.timeout;
  bool settling = false;  // not std::optional: g++ 12 -O2 sees it as maybe-uninitialized
  Clock::time_point settle_since{};
  std::string settled_identity;
  std::vector<Check> last;
  LogInfo("waiting", {{"phase", phase},
                      {"image", image},
                      {"deadline", Seconds(static_cast<double>(options_.timeout.count()))}});
  while (true) {
    std::string hopeless;
    std::string identity;
    last = Conditions(image, not_before, expect_other_leader, hopeless, identity);
    if (!hopeless.empty()) {
      AddStep(phase, false, hopeless, started);
      return {false, hopeless};
    }
    bool all_ok = std::all_of(last.begin(), last.end(), [](const Check& c) { return c.ok; });
    // A restart during the settle period starts it again.
    if (!all_ok || (settling && identity != settled_identity)) {
      settling = false;
    } else if (!settling) {
      settling = true;
      settle_since = Clock::now();
      settled_identity = identity;
      LogInfo(
          "healthy, settling",
          {{"phase", phase}, {"settle", Seconds(static_cast<double>(options_.settle.count()))}});
    }
    if (settling && Clock::now() - settle_since >= options_.settle) break;
    if (Clock::now() >= deadline) {
      std::string failure =
          "not healthy within " + Seconds(static_cast<double>(options_.timeout.count())) + ":";
      for (const Check& c : last)
        if (!c.ok) failure += " " + c.name + ": " + c.detail + ";";
      if (failure.back() == ';') failure.pop_back();
      AddStep(phase, false, failure, started);
      return {false, failure};
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  std::string detail;
  for (const Check& c : last) detail += (detail.empty() ? "" : "; ") + c.detail;
  std::string log_error;
  const std::string pod = access_.PodName() + "-" + access_.node;
  auto log = FetchPodLog(access_, pod, log_error);
  int conflicts = log ? manifest::CountLockConflictLines(*log) : -1;
  std::string conflict_text =
      log ? std::to_string(conflicts) + " lock-conflict lines in " + pod + "'s log"
          : "log of " + pod + " not readable: " + log_error;
  if (judge_conflicts && conflicts != 0) {
    AddStep(phase, false, conflict_text, started);
    return {false, conflict_text};
  }
  AddStep(phase, true, detail + "; " + conflict_text, started);
  return {true, ""};
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
  std::string hopeless;
  std::string identity;
  for (Check& c : Conditions(target_image_, 0, false, hopeless, identity))
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
  WaitOutcome outcome = WaitForKubeVip(target_image_, state_.rewritten_at, state_.was_leader,
                                       /*judge_conflicts=*/true, "wait-new");
  if (!outcome.ok) return RollBack(outcome.failure, false);
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
  WaitOutcome recovered = WaitForKubeVip(state_.from_image, not_before, false,
                                         /*judge_conflicts=*/false, "wait-rollback");
  if (!recovered.ok) {
    state_.failure = failure + "; rollback restored the manifest but recovery was not confirmed: " +
                     recovered.failure;
    SaveState(UpgradeStep::kRolledBack);
    return Finish("rollback-failed", kUpgradeRollbackFailed, state_.failure);
  }
  SaveState(UpgradeStep::kRolledBack);
  if (requested) return Finish("rolled-back", kUpgradeOk, "rolled back to " + state_.from_image);
  return Finish("rolled-back", kUpgradeRolledBack,
                failure + "; rolled back to " + state_.from_image + ", which is healthy");
}

int Upgrader::Finish(const std::string& result, int exit_code, const std::string& message) {
  (exit_code == kUpgradeOk ? LogInfo : LogError)(
      "upgrade finished",
      {{"result", result}, {"exit_code", std::to_string(exit_code)}, {"msg", message}});
  std::vector<std::string> plan = printed_plan_ ? Plan() : std::vector<std::string>{};
  if (format_ == OutputFormat::kJson) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    auto field = [&w](const char* key, const std::string& value) {
      w.Key(key);
      w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
    };
    w.StartObject();
    field("command", "upgrade");
    field("node", access_.node);
    field("manifest", ManifestPath());
    field("from", state_.from_image);
    field("to", target_image_);
    w.Key("dry_run");
    w.Bool(options_.dry_run);
    field("result", result);
    w.Key("exit_code");
    w.Int(exit_code);
    field("message", message);
    field("backup", state_.backup_path);
    field("state_file", state_file_);
    w.Key("was_leader");
    w.Bool(state_.was_leader);
    WriteChecksJson(w, "preflight", preflight_);
    WriteChecksJson(w, "steps", steps_);
    w.Key("plan");
    w.StartArray();
    for (const auto& line : plan) w.String(line.c_str());
    w.EndArray();
    w.EndObject();
    std::cout << buffer.GetString() << "\n";
  } else {
    std::cout << "kube-vip upgrade on " << access_.node << ": " << state_.from_image << " -> "
              << target_image_ << (options_.dry_run ? " (dry run)" : "") << "\n";
    if (!preflight_.empty()) {
      std::cout << "preflight:\n";
      PrintCheckTable(std::cout, preflight_);
    }
    if (!plan.empty()) {
      std::cout << "plan:\n";
      for (size_t i = 0; i < plan.size(); ++i)
        std::cout << "  " << i + 1 << ". " << plan[i] << "\n";
    }
    if (!steps_.empty()) {
      std::cout << "steps:\n";
      PrintCheckTable(std::cout, steps_);
    }
    std::cout << "result: " << result << " (exit " << exit_code << "): " << message << "\n";
  }
  return exit_code;
}

int Upgrader::Run() {
  if (!ParseOutputFormat(options_.cluster.output, format_)) {
    std::cerr << "--output: unknown format \"" << options_.cluster.output << "\" (table, json)\n";
    return kUpgradeUsage;
  }
  if (options_.runtime != "ctr" && options_.runtime != "crictl") {
    std::cerr << "--runtime: unknown runtime CLI \"" << options_.runtime << "\" (ctr, crictl)\n";
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
  access_ = OpenClusterAccess(options_.cluster);
  state_file_ = options_.state_dir + "/upgrade-state.json";
  if (!access_.manifest) return Finish("failed", kUpgradeBadInput, access_.manifest_error);
  const manifest::KubeVipManifest& m = *access_.manifest;

  std::optional<manifest::UpgradeState> recorded;
  if (access(state_file_.c_str(), F_OK) == 0) {
    std::string text;
    std::string error;
    if (ReadFileBounded(state_file_, text, kMaxManifestBytes, error))
      recorded = manifest::ParseUpgradeState(text, state_file_, error);
    if (!recorded) return Finish("refused", kUpgradeStateConflict, error);
  }
  if (!options_.to.empty())
    target_image_ = m.image_ref.WithVersion(options_.to, options_.image_digest).ToString();
  manifest::ResumeDecision decision = manifest::DecideResume(
      recorded, state_file_, ManifestPath(), m.image, target_image_, options_.rollback);

  using enum manifest::ResumeAction;
  if (decision.action != kStartFresh && recorded) {
    state_ = *recorded;
    target_image_ = state_.to_image;
    LogInfo("resuming", {{"decision", decision.reason}});
    steps_.push_back({"resume", decision.action != kRefuse, decision.reason});
  }
  if (options_.dry_run && decision.action != kStartFresh)
    return Finish("planned", decision.action == kRefuse ? kUpgradeStateConflict : kUpgradeOk,
                  "dry run: " + decision.reason);
  switch (decision.action) {
    case kRefuse:
      return Finish("refused", kUpgradeStateConflict, decision.reason);
    case kMarkRolledBack:
      state_.failure = "rollback requested before the manifest changed";
      SaveState(UpgradeStep::kRolledBack);
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

  state_ = manifest::UpgradeState{};
  state_.manifest_path = ManifestPath();
  state_.node = access_.node;
  state_.from_image = m.image;
  state_.to_image = target_image_;
  state_.backup_path =
      manifest::BackupPathFor(ManifestPath(), m.image_ref.tag, options_.backup_dir);
  state_.started_at = UnixNow();
  if (m.image == target_image_) return AlreadyAtTarget();

  bool ready = PreflightWaitingForHealth();
  printed_plan_ = options_.dry_run;
  if (!ready) return Finish("refused", preflight_exit_, "preflight failed; nothing was changed");
  if (options_.dry_run) return Finish("planned", kUpgradeOk, "dry run: nothing was changed");

  if (!Backup())
    return Finish("failed", kUpgradeBackupFailed, "the backup failed; nothing was changed");
  if (!SaveState(UpgradeStep::kBackedUp))
    return Finish("failed", kUpgradeBackupFailed, "cannot record state; nothing was changed");
  return ContinueFromPull(/*resumed=*/false);
}

}  // namespace

int Upgrade(const UpgradeOptions& options) {
  Upgrader upgrader(options);
  return upgrader.Run();
}

}  // namespace kvip
