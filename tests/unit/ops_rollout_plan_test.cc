// lib/ops/rollout_plan: the rollout's decisions as pure functions, from API JSON as the API
// server writes it: which nodes and in which order, the step pod, how it ended, the lock.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "ops/rollout_plan.h"

namespace kvip::ops {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string NodeJson(const std::string& name, bool control_plane, const std::string& ip,
                     const std::string& host_root = "") {
  std::string labels = control_plane ? R"("node-role.kubernetes.io/control-plane":"")" : "";
  std::string annotations =
      host_root.empty() ? "" : R"("kvip-exporter.dev/host-root":")" + host_root + "\"";
  return R"({"metadata":{"name":")" + name + R"(","labels":{)" + labels + R"(},"annotations":{)" +
         annotations + R"(}},"status":{"addresses":[{"type":"Hostname","address":")" + name +
         R"("},{"type":"InternalIP","address":")" + ip + R"("}]}})";
}

std::string MirrorPodJson(const std::string& node, const std::string& tag, bool ready = true) {
  return R"({"metadata":{"name":"kube-vip-)" + node + R"(","uid":"u-)" + node +
         R"("},"spec":{"nodeName":")" + node +
         R"(","containers":[{"name":"kube-vip","image":"ghcr.io/kube-vip/kube-vip:)" + tag +
         R"(","env":[{"name":"port","value":"6443"},{"name":"address","value":"10.10.30.10"}],)"
         R"("volumeMounts":[{"name":"kubeconfig","mountPath":"/etc/kubernetes/admin.conf"}]}],)"
         R"("volumes":[{"name":"kubeconfig","hostPath":{"path":"/srv/)" +
         node +
         R"(/etc/kubernetes/admin.conf"}}]},"status":{"phase":"Running","containerStatuses":[)"
         R"({"name":"kube-vip","image":"ghcr.io/kube-vip/kube-vip:)" +
         tag + R"(","ready":)" + (ready ? "true" : "false") +
         R"(,"restartCount":0,"state":{"running":{"startedAt":"2026-12-01T10:00:00Z"}}}]}})";
}

Discovery ThreeNodes(const std::string& cp3_tag = "v1.0.3") {
  std::string nodes = "{\"items\":[" + NodeJson("k8s-cp2", true, "10.10.30.12", "/tb/cp2") + "," +
                      NodeJson("k8s-cp1", true, "10.10.30.11", "/tb/cp1") + "," +
                      NodeJson("k8s-cp3", true, "10.10.30.13") + "," +
                      NodeJson("worker1", false, "10.10.30.21") + "," +
                      NodeJson("k8s-cp4", true, "10.10.30.14") + "]}";
  std::string pods = "{\"items\":[" + MirrorPodJson("k8s-cp1", "v1.0.3") + "," +
                     MirrorPodJson("k8s-cp2", "v1.0.3") + "," + MirrorPodJson("k8s-cp3", cp3_tag) +
                     "]}";
  auto discovery = DiscoverRolloutNodes(nodes, pods, "kube-vip", "kube-vip");
  EXPECT_TRUE(discovery.ok()) << discovery.error();
  return *discovery;
}

TEST(RolloutDiscovery, ControlPlaneNodesWithKubeVipSortedWithTheirRootsAndKubeconfig) {
  Discovery d = ThreeNodes();
  ASSERT_EQ(d.nodes.size(), 3u);
  EXPECT_EQ(d.nodes[0].name, "k8s-cp1");
  EXPECT_EQ(d.nodes[0].host_root, "/tb/cp1");
  EXPECT_EQ(d.nodes[0].internal_ip, "10.10.30.11");
  EXPECT_EQ(d.nodes[0].kubeconfig_host_path, "/srv/k8s-cp1/etc/kubernetes/admin.conf");
  EXPECT_EQ(d.nodes[0].vip, "10.10.30.10");
  EXPECT_EQ(d.nodes[0].vip_port, 6443);
  EXPECT_EQ(d.nodes[2].host_root, "/") << "no annotation: the machine's root";
  EXPECT_THAT(d.without_kubevip, ElementsAre("k8s-cp4")) << "workers are not listed at all";
}

TEST(RolloutDiscovery, GarbageIsAnErrorNotAnEmptyCluster) {
  EXPECT_FALSE(DiscoverRolloutNodes("{}", R"({"items":[]})", "kube-vip", "kube-vip").ok());
  EXPECT_FALSE(DiscoverRolloutNodes(R"({"items":[]})", "<html>", "kube-vip", "kube-vip").ok());
}

TEST(RolloutOrder, FollowersByNameThenTheLeader) {
  Discovery d = ThreeNodes();
  auto order = PlanOrder(d.nodes, "k8s-cp1");
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(*order, ElementsAre("k8s-cp2", "k8s-cp3", "k8s-cp1"));
  order = PlanOrder(d.nodes, "k8s-cp3");
  EXPECT_THAT(*order, ElementsAre("k8s-cp1", "k8s-cp2", "k8s-cp3"));
}

