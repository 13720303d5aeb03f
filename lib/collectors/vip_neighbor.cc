#include "collectors/vip_neighbor.h"

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
VipNeighborCollector::VipNeighborCollector(boost::asio::io_context& loop, std::string vip,
                                           std::string interface)
    : tracked_(loop, std::move(vip), std::move(interface),
               netlink::Subscription::kLinksAddressesAndNeighbors,
               &netlink::DumpLinksAddressesAndNeighbors,
               "netlink unavailable; the VIP's neighbour entry is unknown, retrying",
               [this] { Publish(); }) {
  snapshot_.last_change_seconds = UnixNow();
  tracked_.Start();
}

void VipNeighborCollector::Publish() {
  auto entry = tracked_.tracker().vip_entry();
  bool changed = false;
  if (entry && !entry->mac.empty()) {
    changed = last_mac_ && *last_mac_ != entry->mac;
    if (changed) {
      LogInfo("the VIP's neighbour entry moved to another MAC",
              {{"vip", tracked_.vip_text()}, {"from", *last_mac_}, {"to", entry->mac}});
    }
    last_mac_ = entry->mac;
  } else if (!last_mac_) {
    last_mac_ = "";  // synced: from now on the first MAC seen is a change
  }
  std::lock_guard lock(mutex_);
  snapshot_.interface_present = tracked_.tracker().interface_present();
  snapshot_.interface_mac = tracked_.tracker().interface_mac();
  snapshot_.entry = std::move(entry);
  if (changed) snapshot_.last_change_seconds = UnixNow();
}

bool VipNeighborCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Snapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = snapshot_;
  }
  if (!tracked_.synced()) return false;
  const std::string& vip = tracked_.vip_text();
  const std::string& interface = tracked_.interface();
  if (snapshot.interface_present) {
    out.push_back(
        MakeFamily(Spec("kubevip_interface_info"), 1, {interface, snapshot.interface_mac}));
  }
  if (!tracked_.vip()) return true;
  if (snapshot.entry) {
    out.push_back(MakeFamily(
        Spec("kubevip_vip_neighbor_info"), 1,
        {vip, interface, snapshot.entry->mac, netlink::NeighborStateName(snapshot.entry->state)}));
  }
  out.push_back(MakeFamily(Spec("kubevip_vip_neighbor_last_change_timestamp_seconds"),
                           snapshot.last_change_seconds, {vip, interface}));
  return true;
}

}  // namespace kvip
