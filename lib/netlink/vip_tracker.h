#pragma once
// Kernel truth about one interface (tracked by name) and one VIP, folded from rtnetlink
// link/address events. Pure logic: no I/O, no clock, no locking (the owner serialises).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "netlink/interface_by_name.h"
#include "netlink/route_message.h"

namespace kvip::netlink {

class VipTracker {
 public:
  // `vip` empty: only the interface is tracked.
  VipTracker(std::string interface, std::optional<IpAddress> vip);

  // Forgets everything and rebuilds from a full dump (links first, then addresses).
  void Reset(const std::vector<RouteEvent>& dump);
  void Apply(const RouteEvent& event);

  bool interface_present() const { return interface_.present(); }
  const InterfaceByName& interface() const { return interface_; }
  // IFF_UP and IFF_RUNNING: administratively up and operationally running (has carrier).
  bool interface_up() const;
  // The VIP is assigned, with any prefix length, to the interface of that name.
  bool vip_bound() const;

 private:
  void ApplyLink(const LinkEvent& link);
  void ApplyAddress(const AddressEvent& address);

  InterfaceByName interface_;
  std::optional<IpAddress> vip_;
  // Prefix lengths the VIP is assigned with, per ifindex. Kept for every interface, not
  // only ours, so renaming an interface that already holds the VIP to our name is seen.
  std::map<std::uint32_t, std::set<std::uint8_t>> vip_prefixes_by_index_;
};

}  // namespace kvip::netlink
