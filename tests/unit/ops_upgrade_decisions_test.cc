// lib/ops: the upgrade's decisions as pure functions (preflight, the waits, settle, log
// verdict, pull) and the wait loop behind a fake ClusterProbe; recover's restore proof.
// Every branch of the upgrade's decision table runs here in milliseconds, no cluster.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "ops/recover_plan.h"
#include "ops/upgrade_decisions.h"

namespace kvip::ops {
namespace {

using ::testing::HasSubstr;

constexpr double kNow = 1'800'000'000;

KubeVipPod Pod(std::string node, std::string image, bool ready = true) {
  KubeVipPod pod;
  pod.node = std::move(node);
  pod.name = "kube-vip-" + pod.node;
  pod.uid = "uid-" + pod.node;
  pod.image = std::move(image);
  pod.running = ready;
  pod.ready = ready;
  pod.started_at = kNow - 100;
  return pod;
}

LeaseLookup Lease(std::string holder, double renewed_ago = 1, int duration = 5) {
  LeaseLookup lookup;
  lookup.ok = lookup.present = true;
  lookup.lease.holder = std::move(holder);
  lookup.lease.renew_time = kNow - renewed_ago;
  lookup.lease.duration_seconds = duration;
  return lookup;
}

LeaseLookup Failed(std::string error) {
  LeaseLookup lookup;
  lookup.error = std::move(error);
  return lookup;
}

LeaseLookup Absent() {
  LeaseLookup lookup;
  lookup.ok = true;
  return lookup;
}

MetricsProbe Metrics(bool up, double start_time, std::string error = "") {
  MetricsProbe probe;
  probe.up = up;
  probe.process_start_time = start_time;
  probe.error = std::move(error);
  return probe;
}

CommandResult Ran(int exit_code) {
  CommandResult result;
  result.started = true;
  result.exit_code = exit_code;
  return result;
}

const std::string kOld = "ghcr.io/kube-vip/kube-vip:v1.0.3";
const std::string kNew = "ghcr.io/kube-vip/kube-vip:v1.0.4";

// A healthy cluster in which cp2 (a follower) is about to be upgraded.
PreflightFacts HealthyFacts() {
  PreflightFacts f;
  f.node = "cp2";
  f.manifest_path = "/etc/kubernetes/manifests/kube-vip.yaml";
  f.manifest_image = kOld;
  f.manifest_tag = "v1.0.3";
  f.target_image = kNew;
  f.vip_healthz = {"vip-healthz", true, "answered ok"};
  f.lease_name = "kube-system/plndr-cp-lock";
  f.lease = Lease("cp1");
  f.now = kNow;
  f.pods = std::vector<KubeVipPod>{Pod("cp1", kOld), Pod("cp2", kOld), Pod("cp3", kNew)};
  f.backup.backup_path = "/etc/kubernetes/kube-vip.yaml.v1.0.3.bak";
  f.backup.backup_dir = "/etc/kubernetes";
  f.backup.manifest_path = f.manifest_path;
  f.backup.manifest_text = "apiVersion: v1\n";
  f.backup.free_bytes = 1ULL << 30;
  f.backup.dir_writable = true;
  f.state_dir_ok = true;
  f.state_dir_detail = "/var/lib/kvip-exporter/upgrade-state.json writable";
  f.runtime_argv = {"ctr", "version"};
  f.runtime.started = true;
  f.runtime.exit_code = 0;
  return f;
}

const PreflightItem* Item(const PreflightVerdict& v, const std::string& name) {
  for (const auto& item : v.items)
    if (item.check.name == name) return &item;
  return nullptr;
}

TEST(Preflight, HealthyFollowerPassesEveryCheckInOrder) {
  PreflightVerdict v = DecidePreflight(HealthyFacts());
  EXPECT_TRUE(v.ok());
  std::vector<std::string> names;
  for (const auto& item : v.items) names.push_back(item.check.name);
  EXPECT_THAT(names, ::testing::ElementsAre("manifest", "vip-healthz", "lease", "pods",
                                            "leader-last", "backup", "state-dir", "runtime"));
  EXPECT_EQ(v.this_node_leads, false);
  EXPECT_EQ(Item(v, "leader-last")->check.detail, "cp2 is a follower (leader: cp1)");
  EXPECT_EQ(Item(v, "lease")->check.detail, "kube-system/plndr-cp-lock held by cp1, fresh");
  EXPECT_FALSE(PreflightMayRecover(v));
}

TEST(Preflight, UntaggedManifestIsBadInput) {
  PreflightFacts f = HealthyFacts();
  f.manifest_tag.clear();
  PreflightVerdict v = DecidePreflight(f);
  EXPECT_EQ(v.blocked, PreflightBlock::kBadInput);
  EXPECT_THAT(Item(v, "manifest")->check.detail, HasSubstr("no tag to name the backup after"));
  EXPECT_FALSE(PreflightMayRecover(v));
}

TEST(Preflight, NoApiIsAnUnhealthyClusterThatMayRecover) {
  PreflightFacts f = HealthyFacts();
  f.api_available = false;
  f.api_error = "no kubeconfig";
  PreflightVerdict v = DecidePreflight(f);
  ASSERT_NE(Item(v, "api"), nullptr);
  EXPECT_EQ(v.blocked, PreflightBlock::kClusterUnhealthy);
  EXPECT_TRUE(PreflightMayRecover(v));
}

TEST(Preflight, VipNotAnsweringBlocks) {
  PreflightFacts f = HealthyFacts();
  f.vip_healthz = {"vip-healthz", false, "timed out"};
  EXPECT_EQ(DecidePreflight(f).blocked, PreflightBlock::kClusterUnhealthy);
}

TEST(Preflight, LeaseUnreadableAbsentOrStale) {
  PreflightFacts f = HealthyFacts();
  f.lease = Failed("connection refused");
  EXPECT_EQ(Item(DecidePreflight(f), "lease")->check.detail, "connection refused");

  f.lease = Absent();
  PreflightVerdict absent = DecidePreflight(f);
  EXPECT_EQ(Item(absent, "lease")->check.detail, "kube-system/plndr-cp-lock does not exist");
  EXPECT_EQ(Item(absent, "leader-last"), nullptr);  // no holder: no guard to run
  EXPECT_FALSE(absent.this_node_leads.has_value());

  f.lease = Lease("cp1", /*renewed_ago=*/12, /*duration=*/5);
  PreflightVerdict stale = DecidePreflight(f);
  EXPECT_FALSE(Item(stale, "lease")->check.ok);
  EXPECT_EQ(Item(stale, "lease")->check.detail,
            "kube-system/plndr-cp-lock held by \"cp1\" is stale (renewed 12 s ago, duration 5 s); "
            "see `kvip-exporter recover`");
  EXPECT_EQ(stale.blocked, PreflightBlock::kClusterUnhealthy);
}

TEST(Preflight, LeaseHoldsAtRenewPlusDurationAsTheDaemonSays) {
  PreflightFacts f = HealthyFacts();
  f.lease = Lease("cp1", /*renewed_ago=*/5, /*duration=*/5);
  EXPECT_TRUE(Item(DecidePreflight(f), "lease")->check.ok);
  f.lease = Lease("cp1", /*renewed_ago=*/5.001, /*duration=*/5);
  EXPECT_FALSE(Item(DecidePreflight(f), "lease")->check.ok);
}

TEST(Preflight, PodsUnreadableOrNone) {
  PreflightFacts f = HealthyFacts();
  f.pods = Error{"pods: 403 Forbidden"};
  PreflightVerdict v = DecidePreflight(f);
  EXPECT_EQ(Item(v, "pods")->check.detail, "pods: 403 Forbidden");
  EXPECT_EQ(Item(v, "leader-last"), nullptr);

  f.pods = std::vector<KubeVipPod>{};
  v = DecidePreflight(f);
  EXPECT_EQ(Item(v, "pods")->check.detail, "no kube-vip mirror pods found");
  EXPECT_EQ(v.blocked, PreflightBlock::kClusterUnhealthy);
}

TEST(Preflight, PodsSummaryMarksNotReady) {
  PreflightFacts f = HealthyFacts();
  f.pods = std::vector<KubeVipPod>{Pod("cp1", kOld), Pod("cp2", kOld, /*ready=*/false)};
  EXPECT_EQ(Item(DecidePreflight(f), "pods")->check.detail,
            "cp1=" + kOld + ", cp2=" + kOld + " (not ready)");
}

TEST(Preflight, LeaderFirstIsRefusedNamingTheNodesToDoFirst) {
  PreflightFacts f = HealthyFacts();
  f.lease = Lease("cp2");
  PreflightVerdict v = DecidePreflight(f);
  EXPECT_EQ(v.blocked, PreflightBlock::kLeaderFirst);
  EXPECT_EQ(v.this_node_leads, true);
  EXPECT_EQ(Item(v, "leader-last")->check.detail,
            "cp2 holds the lease while cp1 still run the old version: upgrade cp1 first (or pass "
            "--allow-leader)");
  EXPECT_FALSE(PreflightMayRecover(v));
}

TEST(Preflight, AllowLeaderOverridesTheGuard) {
  PreflightFacts f = HealthyFacts();
  f.lease = Lease("cp2");
  f.allow_leader = true;
  PreflightVerdict v = DecidePreflight(f);
  EXPECT_TRUE(v.ok());
  EXPECT_THAT(Item(v, "leader-last")->check.detail, HasSubstr("(overridden by --allow-leader)"));
}

TEST(Preflight, LeaderLastNeedsAReadyFailoverTarget) {
  PreflightFacts f = HealthyFacts();
  f.lease = Lease("cp2");
  f.pods = std::vector<KubeVipPod>{Pod("cp1", kNew), Pod("cp2", kOld), Pod("cp3", kNew)};
  PreflightVerdict v = DecidePreflight(f);
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(Item(v, "leader-last")->check.detail,
            "cp2 leads and every other node is on the target: last, as it should be");
  EXPECT_EQ(Item(v, "failover-target")->check.detail, "ready to take over: cp1, cp3");

  f.pods = std::vector<KubeVipPod>{Pod("cp1", kNew, false), Pod("cp2", kOld)};
  v = DecidePreflight(f);
  EXPECT_EQ(v.blocked, PreflightBlock::kClusterUnhealthy);
  EXPECT_EQ(Item(v, "failover-target")->check.detail,
            "no other node's kube-vip is running and ready to take the VIP");
  EXPECT_TRUE(PreflightMayRecover(v));
}

TEST(BackupPreflight, EveryBranch) {
  BackupFacts b = HealthyFacts().backup;
  Check ok = DecideBackupPreflight(b);
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.detail, b.backup_path + " writable, 1048576 KiB free");

