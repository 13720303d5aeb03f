#include "collectors/vip_neighbor.h"

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
VipNeighborCollector::VipNeighborCollector(boost::asio::io_context& loop, std::string vip,
                                           std::string interface)
    : vip_text_(std::move(vip)),
      interface_(std::move(interface)),
      vip_(netlink::IpAddress::Parse(vip_text_)),
      tracker_(interface_, vip_),
      subscription_(loop, netlink::Subscription::kLinksAddressesAndNeighbors,
                    &netlink::DumpLinksAddressesAndNeighbors, interface_,
                    "netlink unavailable; the VIP's neighbour entry is unknown, retrying",
                    RouteSubscription::FoldInto(tracker_, [this] { Publish(); })) {
  snapshot_.last_change_seconds = UnixNow();
  subscription_.Start();
}

void VipNeighborCollector::Publish() {
  auto entry = tracker_.vip_entry();
  bool changed = false;
  if (entry && !entry->mac.empty()) {
    changed = last_mac_ && *last_mac_ != entry->mac;
    if (changed) {
      LogInfo("the VIP's neighbour entry moved to another MAC",
              {{"vip", vip_text_}, {"from", *last_mac_}, {"to", entry->mac}});
    }
    last_mac_ = entry->mac;
  } else if (!last_mac_) {
    last_mac_ = "";  // synced: from now on the first MAC seen is a change
  }
  std::lock_guard lock(mutex_);
  snapshot_.interface_present = tracker_.interface_present();
  snapshot_.interface_mac = tracker_.interface_mac();
  snapshot_.entry = std::move(entry);
  if (changed) snapshot_.last_change_seconds = UnixNow();
}

bool VipNeighborCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Snapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = snapshot_;
  }
  if (!subscription_.synced()) return false;
  if (snapshot.interface_present) {
    out.push_back(
        MakeFamily(Spec("kubevip_interface_info"), 1, {interface_, snapshot.interface_mac}));
  }
  if (!vip_) return true;
  if (snapshot.entry) {
    out.push_back(MakeFamily(Spec("kubevip_vip_neighbor_info"), 1,
                             {vip_text_, interface_, snapshot.entry->mac,
                              netlink::NeighborStateName(snapshot.entry->state)}));
  }
  out.push_back(MakeFamily(Spec("kubevip_vip_neighbor_last_change_timestamp_seconds"),
                           snapshot.last_change_seconds, {vip_text_, interface_}));
  return true;
}

}  // namespace kvip
