#pragma once
// ARP and NDP frames about one VIP, as plain values: the probe this node sends (an ARP
// request or a neighbour solicitation) and what it reads back (replies, gratuitous ARPs,
// unsolicited neighbour advertisements). Pure: parsing and building touch no socket, so
// both are unit-tested and fuzzed on byte buffers. A frame from the wire is never trusted:
// anything that does not parse exactly is reported as malformed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "netlink/ip_address.h"

namespace kvip::lanprobe {

using Mac = std::array<std::uint8_t, 6>;

std::string FormatMac(const Mac& mac);

enum class FrameKind {
  kIgnored,     // not ARP/NDP about the VIP (the socket filter should have dropped it)
  kReply,       // an ARP reply / solicited neighbour advertisement from a VIP holder
  kGratuitous,  // a gratuitous ARP / unsolicited neighbour advertisement for the VIP
  kMalformed,   // claims to be ARP/NDP but does not parse; see `malformed`
};

struct Frame {
  FrameKind kind = FrameKind::kIgnored;
  Mac mac{};              // who claims the VIP: ARP sender / NDP target link-layer address
  std::string malformed;  // why, for kMalformed
};

// Parses one Ethernet frame (destination MAC first) for `vip`.
Frame ParseFrame(std::span<const std::uint8_t> frame, const netlink::IpAddress& vip);

// The probe for `vip` from `source_mac`: for IPv4 an ARP probe (RFC 5227: sender address
// 0.0.0.0, so no host learns or overwrites a neighbour entry from it) to broadcast; for
// IPv6 a neighbour solicitation from `link_local` to the VIP's solicited-node group.
std::vector<std::uint8_t> BuildProbe(const netlink::IpAddress& vip, const Mac& source_mac,
                                     const netlink::IpAddress* link_local = nullptr);

}  // namespace kvip::lanprobe