  BackupFacts no_stat = b;
  no_stat.free_bytes = Error{"/etc/kubernetes: statvfs: No such file or directory"};
  EXPECT_EQ(DecideBackupPreflight(no_stat).detail,
            "/etc/kubernetes: statvfs: No such file or directory");

  BackupFacts read_only = b;
  read_only.dir_writable = false;
  read_only.dir_error = "Read-only file system";
  EXPECT_EQ(DecideBackupPreflight(read_only).detail,
            "/etc/kubernetes: not writable: Read-only file system");

  BackupFacts same = b;
  same.exists = true;
  same.existing = b.manifest_text;
  EXPECT_TRUE(DecideBackupPreflight(same).ok);
  EXPECT_EQ(DecideBackupPreflight(same).detail, b.backup_path + " already holds this manifest");

  BackupFacts different = same;
  different.existing = "something else";
  EXPECT_THAT(DecideBackupPreflight(different).detail, HasSubstr("exists and differs from"));
  BackupFacts unreadable = same;
  unreadable.existing.reset();
  EXPECT_FALSE(DecideBackupPreflight(unreadable).ok);

  BackupFacts full = b;
  full.free_bytes = 1000ULL;
  EXPECT_EQ(
      DecideBackupPreflight(full).detail,
      "/etc/kubernetes has 1000 bytes free; the backup needs 15 plus room to write it safely");

