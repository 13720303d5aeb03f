#include "ops/upgrade_decisions.h"

#include <algorithm>

#include "common/logging.h"
#include "common/metric_family.h"
#include "common/poll.h"
#include "kubevip/log_lines.h"
#include "ops/upgrade_plan.h"

namespace kvip::ops {
namespace {

// Container start times have one-second resolution.
constexpr double kStartSlack = 1.0;

std::string LastLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

double SecondsOf(std::chrono::milliseconds ms) { return std::chrono::duration<double>(ms).count(); }

}  // namespace

std::string WholeSeconds(double s) {
  return std::to_string(static_cast<long long>(s + 0.5)) + " s";
}

std::string JoinWords(const std::vector<std::string>& words, const char* separator) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

// ---- preflight ----

Check DecideBackupPreflight(const BackupFacts& f) {
  Check check{"backup", false, ""};
  if (!f.free_bytes) {
    check.detail = f.free_bytes.error();
  } else if (!f.dir_writable) {
    check.detail = f.backup_dir + ": not writable: " + f.dir_error;
  } else if (f.exists && (!f.existing || *f.existing != f.manifest_text)) {
    check.detail = f.backup_path + " exists and differs from " + f.manifest_path +
                   "; move it away or pass --backup-dir";
  } else if (!f.exists && *f.free_bytes < f.manifest_text.size() + 64 * 1024) {
    check.detail = f.backup_dir + " has " + std::to_string(*f.free_bytes) +
                   " bytes free; the backup needs " + std::to_string(f.manifest_text.size()) +
                   " plus room to write it safely";
  } else {
    check.ok = true;
    check.detail = f.backup_path +
                   (f.exists ? " already holds this manifest"
                             : " writable, " + std::to_string(*f.free_bytes / 1024) + " KiB free");
  }
  return check;
}

PreflightVerdict DecidePreflight(const PreflightFacts& f) {
  PreflightVerdict verdict;
  auto add = [&verdict](Check check, PreflightBlock block) {
    if (!check.ok && !verdict.blocked) verdict.blocked = block;
    verdict.items.push_back({std::move(check), block});
  };
  using enum PreflightBlock;
  add({"manifest", !f.manifest_tag.empty(),
       f.manifest_path + " runs " + f.manifest_image +
           (f.manifest_tag.empty() ? "; it has no tag to name the backup after" : "")},
      kBadInput);
  if (!f.api_available) add({"api", false, f.api_error}, kClusterUnhealthy);
  add(f.vip_healthz, kClusterUnhealthy);

  const LeaseLookup& lease = f.lease;
  if (!lease.ok) {
    add({"lease", false, lease.error}, kClusterUnhealthy);
  } else if (!lease.present || !lease.lease.FreshAt(f.now)) {
    add({"lease", false,
         lease.present
             ? f.lease_name + " held by \"" + lease.lease.holder + "\" is stale (renewed " +
                   WholeSeconds(f.now - lease.lease.renew_time) + " ago, duration " +
                   WholeSeconds(lease.lease.duration_seconds) + "); see `kvip-exporter recover`"
             : f.lease_name + " does not exist"},
        kClusterUnhealthy);
  } else {
    add({"lease", true, f.lease_name + " held by " + lease.lease.holder + ", fresh"},
        kClusterUnhealthy);
  }

  if (!f.pods) {
    add({"pods", false, f.pods.error()}, kClusterUnhealthy);
  } else {
    const std::vector<KubeVipPod>& pods = *f.pods;
    std::string summary;
    for (const auto& pod : pods)
      summary += (summary.empty() ? "" : ", ") + pod.node + "=" + pod.image +
                 (pod.running && pod.ready ? "" : " (not ready)");
    add({"pods", !pods.empty(), pods.empty() ? "no kube-vip mirror pods found" : summary},
        kClusterUnhealthy);
    if (lease.present) {
      LeaderGuard guard = CheckLeaderLast(f.node, lease.lease.holder, pods, f.target_image);
      verdict.this_node_leads = guard.this_node_leads;
      Check check{"leader-last", !guard.Refuses() || f.allow_leader, ""};
      if (!guard.this_node_leads) {
        check.detail = f.node + " is a follower (leader: " + lease.lease.holder + ")";
      } else if (!guard.Refuses()) {
        check.detail =
            f.node + " leads and every other node is on the target: last, as it should be";
      } else {
        check.detail =
            f.node + " holds the lease while " + JoinWords(guard.nodes_first, ", ") +
            " still run the old version: upgrade " + JoinWords(guard.nodes_first, ", ") + " first" +
            (f.allow_leader ? " (overridden by --allow-leader)" : " (or pass --allow-leader)");
      }
      add(check, kLeaderFirst);
      if (guard.this_node_leads) {
        std::vector<std::string> ready;
        for (const auto& pod : pods)
          if (pod.node != f.node && pod.running && pod.ready) ready.push_back(pod.node);
        add({"failover-target", !ready.empty(),
             ready.empty() ? "no other node's kube-vip is running and ready to take the VIP"
                           : "ready to take over: " + JoinWords(ready, ", ")},
            kClusterUnhealthy);
      }
    }
  }

  add(DecideBackupPreflight(f.backup), kBackup);
  add({"state-dir", f.state_dir_ok, f.state_dir_detail}, kBackup);
  add({"runtime", f.runtime.started && f.runtime.exit_code == 0,
       JoinWords(f.runtime_argv) + ": " +
           (f.runtime.exit_code == 0 ? "answers"
            : f.runtime.timed_out    ? "timed out"
                                     : LastLine(f.runtime.output))},
      kRuntime);
  if (!f.group_vars_path.empty()) {
    bool ok = f.group_vars_error.empty();
    add({"group-vars", ok,
         ok ? f.group_vars_path + ": kubevip_version can be set" : f.group_vars_error},
        kBadInput);
  }
  return verdict;
}

bool PreflightMayRecover(const PreflightVerdict& verdict) {
  return verdict.blocked == PreflightBlock::kClusterUnhealthy;
}

Check DecidePull(const std::vector<std::string>& argv, const CommandResult& r,
                 std::chrono::seconds timeout) {
  bool ok = r.started && !r.timed_out && r.exit_code == 0;
  std::string detail =
      JoinWords(argv) + ": " +
      (ok            ? "pulled"
       : r.timed_out ? "timed out after " + WholeSeconds(static_cast<double>(timeout.count()))
                     : "exit " + std::to_string(r.exit_code) + ": " + LastLine(r.output));
  return {"pull", ok, std::move(detail)};
}

// ---- the waits ----

std::string Hopeless(const KubeVipPod& pod, double not_before) {
  const std::string& r = pod.waiting_reason;
  if (r == "ErrImagePull" || r == "ImagePullBackOff" || r == "InvalidImageName" ||
      r == "ErrImageNeverPull" || r == "CreateContainerConfigError")
    return r;
  bool crashed_since_change = not_before > 0 && pod.last_run_started_at + kStartSlack >= not_before;
  if (r == "CrashLoopBackOff" && crashed_since_change)
    return "CrashLoopBackOff, exit code " + std::to_string(pod.last_exit_code);
  return "";
}

bool WaitVerdict::AllOk() const {
  return std::all_of(conditions.begin(), conditions.end(), [](const Check& c) { return c.ok; });
}

WaitVerdict DecideWait(const WaitQuestion& q, const WaitFacts& f) {
  WaitVerdict verdict;
  Check pod_check{"pod", false, f.pods ? "" : f.pods.error()};
  if (f.pods) {
    pod_check.detail = "no mirror pod for " + q.node + " yet";
    for (const auto& pod : *f.pods) {
      if (pod.node != q.node) continue;
      if (pod.image != q.image) {
        pod_check.detail = pod.name + " still describes " + pod.image;
        break;
      }
      if (std::string why = Hopeless(pod, q.not_before); !why.empty())
        verdict.hopeless = pod.name + " cannot run " + q.image + ": " + why;
      bool fresh = pod.started_at + kStartSlack >= q.not_before;
      pod_check.ok = pod.running && pod.ready && fresh;
      pod_check.detail = pod.name + " " + q.image + " " + pod.RunningReadyText() +
                         (pod.waiting_reason.empty() ? "" : " (" + pod.waiting_reason + ")") +
                         (pod.running && !fresh ? ", but started before the change" : "");
      verdict.pod_identity = pod.uid + "/" + std::to_string(pod.restart_count);
    }
  }
  verdict.conditions.push_back(pod_check);

  const MetricsProbe& metrics = f.metrics;
  bool metrics_fresh =
      metrics.process_start_time == 0 || metrics.process_start_time + kStartSlack >= q.not_before;
  verdict.conditions.push_back(
      {"metrics", metrics.up && metrics_fresh,
       !metrics.up     ? metrics.error
       : metrics_fresh ? q.metrics_url + " answers"
                       : q.metrics_url + " answers from a process started before the change"});

  verdict.conditions.push_back(f.vip_healthz);

  const LeaseLookup& lease = f.lease;
  Check lease_check{"lease", false, lease.error};
  if (lease.ok && !lease.present) lease_check.detail = "the lease does not exist";
  if (lease.present) {
    bool fresh = lease.lease.FreshAt(f.now);
    bool handed_over = !q.expect_other_leader || lease.lease.holder != q.node;
    lease_check.ok = fresh && handed_over;
    lease_check.detail = "held by " + lease.lease.holder + (fresh ? ", fresh" : ", stale") +
                         (handed_over ? "" : "; still this node, waiting for another to take over");
    // The VIP must be here exactly when this node holds the lease (two holders: split brain).
    bool holder_here = lease.lease.holder == q.node;
    verdict.conditions.push_back(lease_check);
    verdict.conditions.push_back({"vip-placement", holder_here == f.vip_here,
                                  std::string("VIP ") + (f.vip_here ? "is" : "is not") +
                                      " on this node, which " +
                                      (holder_here ? "holds" : "does not hold") + " the lease"});
  } else {
    verdict.conditions.push_back(lease_check);
  }
  return verdict;
}

WaitFacts GatherWaitFacts(ClusterProbe& probe, const WaitQuestion& q) {
  WaitFacts facts;
  facts.pods = probe.Pods();
  facts.metrics = probe.KubeVipMetrics(q.metrics_url);
  facts.vip_healthz = probe.VipHealthz();
  facts.lease = probe.Lease();
  facts.now = probe.Now();
  if (facts.lease.present) facts.vip_here = probe.VipIsLocal();
  return facts;
}

SettleTracker::State SettleTracker::Observe(bool all_ok, const std::string& identity,
                                            std::chrono::steady_clock::time_point now) {
  // A restart during the settle period starts it again.
  if (!all_ok || (settling_ && identity != identity_)) {
    settling_ = started_now_ = false;
    return State::kUnhealthy;
  }
  started_now_ = !settling_;
  if (!settling_) {
    settling_ = true;
    since_ = now;
    identity_ = identity;
  }
  return now - since_ >= settle_ ? State::kSettled : State::kSettling;
}

std::string WaitTimeoutFailure(const std::vector<Check>& last, std::chrono::milliseconds timeout,
                               std::optional<std::chrono::milliseconds> settling_for,
                               std::chrono::milliseconds settle) {
  std::string failure = "not healthy within " + WholeSeconds(SecondsOf(timeout)) + ":";
  for (const Check& c : last)
    if (!c.ok) failure += " " + c.name + ": " + c.detail + ";";
  if (failure.back() == ';') {
    failure.pop_back();
  } else if (settling_for) {
    failure += " healthy for the last " + WholeSeconds(SecondsOf(*settling_for)) +
               " only, short of the " + WholeSeconds(SecondsOf(settle)) + " settle";
  }
  return failure;
}

ConflictVerdict DecideConflicts(const Result<std::string>& log, const std::string& pod,
                                bool judge) {
  int conflicts = log ? kubevip::CountLockConflictLines(*log) : -1;
  std::string text = log ? std::to_string(conflicts) + " lock-conflict lines in " + pod + "'s log"
                         : "log of " + pod + " not readable: " + log.error();
  return {!judge || conflicts == 0, std::move(text)};
}

WaitOutcome WaitForKubeVip(ClusterProbe& probe, const WaitQuestion& q, const WaitOptions& o) {
  using Clock = std::chrono::steady_clock;
  SettleTracker settle(o.settle);
  WaitVerdict last;
  LogInfo(
      "waiting",
      {{"phase", o.phase}, {"image", q.image}, {"deadline", WholeSeconds(SecondsOf(o.timeout))}});
  std::string hopeless;
  std::optional<bool> settled = PollUntil(Clock::now() + o.timeout, o.poll_interval, [&] {
    last = DecideWait(q, GatherWaitFacts(probe, q));
    if (!last.hopeless.empty()) {
      hopeless = last.hopeless;
      return std::optional<bool>(false);
    }
    SettleTracker::State state = settle.Observe(last.AllOk(), last.pod_identity, Clock::now());
    if (settle.StartedNow())
      LogInfo("healthy, settling",
              {{"phase", o.phase}, {"settle", WholeSeconds(SecondsOf(o.settle))}});
    if (state == SettleTracker::State::kSettled) return std::optional<bool>(true);
    return std::optional<bool>();
  });
  if (!hopeless.empty()) return {false, hopeless};
  if (!settled)
    return {false, WaitTimeoutFailure(last.conditions, o.timeout, settle.SettlingFor(Clock::now()),
                                      o.settle)};
  std::string detail;
  for (const Check& c : last.conditions) detail += (detail.empty() ? "" : "; ") + c.detail;
  ConflictVerdict conflicts =
      DecideConflicts(probe.PodLog(o.pod_name), o.pod_name, o.judge_conflicts);
  if (!conflicts.ok) return {false, conflicts.text};
  return {true, detail + "; " + conflicts.text};
}

Result<std::vector<KubeVipPod>> LiveClusterProbe::Pods() { return FetchKubeVipPods(access_); }
LeaseLookup LiveClusterProbe::Lease() { return FetchLease(access_); }
Check LiveClusterProbe::VipHealthz() { return ProbeVipHealthz(access_); }
MetricsProbe LiveClusterProbe::KubeVipMetrics(const std::string& url) {
  return ProbeKubeVipMetrics(url, access_.options.request_timeout);
}
Result<std::string> LiveClusterProbe::PodLog(const std::string& pod) {
  return FetchPodLog(access_, pod);
}
bool LiveClusterProbe::VipIsLocal() { return ops::VipIsLocal(access_.vip); }
double LiveClusterProbe::Now() { return UnixNow(); }

}  // namespace kvip::ops
