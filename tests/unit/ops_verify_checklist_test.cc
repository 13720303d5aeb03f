// lib/ops: verify's cluster items as pure verdicts (mirror pods per control-plane node,
// restarts against a baseline, lock conflicts, the lease), the baseline file, and the exit
// code rule (the first failing item in checklist order) with its --help table.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "exit_codes.h"
#include "ops/verify_baseline.h"
#include "ops/verify_checklist.h"

namespace kvip::ops {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr double kNow = 1'800'000'000;

KubeVipPod Pod(std::string node, int restarts = 0,
               std::string image = "ghcr.io/kube-vip/kube-vip:v1.0.4") {
  KubeVipPod pod;
  pod.node = std::move(node);
  pod.name = "kube-vip-" + pod.node;
  pod.uid = "uid-" + pod.node;
  pod.config_hash = "hash-" + pod.node;
  pod.image = pod.status_image = std::move(image);
  pod.running = pod.ready = true;
  pod.started_at = kNow - 100;
  pod.restart_count = restarts;
  return pod;
}

std::vector<KubeVipPod> ThreePods() { return {Pod("cp1"), Pod("cp2"), Pod("cp3")}; }

TEST(VerifyMirrorPods, OnePerControlPlaneNodeRunningReadyOnVersion) {
  auto checks = JudgeMirrorPods({"cp1", "cp2", "cp3"}, ThreePods(), "v1.0.4", "role");
  ASSERT_EQ(checks.size(), 3u);
  for (const Check& c : checks) EXPECT_TRUE(c.ok) << c.name << ": " << c.detail;
  EXPECT_EQ(checks[1].name, "pod cp2");
  EXPECT_EQ(checks[1].detail, "kube-vip-cp2 v1.0.4 running, ready");
}

TEST(VerifyMirrorPods, AControlPlaneNodeWithoutKubeVipFails) {
  auto checks = JudgeMirrorPods({"cp1", "cp2", "cp3"}, {Pod("cp1"), Pod("cp3")}, "", "role");
  ASSERT_EQ(checks.size(), 3u);
  EXPECT_FALSE(checks[1].ok);
  EXPECT_EQ(checks[1].name, "pod cp2");
  EXPECT_THAT(checks[1].detail, HasSubstr("without a kube-vip mirror pod"));
}

TEST(VerifyMirrorPods, NotReadyWrongVersionAndPodsOutsideTheControlPlane) {
  std::vector<KubeVipPod> pods = ThreePods();
  pods[0].ready = false;
  pods[0].waiting_reason = "CrashLoopBackOff";
  pods[1].status_image = "ghcr.io/kube-vip/kube-vip:v1.0.3";
  pods.push_back(Pod("worker1"));
  auto checks = JudgeMirrorPods({"cp1", "cp2", "cp3"}, pods, "v1.0.4", "role");
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_FALSE(checks[0].ok);
  EXPECT_THAT(checks[0].detail, AllOf(HasSubstr("not ready"), HasSubstr("CrashLoopBackOff")));
  EXPECT_FALSE(checks[1].ok);
  EXPECT_THAT(checks[1].detail, HasSubstr("v1.0.3 running, ready; expected v1.0.4"));
  EXPECT_TRUE(checks[2].ok);
  EXPECT_EQ(checks[3].name, "pod worker1");  // judged too: kube-vip runs there
  EXPECT_TRUE(checks[3].ok);
}

TEST(VerifyMirrorPods, NoLabelledNodeFailsNamingTheSelector) {
  auto checks = JudgeMirrorPods({}, ThreePods(), "", "node-role.kubernetes.io/control-plane");
  ASSERT_EQ(checks.size(), 4u);
  EXPECT_FALSE(checks[0].ok);
  EXPECT_EQ(checks[0].name, "control-plane");
  EXPECT_THAT(checks[0].detail, HasSubstr("node-role.kubernetes.io/control-plane"));
}

TEST(VerifyRestarts, WithoutABaselineReportedNotJudged) {
  auto pods = ThreePods();
  pods[2].restart_count = 19;
  Check check = JudgeRestarts(pods, nullptr, kNow);
  EXPECT_TRUE(check.ok);
  EXPECT_THAT(check.detail, AllOf(HasSubstr("cp1=0, cp2=0, cp3=19"), HasSubstr("not judged")));
}

TEST(VerifyRestarts, SamePodMayNotRestartMore) {
  auto before = ThreePods();
  before[2].restart_count = 19;  // the seed's cp3: history, not a failure
  VerifyBaseline baseline = BaselineOf(before, kNow - 60);
  auto after = before;
  Check same = JudgeRestarts(after, &baseline, kNow);
  EXPECT_TRUE(same.ok) << same.detail;
  EXPECT_THAT(same.detail, HasSubstr("none since the baseline (60 s ago)"));

  after[1].restart_count = 1;
  Check more = JudgeRestarts(after, &baseline, kNow);
  EXPECT_FALSE(more.ok);
  EXPECT_THAT(more.detail, HasSubstr("cp2: 1 restart(s) since the baseline (0 then, 1 now)"));
}

TEST(VerifyRestarts, RecreatedPodMustNotHaveRestartedAtAll) {
  auto before = ThreePods();
  before[2].restart_count = 19;
  VerifyBaseline baseline = BaselineOf(before, kNow - 60);
  auto after = before;
  after[2].config_hash = "hash-cp3-new";  // the manifest changed: a new static pod
  after[2].uid = "uid-cp3-new";
  after[2].restart_count = 0;
  EXPECT_TRUE(JudgeRestarts(after, &baseline, kNow).ok);

  after[2].restart_count = 1;
  Check check = JudgeRestarts(after, &baseline, kNow);
  EXPECT_FALSE(check.ok);
  EXPECT_THAT(check.detail, HasSubstr("cp3: 1 restart(s) since its pod was recreated"));

  // Only a uid known (no config hash): the uid tells the pods apart.
  baseline.pods[0].config_hash.clear();
  after[0].config_hash.clear();
  after[0].uid = "uid-cp1-new";
  after[0].restart_count = 2;
  EXPECT_THAT(JudgeRestarts(after, &baseline, kNow).detail,
              HasSubstr("cp1: 2 restart(s) since its pod was recreated"));
}

TEST(VerifyRestarts, ANodeNotInTheBaseline) {
  VerifyBaseline baseline = BaselineOf({Pod("cp1"), Pod("cp2")}, kNow - 60);
  auto pods = ThreePods();
  EXPECT_TRUE(JudgeRestarts(pods, &baseline, kNow).ok);
  pods[2].restart_count = 3;
  EXPECT_THAT(JudgeRestarts(pods, &baseline, kNow).detail,
              HasSubstr("cp3: 3 restart(s) since it appeared"));
}

TEST(VerifyBaselineFile, RoundTripsAndRejectsWhatItDidNotWrite) {
  auto pods = ThreePods();
  pods[1].restart_count = 4;
  VerifyBaseline baseline = BaselineOf(pods, kNow);
  std::string error;
  auto parsed = ParseBaseline(BaselineJson(baseline), error);
  ASSERT_TRUE(parsed) << error;
  ASSERT_EQ(parsed->pods.size(), 3u);
  EXPECT_EQ(parsed->taken_at, kNow);
  ASSERT_NE(parsed->Find("cp2"), nullptr);
  EXPECT_EQ(parsed->Find("cp2")->restart_count, 4);
  EXPECT_EQ(parsed->Find("cp2")->config_hash, "hash-cp2");
  EXPECT_EQ(parsed->Find("cp2")->pod_uid, "uid-cp2");
  EXPECT_EQ(parsed->Find("cp2")->started_at, kNow - 100);

  EXPECT_FALSE(ParseBaseline("{\"version\": 1, \"pods\"", error));
  EXPECT_EQ(error, "not a JSON object");
  EXPECT_FALSE(ParseBaseline(R"({"version": 2, "pods": []})", error));
  EXPECT_THAT(error, HasSubstr("not a verify baseline"));
  EXPECT_FALSE(ParseBaseline(R"({"version": 1})", error));
  EXPECT_THAT(error, HasSubstr("no \"pods\" array"));
  EXPECT_FALSE(
      ParseBaseline(R"({"version": 1, "pods": [{"node": "cp1", "pod_uid": "u"}]})", error));
  EXPECT_THAT(error, HasSubstr("pods[0]: needs"));
}

TEST(VerifyBaselineFile, WrittenAndReadBack) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("verify-baseline-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "baseline.json").string();
  std::string error;
  ASSERT_TRUE(WriteBaselineFile(path, BaselineOf(ThreePods(), kNow), error)) << error;
  auto read = ReadBaselineFile(path);
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(read->pods.size(), 3u);
  std::ofstream(path) << "garbage";
  auto bad = ReadBaselineFile(path);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error(), AllOf(HasSubstr(path), HasSubstr("not a JSON object")));
  EXPECT_FALSE(ReadBaselineFile((dir / "missing.json").string()));
  EXPECT_FALSE(WriteBaselineFile((dir / "no/such/dir/b.json").string(),
                                 BaselineOf(ThreePods(), kNow), error));
  EXPECT_THAT(error, HasSubstr("no/such/dir"));
  std::filesystem::remove_all(dir);
}

