#include "collectors/vip_netlink.h"

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
VipNetlinkCollector::VipNetlinkCollector(boost::asio::io_context& loop, std::string vip,
                                         std::string interface)
    : vip_text_(std::move(vip)),
      interface_(std::move(interface)),
      vip_(netlink::IpAddress::Parse(vip_text_)),
      tracker_(interface_, vip_),
      subscription_(loop, netlink::Subscription::kLinksAndAddresses,
                    &netlink::DumpLinksAndAddresses, interface_,
                    "netlink unavailable; VIP and interface state unknown, retrying",
                    RouteSubscription::FoldInto(tracker_, [this] { Publish(); })) {
  snapshot_.last_change_seconds = UnixNow();
  if (vip_text_.empty()) {
    LogInfo("no VIP configured; exporting kubevip_interface_up only", {{"interface", interface_}});
  } else if (!vip_) {
    LogError("invalid VIP address: expected an IPv4 or IPv6 address without prefix length",
             {{"vip", vip_text_}});
  }
  subscription_.Start();
}

void VipNetlinkCollector::Publish() {
  const bool present = tracker_.interface_present();
  const bool bound = tracker_.vip_bound();
  Snapshot before;
  {
    std::lock_guard lock(mutex_);
    before = snapshot_;
    snapshot_.interface_present = present;
    snapshot_.interface_up = tracker_.interface_up();
    snapshot_.vip_bound = bound;
    if (bound != before.vip_bound) snapshot_.last_change_seconds = UnixNow();
  }
  // Log transitions only, so a missing interface is reported once, not on every event.
  if (!present && (before.interface_present || !published_)) {
    LogWarn("VIP interface not found; reporting it down and the VIP unbound until it appears",
            {{"interface", interface_}});
  } else if (present && !before.interface_present && published_) {
    LogInfo("VIP interface appeared", {{"interface", interface_}});
  }
  if (vip_ && bound != before.vip_bound) {
    LogDebug(bound ? "VIP bound" : "VIP unbound", {{"vip", vip_text_}, {"interface", interface_}});
  }
  published_ = true;
}

bool VipNetlinkCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Snapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = snapshot_;
  }
  if (!subscription_.synced()) return false;  // no kernel truth to report
  out.push_back(
      MakeFamily(Spec("kubevip_interface_up"), snapshot.interface_up ? 1 : 0, {interface_}));
  if (!vip_) return vip_text_.empty();
  out.push_back(
      MakeFamily(Spec("kubevip_vip_bound"), snapshot.vip_bound ? 1 : 0, {vip_text_, interface_}));
  out.push_back(MakeFamily(Spec("kubevip_vip_last_change_timestamp_seconds"),
                           snapshot.last_change_seconds, {vip_text_, interface_}));
  return true;
}

}  // namespace kvip
