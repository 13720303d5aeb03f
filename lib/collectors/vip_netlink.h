#pragma once
// Kernel truth about the VIP: is it assigned to the interface, and is the interface up.
// Event-driven: one rtnetlink subscription (links, IPv4 and IPv6 addresses) registered on
// the daemon's Asio loop; a full dump at start and whenever the kernel reports lost events
// (ENOBUFS). The loop updates the state; Collect only reads a snapshot of it.

#include <boost/asio/io_context.hpp>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "collectors/route_subscription.h"
#include "common/metric_family.h"
#include "netlink/ip_address.h"
#include "netlink/vip_tracker.h"

namespace kvip {

class VipNetlinkCollector final : public Collector {
 public:
  // `vip` empty: only kubevip_interface_up is exported. Subscribes and takes the first dump
  // before returning, so the first scrape already has kernel truth; failures are logged
  // and retried on the loop, and Collect reports them.
  VipNetlinkCollector(boost::asio::io_context& loop, std::string vip, std::string interface);

  std::string_view Name() const override { return "vip_netlink"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  // What Collect exposes; written on the loop, read by scrapes under mutex_.
  struct Snapshot {
    bool interface_present = false;
    bool interface_up = false;
    bool vip_bound = false;
    double last_change_seconds = 0;
  };

  // Runs on the loop thread (or in the constructor, before the loop runs).
  void Publish();

  bool published_ = false;

  mutable std::mutex mutex_;
  Snapshot snapshot_;
  // Last: its publish handler uses everything above.
  TrackedVip<netlink::VipTracker> tracked_;
};

}  // namespace kvip
