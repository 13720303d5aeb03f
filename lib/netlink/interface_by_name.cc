#include "netlink/interface_by_name.h"

namespace kvip::netlink {

void InterfaceByName::Apply(const LinkEvent& link) {
  if (!link.removed && link.name == name_) {
    // Created, recreated (a new ifindex) or renamed to our name.
    index_ = link.index;
    flags_ = link.flags;
    mac_ = link.mac;
  } else if (link.index == index_) {
    Forget();  // deleted, or renamed away from our name
  }
}

}  // namespace kvip::netlink
