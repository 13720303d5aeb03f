#pragma once
// The VIP as this node's kernel sees it on the LAN: the interface's MAC and the neighbour
// (ARP/NDP) cache entry used to reach the VIP, i.e. which node's MAC this node sends VIP
// traffic to. Unprivileged and event-driven: one rtnetlink subscription (links and
// neighbours) on the daemon's Asio loop, a dump at start and after lost events; no polling.

#include <boost/asio/io_context.hpp>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "collectors/route_subscription.h"
#include "common/metric_family.h"
#include "netlink/neighbor_tracker.h"

namespace kvip {

class VipNeighborCollector final : public Collector {
 public:
  // `vip` empty or invalid: only kubevip_interface_info is exported (vip_netlink already
  // reports an invalid VIP). Takes the first dump before returning.
  VipNeighborCollector(boost::asio::io_context& loop, std::string vip, std::string interface);

  std::string_view Name() const override { return "vip_neighbor"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  // What Collect exposes; written on the loop, read by scrapes under mutex_.
  struct Snapshot {
    bool interface_present = false;
    std::string interface_mac;
    std::optional<netlink::NeighborTracker::Entry> entry;
    double last_change_seconds = 0;
  };

  void Publish();  // on the loop thread (or in the constructor)

  // The last resolved MAC the VIP's entry held; unset until the first dump is published,
  // so what the kernel already knew at start is not counted as a change.
  std::optional<std::string> last_mac_;

  mutable std::mutex mutex_;
  Snapshot snapshot_;
  // Last: its publish handler uses everything above.
  TrackedVip<netlink::NeighborTracker> tracked_;
};

}  // namespace kvip
