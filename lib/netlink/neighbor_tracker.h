#pragma once
// What this node's kernel believes about the VIP on the LAN: the interface's own MAC and
// the neighbour (ARP/NDP) cache entry the kernel uses to reach the VIP through it, folded
// from rtnetlink link and neighbour events. Pure logic: no I/O, no clock, no locking.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "netlink/route_message.h"
#include "netlink/vip_tracker.h"

namespace kvip::netlink {

class NeighborTracker {
 public:
  struct Entry {
    std::string mac;  // empty while unresolved
    std::uint16_t state = 0;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  // `vip` empty: only the interface (and its MAC) is tracked.
  NeighborTracker(std::string interface, std::optional<IpAddress> vip);

  // Forgets everything and rebuilds from a full dump (links, addresses, neighbours).
  void Reset(const std::vector<RouteEvent>& dump);
  void Apply(const RouteEvent& event);

  bool interface_present() const { return addresses_.interface_present(); }
  const std::string& interface_mac() const { return addresses_.interface().mac(); }
  // The VIP's neighbour entry on the interface; none before anything reached the VIP, and
  // none while this node holds the VIP: the kernel then uses its own address and ignores
  // (but keeps, until garbage collection) the entry it had as a follower.
  std::optional<Entry> vip_entry() const;

 private:
  void ApplyLink(const LinkEvent& link);
  void ApplyNeighbor(const NeighborEvent& neighbor);

  std::optional<IpAddress> vip_;
  // The interface (by name) and whether the VIP is this node's own.
  VipTracker addresses_;
  // The VIP's entry per ifindex, kept for every interface so a rename to our name is seen.
  std::map<std::uint32_t, Entry> vip_entries_by_index_;
};

}  // namespace kvip::netlink