TEST(RolloutOrder, AnUnknownLeaderIsNeverGuessed) {
  Discovery d = ThreeNodes();
  EXPECT_THAT(PlanOrder(d.nodes, "").error(), HasSubstr("no holder"));
  EXPECT_THAT(PlanOrder(d.nodes, "k8s-cp9").error(), HasSubstr("\"k8s-cp9\""));
  EXPECT_THAT(PlanOrder({}, "k8s-cp1").error(), HasSubstr("no control-plane node"));
}

TEST(RolloutOrder, TheLeaderWaitsForEveryFollowerOnTheTargetAndReady) {
  Discovery d = ThreeNodes("v1.0.4");
  Check check = FollowersReady(d.nodes, "k8s-cp1", "v1.0.4");
  EXPECT_FALSE(check.ok);
  EXPECT_THAT(check.detail, HasSubstr("k8s-cp2 (v1.0.3)"));
  EXPECT_THAT(check.detail, ::testing::Not(HasSubstr("k8s-cp3")));
  d.nodes[1].pod.image = d.nodes[1].pod.status_image = "ghcr.io/kube-vip/kube-vip:v1.0.4";
  EXPECT_TRUE(FollowersReady(d.nodes, "k8s-cp1", "v1.0.4").ok);
  d.nodes[1].pod.ready = false;
  EXPECT_THAT(FollowersReady(d.nodes, "k8s-cp1", "v1.0.4").detail, HasSubstr("not ready"));
}

TEST(RolloutStepPod, PinnedWithOnlyTheMountsTheStepNeedsUnderTheHostRoot) {
  StepPodSpec spec;
  spec.name = "kvip-exporter-step-k8s-cp2";
  spec.namespace_ = "kube-system";
  spec.node = "k8s-cp2";
  spec.image = "registry/kvip-exporter:dev";
  spec.host_root = "/tb/cp2/";
  spec.manifest = "/etc/kubernetes/manifests/kube-vip.yaml";
  spec.kubeconfig_host_path = "/tb/cp2/etc/kubernetes/admin.conf";
  spec.containerd_socket = "/run/containerd/containerd.sock";
  spec.state_dir = "/var/lib/kvip-exporter";
  spec.args = {"--to=v1.0.4"};
  rapidjson::Document pod;
  pod.Parse(StepPodJson(spec).c_str());
  ASSERT_FALSE(pod.HasParseError());
  const auto& s = pod["spec"];
  EXPECT_STREQ(s["nodeName"].GetString(), "k8s-cp2");
  EXPECT_TRUE(s["hostNetwork"].GetBool());
  EXPECT_STREQ(s["restartPolicy"].GetString(), "Never");
  EXPECT_STREQ(s["tolerations"][0]["key"].GetString(), "node-role.kubernetes.io/control-plane");
  std::vector<std::string> volumes;
  for (const auto& v : s["volumes"].GetArray())
    volumes.push_back(std::string(v["name"].GetString()) + "=" + v["hostPath"]["path"].GetString());
  EXPECT_THAT(volumes, ElementsAre("kubernetes=/tb/cp2/etc/kubernetes",
                                   "containerd=/tb/cp2/run/containerd/containerd.sock",
                                   "state=/tb/cp2/var/lib/kvip-exporter",
                                   "kubeconfig=/tb/cp2/etc/kubernetes/admin.conf"))
      << "kube-vip's own hostPath is a path of the machine already";
  std::vector<std::string> args;
  for (const auto& a : s["containers"][0]["args"].GetArray()) args.push_back(a.GetString());
  EXPECT_THAT(args, ElementsAre("upgrade", "--to=v1.0.4", "--output=json",
                                "--kubevip.manifest=/etc/kubernetes/manifests/kube-vip.yaml",
                                "--state-dir=/var/lib/kvip-exporter",
                                "--kubeconfig=/var/run/kvip-exporter/kubeconfig"));
  EXPECT_FALSE(s["automountServiceAccountToken"].GetBool()) << "no cluster credentials of ours";
}

TEST(RolloutStepPod, UnderHostRoot) {
  EXPECT_EQ(UnderHostRoot("/", "/etc/kubernetes"), "/etc/kubernetes");
  EXPECT_EQ(UnderHostRoot("", "/etc/kubernetes"), "/etc/kubernetes");
  EXPECT_EQ(UnderHostRoot("/tb/cp1//", "/etc"), "/tb/cp1/etc");
}

