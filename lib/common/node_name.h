#pragma once
// This node's identity as kube-vip writes it into the Lease, for the daemon and the
// one-shot modes alike: --node-name, else $NODE_NAME, else the host name.

#include <string>

namespace kvip {

std::string ResolveNodeName(const std::string& flag);

}  // namespace kvip