TEST(VerifyLockConflicts, CountsTheCurrentContainersLines) {
  EXPECT_TRUE(JudgeLockConflicts("cp1", Result<std::string>("I1202 leader\n")).ok);
  Check conflicts = JudgeLockConflicts(
      "cp3", Result<std::string>("E1202 12:00:00.000 1 leaderelection.go:436] Failed to update "
                                 "lock optimistically: Operation cannot be fulfilled\n"));
  EXPECT_FALSE(conflicts.ok);
  EXPECT_EQ(conflicts.name, "lock-conflicts cp3");
  EXPECT_THAT(conflicts.detail, HasSubstr("1 lock-conflict lines"));
  Check unreadable = JudgeLockConflicts("cp2", Error{"get pods/kube-vip-cp2/log: 403"});
  EXPECT_FALSE(unreadable.ok);
  EXPECT_THAT(unreadable.detail, HasSubstr("403"));
}

LeaseLookup Lease(std::string holder, double renewed_ago) {
  LeaseLookup lookup;
  lookup.ok = lookup.present = true;
  lookup.lease.holder = std::move(holder);
  lookup.lease.renew_time = kNow - renewed_ago;
  lookup.lease.duration_seconds = 5;
  return lookup;
}

TEST(VerifyLease, HeldByAKubeVipNodeAndFresh) {
  const std::vector<std::string> nodes{"cp1", "cp2", "cp3"};
  EXPECT_TRUE(JudgeLease(Lease("cp2", 1), "kube-system/plndr-cp-lock", nodes, kNow).ok);
  Check stale = JudgeLease(Lease("cp2", 30), "kube-system/plndr-cp-lock", nodes, kNow);
  EXPECT_FALSE(stale.ok);
  EXPECT_THAT(stale.detail, HasSubstr("not renewed for 30 s"));
  Check stranger = JudgeLease(Lease("old-cp9", 1), "kube-system/plndr-cp-lock", nodes, kNow);
  EXPECT_FALSE(stranger.ok);
  EXPECT_THAT(stranger.detail, HasSubstr("not a node running kube-vip"));
  EXPECT_TRUE(JudgeLease(Lease("old-cp9", 1), "l", {}, kNow).ok);  // pods unknown: not judged
  LeaseLookup absent;
  absent.ok = true;
  EXPECT_THAT(JudgeLease(absent, "kube-system/plndr-cp-lock", nodes, kNow).detail,
              HasSubstr("does not exist"));
  LeaseLookup failed;
  failed.error = "get leases: connection refused";
  EXPECT_EQ(JudgeLease(failed, "l", nodes, kNow).detail, "get leases: connection refused");
}

