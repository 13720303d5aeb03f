#include "collectors/vip_netlink.h"

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
VipNetlinkCollector::VipNetlinkCollector(boost::asio::io_context& loop, std::string vip,
                                         std::string interface)
    : tracked_(loop, std::move(vip), std::move(interface),
               netlink::Subscription::kLinksAndAddresses, &netlink::DumpLinksAndAddresses,
               "netlink unavailable; VIP and interface state unknown, retrying",
               [this] { Publish(); }) {
  snapshot_.last_change_seconds = UnixNow();
  if (tracked_.vip_text().empty()) {
    LogInfo("no VIP configured; exporting kubevip_interface_up only",
            {{"interface", tracked_.interface()}});
  } else if (!tracked_.vip()) {
    LogError("invalid VIP address: expected an IPv4 or IPv6 address without prefix length",
             {{"vip", tracked_.vip_text()}});
  }
  tracked_.Start();
}

void VipNetlinkCollector::Publish() {
  const std::string& vip = tracked_.vip_text();
  const std::string& interface = tracked_.interface();
  const bool present = tracked_.tracker().interface_present();
  const bool bound = tracked_.tracker().vip_bound();
  Snapshot before;
  {
    std::lock_guard lock(mutex_);
    before = snapshot_;
    snapshot_.interface_present = present;
    snapshot_.interface_up = tracked_.tracker().interface_up();
    snapshot_.vip_bound = bound;
    if (bound != before.vip_bound) snapshot_.last_change_seconds = UnixNow();
  }
  // Log transitions only, so a missing interface is reported once, not on every event.
  if (!present && (before.interface_present || !published_)) {
    LogWarn("VIP interface not found; reporting it down and the VIP unbound until it appears",
            {{"interface", interface}});
  } else if (present && !before.interface_present && published_) {
    LogInfo("VIP interface appeared", {{"interface", interface}});
  }
  if (tracked_.vip() && bound != before.vip_bound) {
    LogDebug(bound ? "VIP bound" : "VIP unbound", {{"vip", vip}, {"interface", interface}});
  }
  published_ = true;
}

bool VipNetlinkCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Snapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = snapshot_;
  }
  if (!tracked_.synced()) return false;  // no kernel truth to report
  const std::string& vip = tracked_.vip_text();
  const std::string& interface = tracked_.interface();
  out.push_back(
      MakeFamily(Spec("kubevip_interface_up"), snapshot.interface_up ? 1 : 0, {interface}));
  if (!tracked_.vip()) return vip.empty();
  out.push_back(
      MakeFamily(Spec("kubevip_vip_bound"), snapshot.vip_bound ? 1 : 0, {vip, interface}));
  out.push_back(MakeFamily(Spec("kubevip_vip_last_change_timestamp_seconds"),
                           snapshot.last_change_seconds, {vip, interface}));
  return true;
}

}  // namespace kvip
