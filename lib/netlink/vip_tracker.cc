#include "netlink/vip_tracker.h"

#include <linux/if_addr.h>
#include <net/if.h>

#include <type_traits>

namespace kvip::netlink {

VipTracker::VipTracker(std::string interface, std::optional<IpAddress> vip)
    : interface_(std::move(interface)), vip_(vip) {}

void VipTracker::Reset(const std::vector<RouteEvent>& dump) {
  interface_.Forget();
  vip_prefixes_by_index_.clear();
  for (const auto& event : dump) Apply(event);
}

void VipTracker::Apply(const RouteEvent& event) {
  std::visit(
      [this](const auto& e) {
        using Event = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<Event, LinkEvent>) {
          ApplyLink(e);
        } else if constexpr (std::is_same_v<Event, AddressEvent>) {
          ApplyAddress(e);
        }  // neighbour entries are NeighborTracker's
      },
      event);
}

bool VipTracker::interface_up() const {
  return interface_present() && (interface_.flags() & IFF_UP) && (interface_.flags() & IFF_RUNNING);
}

bool VipTracker::vip_bound() const {
  if (!vip_ || !interface_present()) return false;
  auto it = vip_prefixes_by_index_.find(interface_.index());
  return it != vip_prefixes_by_index_.end() && !it->second.empty();
}

void VipTracker::ApplyLink(const LinkEvent& link) {
  // A deleted ifindex takes its addresses along; one recreated or renamed to our name
  // brings those we already track.
  if (link.removed) vip_prefixes_by_index_.erase(link.index);
  interface_.Apply(link);
}

void VipTracker::ApplyAddress(const AddressEvent& address) {
  if (!vip_ || address.address != *vip_) return;
  // An IPv6 address that failed duplicate address detection is assigned but unusable.
  bool assigned = !address.removed && !(address.flags & IFA_F_DADFAILED);
  if (assigned) {
    vip_prefixes_by_index_[address.index].insert(address.prefix_length);
    return;
  }
  auto it = vip_prefixes_by_index_.find(address.index);
  if (it == vip_prefixes_by_index_.end()) return;
  it->second.erase(address.prefix_length);
  if (it->second.empty()) vip_prefixes_by_index_.erase(it);
}

}  // namespace kvip::netlink
