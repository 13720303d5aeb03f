// LeaseFamilies: what a scrape shows for a given watch state and time, as golden text.

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "collectors/lease_watch.h"
#include "lease_fixture.h"

namespace kvip {
namespace {

std::string Render(const kube::LeaseWatchStatus& status, double now,
                   const std::string& node = "k8s-cp3") {
  prometheus::TextSerializer serializer;
  std::string text =
      serializer.Serialize(LeaseFamilies(status, "kube-system", "plndr-cp-lock", node, now));
  // Keep only samples: HELP/TYPE lines are checked by promtool in integration.
  std::string samples;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    if (!line.empty() && line[0] != '#') samples += line + "\n";
    at = end + 1;
  }
  return samples;
}

kube::LeaseWatchStatus Watching() { return testing::WatchingLease("k8s-cp3", 1000); }

const char* kWatchHealth =
    "kubevip_lease_watch_up{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 1\n"
    "kubevip_lease_watch_reconnects_total{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 2\n"
    "kubevip_lease_events_total{lease=\"plndr-cp-lock\",namespace=\"kube-system\",type=\"ADDED\"} "
    "0\n"
    "kubevip_lease_events_total{lease=\"plndr-cp-lock\",namespace=\"kube-system\",type="
    "\"BOOKMARK\"} 1\n"
    "kubevip_lease_events_total{lease=\"plndr-cp-lock\",namespace=\"kube-system\",type=\"DELETED\"}"
    " 0\n"
    "kubevip_lease_events_total{lease=\"plndr-cp-lock\",namespace=\"kube-system\",type=\"ERROR\"} "
    "0\n"
    "kubevip_lease_events_total{lease=\"plndr-cp-lock\",namespace=\"kube-system\",type="
    "\"MODIFIED\"} 41\n"
    "kubevip_lease_last_event_timestamp_seconds{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} "
    "1000.5\n";

TEST(LeaseFamilies, HolderWithAFreshLeaseIsLeader) {
  EXPECT_EQ(
      Render(Watching(), 1002),
      std::string(
          "kubevip_is_leader{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 1\n"
          "kubevip_lease_present{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 1\n"
          "kubevip_lease_holder_info{lease=\"plndr-cp-lock\",namespace=\"kube-system\",holder="
          "\"k8s-cp3\"} 1\n"
          "kubevip_lease_expired{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n"
          "kubevip_lease_age_seconds{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 2\n"
          "kubevip_lease_renew_timestamp_seconds{lease=\"plndr-cp-lock\",namespace=\"kube-system\"}"
          " 1000\n"
          "kubevip_lease_acquire_timestamp_seconds{lease=\"plndr-cp-lock\",namespace=\"kube-"
          "system\"} 900\n"
          "kubevip_lease_duration_seconds{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 5\n"
          "kubevip_lease_transitions{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 3\n") +
          kWatchHealth);
}

TEST(LeaseFamilies, OtherNodesAreNotLeader) {
  EXPECT_NE(Render(Watching(), 1002, "k8s-cp1")
                .find("kubevip_is_leader{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n"),
            std::string::npos);
}

TEST(LeaseFamilies, AgesHonestlyWhileTheWatchIsDown) {
  kube::LeaseWatchStatus status = Watching();
  status.watch_up = false;
  std::string text = Render(status, 1030);
  EXPECT_NE(text.find("kubevip_is_leader{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("kubevip_lease_expired{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "kubevip_lease_age_seconds{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 30\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("kubevip_lease_watch_up{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n"),
      std::string::npos);
  // Exactly at renew + duration the lease still holds (expired means strictly past).
  EXPECT_NE(Render(Watching(), 1005)
                .find("kubevip_is_leader{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 1\n"),
            std::string::npos);
}

TEST(LeaseFamilies, DeletedLeaseIsAbsentNotExpired) {
  kube::LeaseWatchStatus status = Watching();
  status.object.reset();
  std::string text = Render(status, 1002);
  EXPECT_EQ(text.substr(0, text.find("kubevip_lease_watch_up")),
            "kubevip_is_leader{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n"
            "kubevip_lease_present{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n");
}

TEST(LeaseFamilies, ReleasedLeaseHasAnEmptyHolderAndNoLeader) {
  kube::LeaseWatchStatus status = Watching();
  status.object->holder = "";
  std::string text = Render(status, 1001, "");
  EXPECT_NE(text.find("kubevip_lease_holder_info{lease=\"plndr-cp-lock\",namespace=\"kube-system\","
                      "holder=\"\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("kubevip_is_leader{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n"),
            std::string::npos);
}

TEST(LeaseFamilies, NothingAboutTheLeaseBeforeTheFirstList) {
  kube::LeaseWatchStatus status;
  status.events = {{"ADDED", 0}, {"BOOKMARK", 0}, {"DELETED", 0}, {"ERROR", 0}, {"MODIFIED", 0}};
  std::string text = Render(status, 1002);
  EXPECT_EQ(text.find("kubevip_is_leader"), std::string::npos);
  EXPECT_EQ(text.find("kubevip_lease_present"), std::string::npos);
  EXPECT_EQ(text.find("kubevip_lease_last_event_timestamp_seconds"), std::string::npos);
  EXPECT_EQ(text.rfind(
                "kubevip_lease_watch_up{lease=\"plndr-cp-lock\",namespace=\"kube-system\"} 0\n", 0),
            0u);
}

}  // namespace
}  // namespace kvip