TEST(VerifyNodes, ParsesANodeList) {
  std::string error;
  auto names = ParseNodeNames(
      R"({"kind":"NodeList","items":[{"metadata":{"name":"k8s-cp2"}},{"metadata":{"name":"k8s-cp1"}}]})",
      error);
  ASSERT_TRUE(names) << error;
  EXPECT_EQ(*names, (std::vector<std::string>{"k8s-cp1", "k8s-cp2"}));
  EXPECT_FALSE(ParseNodeNames("{}", error));
  EXPECT_THAT(error, HasSubstr("not a Kubernetes NodeList"));
}

TEST(VerifyExitCode, TheFirstFailingItemInChecklistOrder) {
  std::vector<VerifyLine> lines{{VerifyItem::kVip, {"vip-healthz", true, ""}},
                                {VerifyItem::kAlerts, {"prometheus-alerts", false, ""}},
                                {VerifyItem::kRestarts, {"restarts", false, ""}},
                                {VerifyItem::kLease, {"lease", false, ""}}};
  EXPECT_EQ(VerifyExitCode(lines), 6);
  VerifyOutcome outcome{lines, VerifyExitCode(lines)};
  EXPECT_EQ(outcome.FirstFailure(), "restarts");
  EXPECT_EQ(outcome.Checks().size(), 4u);
  for (auto& line : lines) line.check.ok = true;
  EXPECT_EQ(VerifyExitCode(lines), 0);
}

TEST(VerifyExitCode, HelpTableCoversEveryItemInOrder) {
  int previous = -1;
  for (const ExitCode& code : kVerifyExitCodes) {
    EXPECT_GT(code.code, previous) << code.meaning;
    previous = code.code;
  }
  for (int item = static_cast<int>(VerifyItem::kVip); item <= static_cast<int>(VerifyItem::kAlerts);
       ++item) {
    EXPECT_STRNE(VerifyItemName(static_cast<VerifyItem>(item)), "?");
    EXPECT_TRUE(std::any_of(std::begin(kVerifyExitCodes), std::end(kVerifyExitCodes),
                            [item](const ExitCode& c) { return c.code == item; }))
        << item;
  }
  EXPECT_THAT(ExitCodesHelp(kVerifyExitCodes),
              HasSubstr("6 kube-vip restarted since the baseline"));
}

}  // namespace
}  // namespace kvip::ops
