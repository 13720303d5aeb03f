#include "netlink/neighbor_tracker.h"

#include <type_traits>

namespace kvip::netlink {

NeighborTracker::NeighborTracker(std::string interface, std::optional<IpAddress> vip)
    : interface_(interface), vip_(vip), addresses_(std::move(interface), vip) {}

void NeighborTracker::Reset(const std::vector<RouteEvent>& dump) {
  index_ = 0;
  mac_.clear();
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
  auto it = vip_entries_by_index_.find(index_);
  if (it == vip_entries_by_index_.end()) return std::nullopt;
  return it->second;
}

void NeighborTracker::ApplyLink(const LinkEvent& link) {
  if (link.removed) {
    vip_entries_by_index_.erase(link.index);
    if (link.index == index_) {
      index_ = 0;
      mac_.clear();
    }
    return;
  }
  if (link.name == interface_) {
    index_ = link.index;
    mac_ = link.mac;
  } else if (link.index == index_) {
    index_ = 0;  // renamed away from our name
    mac_.clear();
  }
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
