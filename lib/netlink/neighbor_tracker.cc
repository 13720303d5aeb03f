#include "netlink/neighbor_tracker.h"

#include <type_traits>

namespace kvip::netlink {

NeighborTracker::NeighborTracker(std::string interface, std::optional<IpAddress> vip)
    : vip_(vip), addresses_(std::move(interface), vip) {}

void NeighborTracker::Reset(const std::vector<RouteEvent>& dump) {
  vip_entries_by_index_.clear();
  addresses_.Reset({});
  for (const auto& event : dump) Apply(event);
}

void NeighborTracker::Apply(const RouteEvent& event) {
  addresses_.Apply(event);
  if (const auto* link = std::get_if<LinkEvent>(&event)) {
    ApplyLink(*link);
  } else if (const auto* neighbor = std::get_if<NeighborEvent>(&event)) {
    ApplyNeighbor(*neighbor);
  }
}

std::optional<NeighborTracker::Entry> NeighborTracker::vip_entry() const {
  if (!interface_present() || addresses_.vip_bound()) return std::nullopt;
  auto it = vip_entries_by_index_.find(addresses_.interface().index());
  if (it == vip_entries_by_index_.end()) return std::nullopt;
  return it->second;
}

void NeighborTracker::ApplyLink(const LinkEvent& link) {
  // Which ifindex is our interface is addresses_'s to follow.
  if (link.removed) vip_entries_by_index_.erase(link.index);
}

void NeighborTracker::ApplyNeighbor(const NeighborEvent& neighbor) {
  if (!vip_ || neighbor.address != *vip_) return;
  if (neighbor.removed) {
    vip_entries_by_index_.erase(neighbor.index);
  } else {
    vip_entries_by_index_[neighbor.index] = {neighbor.mac, neighbor.state};
  }
}

}  // namespace kvip::netlink
