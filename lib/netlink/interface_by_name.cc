#include "netlink/interface_by_name.h"

namespace kvip::netlink {

void InterfaceByName::Apply(const LinkEvent& link) {
  if (!link.removed && link.name == name_) {
    // Created, recreated (a new ifindex) or renamed to our name.
    index_ = link.index;
    flags_ = link.flags;
    mac_ = link.mac;
  } else if (link.index == index_) {
    // Deleted, or renamed away from our name.
    index_ = 0;
    flags_ = 0;
    mac_.clear();
  }
}

}  // namespace kvip::netlink
