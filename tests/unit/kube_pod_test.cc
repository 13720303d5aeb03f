// kube-vip's mirror pod: parsing the API's Pod JSON (recorded shapes in fixtures/kube/pods)
// and what a scrape shows for a watch state, as golden text.

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <fstream>
#include <sstream>

#include "collectors/kubevip_pod.h"
#include "fixture_files.h"
#include "kube/pod.h"

namespace kvip {
namespace {

std::string Fixture(const std::string& name) { return testing::ReadFixture("kube/pods/" + name); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string Render(const kube::WatchStatus<kube::Pod>& status) {
  prometheus::TextSerializer serializer;
  std::string samples;
  for (const auto& line :
       Lines(serializer.Serialize(KubeVipPodFamilies(status, "kube-system", "kube-vip-k8s-cp3")))) {
    if (line[0] != '#') samples += line + "\n";
  }
  return samples;
}

TEST(ParsePodList, TheMirrorPodAfterTwoKills) {
  std::string error;
  auto list = kube::ParsePodList(Fixture("list-after-kills.json"), error);
  ASSERT_TRUE(list) << error;
  EXPECT_EQ(list->resource_version, "4711");
  ASSERT_EQ(list->items.size(), 1u);
  const kube::Pod& pod = list->items[0];
  EXPECT_EQ(pod.name, "kube-vip-k8s-cp3");
  EXPECT_EQ(pod.namespace_name, "kube-system");
  EXPECT_EQ(pod.resource_version, "4702");
  EXPECT_EQ(pod.node, "k8s-cp3");
  EXPECT_EQ(pod.phase, "Running");
  ASSERT_EQ(pod.containers.size(), 1u);
  const kube::ContainerStatus& c = pod.containers[0];
  EXPECT_EQ(c.name, "kube-vip");
  EXPECT_EQ(c.restart_count, 2);
  EXPECT_TRUE(c.ready);
  EXPECT_TRUE(c.running);
  EXPECT_EQ(c.waiting_reason, "");
  EXPECT_FALSE(c.terminated);
  ASSERT_TRUE(c.last_terminated);
  EXPECT_EQ(c.last_terminated->reason, "Error");
  EXPECT_EQ(c.last_terminated->exit_code, 137);
  EXPECT_EQ(c.last_terminated->finished_at, 1796167233);  // 2026-12-01T23:20:33Z
}

// Recorded from the testbed (tests/unit/fixtures/manifest/podlist-testbed.json): v1.0.3 on
// k8s-cp2 last exited 2 (its panic on a lost lease), k8s-cp1 was SIGKILLed (137) and is
// terminated right now.
TEST(ParsePodList, ARecordedTestbedPodList) {
  // Recorded with `kubectl get pods -o json`, which blanks the list's resourceVersion; the
  // API's LIST answer carries one.
  std::string text = testing::ReadFixture("manifest/podlist-testbed.json");
  size_t blank = text.find("\"resourceVersion\": \"\"");
  ASSERT_NE(blank, std::string::npos);
  text.replace(blank, 21, "\"resourceVersion\": \"1\"");
  std::string error;
  auto list = kube::ParsePodList(text, error);
  ASSERT_TRUE(list) << error;
  ASSERT_EQ(list->items.size(), 3u);
  const kube::ContainerStatus& cp1 = list->items[0].containers.at(0);
  EXPECT_EQ(list->items[0].name, "kube-vip-k8s-cp1");
  EXPECT_EQ(cp1.restart_count, 3);
  ASSERT_TRUE(cp1.terminated);
  EXPECT_FALSE(cp1.running);
  const kube::ContainerStatus& cp2 = list->items[1].containers.at(0);
  EXPECT_TRUE(cp2.running);
  ASSERT_TRUE(cp2.last_terminated);
  EXPECT_EQ(cp2.last_terminated->reason, "Error");
  EXPECT_EQ(cp2.last_terminated->exit_code, 2);
}

TEST(ParsePodWatchEvent, OomKillCrashLoopBookmarkDelete) {
  auto lines = Lines(Fixture("watch-crashloop.jsonl"));
  ASSERT_EQ(lines.size(), 4u);
  std::string error;
  auto oom = kube::ParsePodWatchEvent(lines[0], error);
  ASSERT_TRUE(oom) << error;
  EXPECT_EQ(oom->type, "MODIFIED");
  ASSERT_TRUE(oom->object->containers.at(0).terminated);
  EXPECT_EQ(oom->object->containers[0].terminated->reason, "OOMKilled");

  auto waiting = kube::ParsePodWatchEvent(lines[1], error);
  ASSERT_TRUE(waiting) << error;
  EXPECT_EQ(waiting->object->containers.at(0).waiting_reason, "CrashLoopBackOff");
  EXPECT_EQ(waiting->object->containers[0].restart_count, 3);

  auto bookmark = kube::ParsePodWatchEvent(lines[2], error);
  ASSERT_TRUE(bookmark) << error;
  EXPECT_EQ(bookmark->type, "BOOKMARK");
  EXPECT_EQ(bookmark->object->resource_version, "4790");
  EXPECT_TRUE(bookmark->object->containers.empty());

  auto deleted = kube::ParsePodWatchEvent(lines[3], error);
  ASSERT_TRUE(deleted) << error;
  EXPECT_EQ(deleted->type, "DELETED");
}

TEST(ParsePod, RejectsWhatIsNotAPod) {
  std::string error;
  EXPECT_FALSE(kube::ParsePod("[]", error));
  EXPECT_FALSE(kube::ParsePod(R"({"status":{"containerStatuses":{}}})", error));
  EXPECT_NE(error.find("containerStatuses"), std::string::npos) << error;
  EXPECT_FALSE(kube::ParsePod(R"({"status":{"containerStatuses":[1]}})", error));
  EXPECT_FALSE(kube::ParsePodWatchEvent(R"({"type":"MODIFIED","object":{"metadata":{}}})", error));
  EXPECT_TRUE(kube::ParsePod(R"({"metadata":{"name":"x"}})", error));  // no status yet
}

TEST(KubeVipPodFamilies, RestartsReadinessAndTheLastTermination) {
  std::string error;
  auto list = kube::ParsePodList(Fixture("list-after-kills.json"), error);
  ASSERT_TRUE(list) << error;
  kube::WatchStatus<kube::Pod> status;
  status.listed = true;
  status.watch_up = true;
  status.object = list->items.at(0);
  const std::string labels =
      "namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\",container=\"kube-vip\"";
  EXPECT_EQ(Render(status),
            "kubevip_pod_present{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\"} 1\n"
            "kubevip_container_restarts_total{" +
                labels +
                "} 2\n"
                "kubevip_container_ready{" +
                labels +
                "} 1\n"
                "kubevip_container_last_terminated_reason{" +
                labels +
                ",reason=\"Error\"} 1\n"
                "kubevip_container_last_terminated_exit_code{" +
                labels +
                "} 137\n"
                "kubevip_container_last_terminated_timestamp_seconds{" +
                labels +
                "} 1796167233\n"
                "kubevip_pod_watch_up{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\"} 1\n");
}

TEST(KubeVipPodFamilies, ACrashLoopShowsTheWaitingReasonAndTheOomKill) {
  std::string error;
  auto event = kube::ParsePodWatchEvent(Lines(Fixture("watch-crashloop.jsonl")).at(1), error);
  ASSERT_TRUE(event) << error;
  kube::WatchStatus<kube::Pod> status;
  status.listed = true;
  status.object = event->object;
  std::string text = Render(status);
  EXPECT_NE(text.find("kubevip_container_waiting_reason{namespace=\"kube-system\",pod=\"kube-vip-"
                      "k8s-cp3\",container=\"kube-vip\",reason=\"CrashLoopBackOff\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("reason=\"OOMKilled\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("kubevip_container_ready{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\","
                      "container=\"kube-vip\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kubevip_pod_watch_up{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\"} 0"),
            std::string::npos);
}

TEST(KubeVipPodFamilies, NothingButTheWatchBeforeTheFirstListAndAbsentPodAfter) {
  kube::WatchStatus<kube::Pod> status;
  EXPECT_EQ(Render(status),
            "kubevip_pod_watch_up{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\"} 0\n");
  status.listed = true;  // listed, and no such pod
  EXPECT_EQ(Render(status),
            "kubevip_pod_present{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\"} 0\n"
            "kubevip_pod_watch_up{namespace=\"kube-system\",pod=\"kube-vip-k8s-cp3\"} 0\n");
}

}  // namespace
}  // namespace kvip