  PreflightFacts f = HealthyFacts();
  f.backup = full;
  EXPECT_EQ(DecidePreflight(f).blocked, PreflightBlock::kBackup);
}

TEST(Preflight, StateDirRuntimeAndGroupVars) {
  PreflightFacts f = HealthyFacts();
  f.state_dir_ok = false;
  EXPECT_EQ(DecidePreflight(f).blocked, PreflightBlock::kBackup);

  f = HealthyFacts();
  f.runtime.exit_code = 1;
  f.runtime.output = "ctr: failed to dial\nconnection refused\n";
  PreflightVerdict v = DecidePreflight(f);
  EXPECT_EQ(v.blocked, PreflightBlock::kRuntime);
  EXPECT_EQ(Item(v, "runtime")->check.detail, "ctr version: connection refused");
  f.runtime.timed_out = true;
  EXPECT_EQ(Item(DecidePreflight(f), "runtime")->check.detail, "ctr version: timed out");
  f.runtime = CommandResult{};  // not started: exit_code -1
  EXPECT_FALSE(Item(DecidePreflight(f), "runtime")->check.ok);

  f = HealthyFacts();
  f.group_vars_path = "group_vars/all.yml";
  EXPECT_EQ(Item(DecidePreflight(f), "group-vars")->check.detail,
            "group_vars/all.yml: kubevip_version can be set");
  f.group_vars_error = "group_vars/all.yml: no kubevip_version";
  EXPECT_EQ(DecidePreflight(f).blocked, PreflightBlock::kBadInput);
}

TEST(Preflight, TheFirstFailureDecidesTheBlock) {
  PreflightFacts f = HealthyFacts();
  f.vip_healthz.ok = false;  // unhealthy...
  f.runtime.exit_code = 1;   // ...then the runtime
  EXPECT_EQ(DecidePreflight(f).blocked, PreflightBlock::kClusterUnhealthy);
}

TEST(Hopeless, ImageAndConfigErrorsAtOnce) {
  for (const char* reason : {"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                             "ErrImageNeverPull", "CreateContainerConfigError"}) {
    KubeVipPod pod = Pod("cp2", kNew, false);
    pod.waiting_reason = reason;
    EXPECT_EQ(Hopeless(pod, 0), reason);
  }
  KubeVipPod pod = Pod("cp2", kNew, false);
  pod.waiting_reason = "ContainerCreating";
  EXPECT_EQ(Hopeless(pod, kNow), "");
}

TEST(Hopeless, CrashLoopCountsOnlyForARunAfterTheChange) {
  KubeVipPod pod = Pod("cp2", kNew, false);
  pod.waiting_reason = "CrashLoopBackOff";
  pod.last_exit_code = 2;
  pod.last_run_started_at = kNow - 0.5;  // within the one-second slack
  EXPECT_EQ(Hopeless(pod, kNow), "CrashLoopBackOff, exit code 2");
  pod.last_run_started_at = kNow - 30;  // the old container's history
  EXPECT_EQ(Hopeless(pod, kNow), "");
  EXPECT_EQ(Hopeless(pod, 0), "");  // no change to compare with
}

WaitQuestion Question(double not_before = kNow - 10, bool expect_other_leader = false) {
  WaitQuestion q;
  q.node = "cp2";
  q.image = kNew;
  q.not_before = not_before;
  q.expect_other_leader = expect_other_leader;
  q.metrics_url = "http://127.0.0.1:2112/metrics";
  return q;
}

WaitFacts GoodWaitFacts() {
  WaitFacts f;
  f.pods = std::vector<KubeVipPod>{Pod("cp1", kNew), Pod("cp2", kNew)};
  f.metrics.up = true;
  f.metrics.process_start_time = kNow - 5;
  f.vip_healthz = {"vip-healthz", true, "ok"};
  f.lease = Lease("cp1");
  f.vip_here = false;
  f.now = kNow;
  (*f.pods)[1].started_at = kNow - 5;
  return f;
}

TEST(Wait, AllConditionsHold) {
  WaitVerdict v = DecideWait(Question(), GoodWaitFacts());
  EXPECT_TRUE(v.AllOk());
  EXPECT_EQ(v.hopeless, "");
  EXPECT_EQ(v.pod_identity, "uid-cp2/0");
  ASSERT_EQ(v.conditions.size(), 5u);
  EXPECT_EQ(v.conditions[0].detail, "kube-vip-cp2 " + kNew + " running, ready");
  EXPECT_EQ(v.conditions[1].detail, "http://127.0.0.1:2112/metrics answers");
  EXPECT_EQ(v.conditions[3].detail, "held by cp1, fresh");
  EXPECT_EQ(v.conditions[4].detail, "VIP is not on this node, which does not hold the lease");
}

TEST(Wait, PodStates) {
  WaitFacts f = GoodWaitFacts();
  f.pods = Error{"list pods: timed out"};
  EXPECT_EQ(DecideWait(Question(), f).conditions[0].detail, "list pods: timed out");

  f.pods = std::vector<KubeVipPod>{Pod("cp1", kNew)};
  EXPECT_EQ(DecideWait(Question(), f).conditions[0].detail, "no mirror pod for cp2 yet");

  f.pods = std::vector<KubeVipPod>{Pod("cp2", kOld)};
  EXPECT_EQ(DecideWait(Question(), f).conditions[0].detail, "kube-vip-cp2 still describes " + kOld);

  f.pods = std::vector<KubeVipPod>{Pod("cp2", kNew)};  // started 100 s ago, change 10 s ago
  WaitVerdict old_run = DecideWait(Question(), f);
  EXPECT_FALSE(old_run.conditions[0].ok);
  EXPECT_THAT(old_run.conditions[0].detail, HasSubstr("but started before the change"));

  KubeVipPod crashing = Pod("cp2", kNew, false);
  crashing.waiting_reason = "ErrImagePull";
  f.pods = std::vector<KubeVipPod>{crashing};
  WaitVerdict hopeless = DecideWait(Question(), f);
  EXPECT_EQ(hopeless.hopeless, "kube-vip-cp2 cannot run " + kNew + ": ErrImagePull");
  EXPECT_THAT(hopeless.conditions[0].detail, HasSubstr("not running, not ready (ErrImagePull)"));
}

TEST(Wait, MetricsDownOrFromTheOldProcess) {
  WaitFacts f = GoodWaitFacts();
  f.metrics = Metrics(false, 0, "connection refused");
  EXPECT_EQ(DecideWait(Question(), f).conditions[1].detail, "connection refused");
  f.metrics = Metrics(true, kNow - 60);
  EXPECT_EQ(DecideWait(Question(), f).conditions[1].detail,
            "http://127.0.0.1:2112/metrics answers from a process started before the change");
  f.metrics = Metrics(true, 0);  // no start time: trusted
  EXPECT_TRUE(DecideWait(Question(), f).conditions[1].ok);
}

TEST(Wait, LeaseAndVipPlacement) {
  WaitFacts f = GoodWaitFacts();
  f.lease = Failed("apiserver down");
  WaitVerdict v = DecideWait(Question(), f);
  ASSERT_EQ(v.conditions.size(), 4u);  // no placement without a lease
  EXPECT_EQ(v.conditions[3].detail, "apiserver down");

  f.lease = Absent();
  EXPECT_EQ(DecideWait(Question(), f).conditions[3].detail, "the lease does not exist");

  f.lease = Lease("cp1", 30);
  EXPECT_EQ(DecideWait(Question(), f).conditions[3].detail, "held by cp1, stale");

  f = GoodWaitFacts();
  f.lease = Lease("cp2");
  f.vip_here = true;
  v = DecideWait(Question(kNow - 10, /*expect_other_leader=*/true), f);
  EXPECT_FALSE(v.conditions[3].ok);
  EXPECT_EQ(v.conditions[3].detail,
            "held by cp2, fresh; still this node, waiting for another to take over");
  EXPECT_TRUE(v.conditions[4].ok);

  f.vip_here = false;  // holds the lease but not the VIP
  EXPECT_FALSE(DecideWait(Question(), f).conditions[4].ok);
  f = GoodWaitFacts();
  f.vip_here = true;  // the VIP without the lease: two holders
  EXPECT_EQ(DecideWait(Question(), f).conditions[4].detail,
            "VIP is on this node, which does not hold the lease");
}

TEST(Settle, HoldsForThePeriodAndRestartsOnARestart) {
  using std::chrono::seconds;
  SettleTracker settle(std::chrono::milliseconds(10000));
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(100);
  EXPECT_EQ(settle.Observe(false, "a/0", t0), SettleTracker::State::kUnhealthy);
  EXPECT_FALSE(settle.StartedNow());
  EXPECT_EQ(settle.Observe(true, "a/0", t0), SettleTracker::State::kSettling);
  EXPECT_TRUE(settle.StartedNow());
  EXPECT_EQ(settle.Observe(true, "a/0", t0 + seconds(5)), SettleTracker::State::kSettling);
  EXPECT_FALSE(settle.StartedNow());
  // A restart (new identity) ends the period; the next healthy look starts it again.
  EXPECT_EQ(settle.Observe(true, "a/1", t0 + seconds(6)), SettleTracker::State::kUnhealthy);
  EXPECT_EQ(settle.Observe(true, "a/1", t0 + seconds(7)), SettleTracker::State::kSettling);
  EXPECT_EQ(settle.Observe(true, "a/1", t0 + seconds(16)), SettleTracker::State::kSettling);
  EXPECT_EQ(settle.Observe(true, "a/1", t0 + seconds(17)), SettleTracker::State::kSettled);

  SettleTracker immediate(std::chrono::milliseconds(0));
  EXPECT_EQ(immediate.Observe(true, "x", t0), SettleTracker::State::kSettled);
  EXPECT_TRUE(immediate.StartedNow());
}

TEST(Wait, TimeoutFailureListsWhatFailed) {
  std::vector<Check> last{{"pod", true, "fine"}, {"lease", false, "stale"}, {"vip", false, "x"}};
  EXPECT_EQ(WaitTimeoutFailure(last, std::chrono::milliseconds(120000)),
            "not healthy within 120 s: lease: stale; vip: x");
  EXPECT_EQ(WaitTimeoutFailure({}, std::chrono::milliseconds(1500)), "not healthy within 2 s:");
}

TEST(Wait, TimeoutWhileSettlingSaysSo) {
  std::vector<Check> all_ok{{"pod", true, "fine"}, {"lease", true, "fresh"}};
  EXPECT_EQ(WaitTimeoutFailure(all_ok, std::chrono::milliseconds(40000),
                               std::chrono::milliseconds(6200), std::chrono::milliseconds(10000)),
            "not healthy within 40 s: healthy for the last 6 s only, short of the 10 s settle");
  // A failing condition at the end is what is reported, settling or not.
  std::vector<Check> one_failing{{"pod", true, "fine"}, {"lease", false, "stale"}};
  EXPECT_EQ(WaitTimeoutFailure(one_failing, std::chrono::milliseconds(40000),
                               std::chrono::milliseconds(0), std::chrono::milliseconds(10000)),
            "not healthy within 40 s: lease: stale");

  auto t0 = std::chrono::steady_clock::time_point{};
  SettleTracker settle(std::chrono::seconds(10));
  EXPECT_FALSE(settle.SettlingFor(t0).has_value());
  settle.Observe(true, "a/1", t0);
  EXPECT_EQ(settle.SettlingFor(t0 + std::chrono::seconds(4)), std::chrono::milliseconds(4000));
  settle.Observe(false, "a/1", t0 + std::chrono::seconds(5));
  EXPECT_FALSE(settle.SettlingFor(t0 + std::chrono::seconds(6)).has_value());
}

TEST(Conflicts, JudgedOnlyWhenAsked) {
  Result<std::string> clean = std::string("I1201 ok\n");
  Result<std::string> spam = std::string(
      "E1201 Failed to update lock optimistically\nE1201 Failed to update lease "
      "optimistically\n");
  Result<std::string> unreadable = Error{"log: 404"};
  EXPECT_TRUE(DecideConflicts(clean, "kube-vip-cp2", true).ok);
  EXPECT_EQ(DecideConflicts(clean, "kube-vip-cp2", true).text,
            "0 lock-conflict lines in kube-vip-cp2's log");
  EXPECT_FALSE(DecideConflicts(spam, "kube-vip-cp2", true).ok);
  EXPECT_TRUE(DecideConflicts(spam, "kube-vip-cp2", false).ok);
  EXPECT_FALSE(DecideConflicts(unreadable, "kube-vip-cp2", true).ok);
  EXPECT_EQ(DecideConflicts(unreadable, "kube-vip-cp2", false).text,
            "log of kube-vip-cp2 not readable: log: 404");
}

TEST(Pull, Outcomes) {
  std::vector<std::string> argv{"ctr", "images", "pull", "x"};
  CommandResult ok = Ran(0);
  EXPECT_EQ(DecidePull(argv, ok, std::chrono::seconds(300)).detail, "ctr images pull x: pulled");
  CommandResult slow = Ran(137);
  slow.timed_out = true;
  EXPECT_EQ(DecidePull(argv, slow, std::chrono::seconds(300)).detail,
            "ctr images pull x: timed out after 300 s");
  CommandResult failed = Ran(1);
  failed.output = "a\nnot found\n";
  EXPECT_EQ(DecidePull(argv, failed, std::chrono::seconds(300)).detail,
            "ctr images pull x: exit 1: not found");
  EXPECT_FALSE(DecidePull(argv, CommandResult{}, std::chrono::seconds(1)).ok);
}

// A cluster that answers from a script: each look at it takes the next facts.
class FakeProbe final : public ClusterProbe {
 public:
  std::deque<WaitFacts> script;
  Result<std::string> log = std::string();
  WaitFacts current;
  int looks = 0;

  void Next() {
    if (!script.empty()) {
      current = script.front();
      script.pop_front();
    }
    ++looks;
  }
  Result<std::vector<KubeVipPod>> Pods() override {
    Next();
    return current.pods;
  }
  LeaseLookup Lease() override { return current.lease; }
  Check VipHealthz() override { return current.vip_healthz; }
  MetricsProbe KubeVipMetrics(const std::string&) override { return current.metrics; }
  Result<std::string> PodLog(const std::string&) override { return log; }
  bool VipIsLocal() override { return current.vip_here; }
  double Now() override { return current.now; }
};

WaitOptions FastWait(std::chrono::milliseconds timeout, std::chrono::milliseconds settle) {
  WaitOptions o;
  o.timeout = timeout;
  o.settle = settle;
  o.poll_interval = std::chrono::milliseconds(1);
  o.pod_name = "kube-vip-cp2";
  return o;
}

TEST(WaitLoop, SettlesThenJudgesTheLog) {
  FakeProbe probe;
  WaitFacts down = GoodWaitFacts();
  down.vip_healthz.ok = false;
  probe.script = {down, GoodWaitFacts()};
  WaitOutcome outcome = WaitForKubeVip(probe, Question(), FastWait(std::chrono::seconds(10), {}));
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(probe.looks, 2);
  EXPECT_THAT(outcome.detail, HasSubstr("; 0 lock-conflict lines in kube-vip-cp2's log"));

  probe.script = {GoodWaitFacts()};
  probe.log = std::string("Failed to update lease optimistically\n");
  outcome = WaitForKubeVip(probe, Question(), FastWait(std::chrono::seconds(10), {}));
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.detail, "1 lock-conflict lines in kube-vip-cp2's log");
}

TEST(WaitLoop, HopelessStopsAtOnce) {
  FakeProbe probe;
  WaitFacts crashing = GoodWaitFacts();
  KubeVipPod pod = Pod("cp2", kNew, false);
  pod.waiting_reason = "ImagePullBackOff";
  crashing.pods = std::vector<KubeVipPod>{pod};
  probe.script = {crashing};
  WaitOutcome outcome = WaitForKubeVip(probe, Question(), FastWait(std::chrono::seconds(10), {}));
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(probe.looks, 1);
  EXPECT_EQ(outcome.detail, "kube-vip-cp2 cannot run " + kNew + ": ImagePullBackOff");
}

TEST(WaitLoop, TimesOutNamingTheLastFailures) {
  FakeProbe probe;
  WaitFacts stale = GoodWaitFacts();
  stale.lease = Lease("cp1", 60);
  probe.script = {stale};
  WaitOutcome outcome =
      WaitForKubeVip(probe, Question(), FastWait(std::chrono::milliseconds(20), {}));
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.detail, "not healthy within 0 s: lease: held by cp1, stale");
  EXPECT_GE(probe.looks, 2);
}