TEST(RolloutStepPod, JudgedFromItsStatus) {
  auto judge = [](const std::string& status) {
    return JudgeStepPod("{\"status\":" + status + "}");
  };
  EXPECT_EQ(judge(R"({"phase":"Pending"})").phase, StepPodState::kPending);
  EXPECT_EQ(judge(R"({"phase":"Running","containerStatuses":[{"state":{"running":{}}}]})").phase,
            StepPodState::kRunning);
  StepPodState done = judge(
      R"({"phase":"Failed","containerStatuses":[{"state":{"terminated":{"exitCode":9,"reason":"Error"}}}]})");
  EXPECT_EQ(done.phase, StepPodState::kFinished);
  EXPECT_EQ(done.exit_code, 9);
  StepPodState pull = judge(
      R"({"phase":"Pending","containerStatuses":[{"state":{"waiting":{"reason":"ErrImagePull","message":"not found"}}}]})");
  EXPECT_EQ(pull.phase, StepPodState::kCannotStart);
  EXPECT_EQ(pull.detail, "ErrImagePull: not found");
  StepPodState deadline =
      judge(R"({"phase":"Failed","reason":"DeadlineExceeded","message":"too long"})");
  EXPECT_EQ(deadline.phase, StepPodState::kFinished);
  EXPECT_EQ(deadline.exit_code, -1);
  EXPECT_THAT(deadline.detail, HasSubstr("DeadlineExceeded"));
}

TEST(RolloutStepPod, TheReportIsTheLastJsonLineOfTheLog) {
  const std::string log =
      "ts=2026-12-02T00:00:00Z level=info msg=\"step\" step=backup ok=true\n"
      R"({"command":"upgrade","result":"refused","exit_code":4,"message":"old"})"
      "\n"
      R"({"command":"upgrade","node":"k8s-cp2","from":"a:v1.0.3","to":"a:v1.0.4","result":"rolled-back",)"
      R"("exit_code":9,"message":"m","backup":"/b","was_leader":true,)"
      R"("preflight":[{"name":"lease","ok":true,"detail":"x"}],"steps":[{"name":"wait-new","ok":false,"detail":"CrashLoopBackOff"}]})"
      "\n";
  auto report = FindStepReport(log);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->result, "rolled-back");
  EXPECT_EQ(report->exit_code, 9);
  EXPECT_EQ(report->backup, "/b");
  EXPECT_TRUE(report->was_leader);
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].name, "wait-new");
  EXPECT_FALSE(FindStepReport("ts=1 level=info\n{\"command\":\"upgrade\", broken\n"));
}

TEST(RolloutLock, FreeOursExpiredOrDeadIsTakenAFreshOneIsRefusedWithItsExpiry) {
  const double now = 1'800'000'000;
  EXPECT_EQ(DecideLock(std::nullopt, "me", now, false).verdict, LockVerdict::kTake);
  LockHolder held{"host/1/2", now - 5, 30, "7", "to v1.0.4 started x"};
  EXPECT_EQ(DecideLock(held, "host/1/2", now, false).verdict, LockVerdict::kTake);
  LockDecision refused = DecideLock(held, "me", now, false);
  EXPECT_EQ(refused.verdict, LockVerdict::kRefuse);
  EXPECT_THAT(refused.reason, HasSubstr("host/1/2 (to v1.0.4 started x)"));
  EXPECT_THAT(refused.reason, HasSubstr("expires in 25 s"));
  EXPECT_EQ(DecideLock(held, "me", now, true).verdict, LockVerdict::kTake);
  held.renew_time = now - 31;
  EXPECT_EQ(DecideLock(held, "me", now, false).verdict, LockVerdict::kTake);
  held.identity = "";
  EXPECT_EQ(DecideLock(held, "me", now, false).verdict, LockVerdict::kTake);
}

TEST(RolloutLock, TheLeaseWeWriteReadsBack) {
  std::string error;
  auto holder =
      ParseLockLease(LockLeaseJson("kube-system", "h/1/2", 1'800'000'000.25, "42", "d"), error);
  ASSERT_TRUE(holder) << error;
  EXPECT_EQ(holder->identity, "h/1/2");
  EXPECT_DOUBLE_EQ(holder->renew_time, 1'800'000'000.25);
  EXPECT_EQ(holder->duration_seconds, kRolloutLockSeconds);
  EXPECT_EQ(holder->resource_version, "42");
  EXPECT_EQ(holder->description, "d");
  EXPECT_EQ(FormatMicroTime(0.5), "1970-01-01T00:00:00.500000Z");
  EXPECT_FALSE(ParseLockLease("[]", error));
}

TEST(RolloutRecord, OneEntryPerNodeRoundTripsThroughTheConfigMap) {
  RolloutRecord record{"to v1.0.4", 100, {}};
  record.Put({"k8s-cp2", "upgraded", 0, "a:v1.0.3", "a:v1.0.4", "/b", "ok", 101});
  record.Put({"k8s-cp2", "rolled-back", 9, "a:v1.0.3", "a:v1.0.4", "/b", "crash", 102});
  RolloutRecord back = ParseRecordConfigMap(RecordConfigMapJson("kube-system", record));
  EXPECT_EQ(back.action, "to v1.0.4");
  ASSERT_EQ(back.nodes.size(), 1u);
  EXPECT_EQ(back.nodes[0].result, "rolled-back");
  EXPECT_EQ(back.nodes[0].exit_code, 9);
  EXPECT_TRUE(ParseRecordConfigMap("{}").nodes.empty());
}

}  // namespace
}  // namespace kvip::ops
