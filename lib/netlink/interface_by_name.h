#pragma once
// One network interface followed by its name through rtnetlink link events: deleted,
// recreated with a new ifindex, renamed to or away from the name. The part VipTracker and
// NeighborTracker share. Pure logic: no I/O, no clock, no locking.

#include <cstdint>
#include <string>
#include <utility>

#include "netlink/route_message.h"

namespace kvip::netlink {

class InterfaceByName {
 public:
  explicit InterfaceByName(std::string name) : name_(std::move(name)) {}

  void Apply(const LinkEvent& link);
  void Forget() {
    index_ = 0;
    flags_ = 0;
    mac_.clear();
  }

  bool present() const { return index_ != 0; }
  std::uint32_t index() const { return index_; }  // 0 = absent
  std::uint32_t flags() const { return flags_; }  // IFF_*
  const std::string& mac() const { return mac_; }

 private:
  std::string name_;
  std::uint32_t index_ = 0;
  std::uint32_t flags_ = 0;
  std::string mac_;
};

}  // namespace kvip::netlink