TEST(WaitLoop, NeverSettlesWhileThePodKeepsRestarting) {
  FakeProbe probe;
  for (int i = 0; i < 1000; ++i) {
    WaitFacts f = GoodWaitFacts();
    (*f.pods)[1].restart_count = i;
    probe.script.push_back(f);
  }
  WaitOutcome outcome = WaitForKubeVip(
      probe, Question(), FastWait(std::chrono::milliseconds(50), std::chrono::milliseconds(30)));
  EXPECT_FALSE(outcome.ok);
  EXPECT_THAT(outcome.detail, HasSubstr("not healthy within"));
}

TEST(RestoreProof, ThePodOnTheBackupsImageOrMetricsFromANewProcess) {
  RestoreFacts f;
  f.node = "cp2";
  f.image = kOld;
  f.metrics_url = "http://127.0.0.1:2112/metrics";
  f.not_before = kNow;
  f.metrics.up = true;
  f.pods = std::vector<KubeVipPod>{Pod("cp2", kOld)};
  EXPECT_EQ(KubeVipCameBack(f),
            "kube-vip-cp2 runs " + kOld + " and is ready; http://127.0.0.1:2112/metrics answers");
  f.pods = std::vector<KubeVipPod>{Pod("cp2", kNew)};
  EXPECT_FALSE(KubeVipCameBack(f));  // the API answers: only the pod counts

  f.pods = Error{"connection refused"};
  f.metrics.process_start_time = kNow - 30;  // the process from before the restore
  EXPECT_FALSE(KubeVipCameBack(f));
  f.metrics.process_start_time = kNow + 2;
  EXPECT_EQ(KubeVipCameBack(f),
            "http://127.0.0.1:2112/metrics answers from a kube-vip started after the restore "
            "(API: connection refused)");
  f.metrics.up = false;
  EXPECT_FALSE(KubeVipCameBack(f));
}

}  // namespace
}  // namespace kvip::ops
