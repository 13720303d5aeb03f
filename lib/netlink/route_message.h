#pragma once
// rtnetlink link, address and neighbour messages as plain values. Parsing is split from socket I/O
// so it can be tested on byte buffers; nothing here touches the kernel.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "netlink/ip_address.h"

namespace kvip::netlink {

// RTM_NEWLINK / RTM_DELLINK.
struct LinkEvent {
  bool removed = false;
  std::uint32_t index = 0;
  std::string name;
  std::uint32_t flags = 0;  // IFF_*
  std::string mac;          // IFLA_ADDRESS as "aa:bb:cc:dd:ee:ff"; empty when the link has none
};

// RTM_NEWADDR / RTM_DELADDR.
struct AddressEvent {
  bool removed = false;
  std::uint32_t index = 0;
  IpAddress address;
  std::uint8_t prefix_length = 0;
  std::uint32_t flags = 0;  // IFA_F_*, from IFA_FLAGS when present
};

// RTM_NEWNEIGH / RTM_DELNEIGH: one neighbour (ARP or NDP) cache entry.
struct NeighborEvent {
  bool removed = false;
  std::uint32_t index = 0;
  IpAddress address;
  std::string mac;          // NDA_LLADDR; empty while unresolved (incomplete, failed)
  std::uint16_t state = 0;  // NUD_*
};

using RouteEvent = std::variant<LinkEvent, AddressEvent, NeighborEvent>;

// What one datagram held.
struct ParsedDatagram {
  std::vector<RouteEvent> events;
  bool done = false;         // NLMSG_DONE: the end of a dump
  bool interrupted = false;  // NLM_F_DUMP_INTR: the dump raced with a change; redo it
  int error = 0;             // errno carried by an NLMSG_ERROR (0 for none or an ACK)
  std::string malformed;     // what was wrong when the bytes are not valid netlink
};

// Parses every netlink message in one datagram. Message types other than link, address and
// neighbour are skipped; address families other than IPv4/IPv6 too.
ParsedDatagram ParseRouteDatagram(std::span<const std::byte> datagram);

// A link-layer address as lower-case colon-separated hex ("" for none).
std::string FormatMac(std::span<const std::byte> bytes);

// NUD_* state as `ip neigh` names it ("reachable", "stale", ...; "none" for 0).
std::string NeighborStateName(std::uint16_t state);

}  // namespace kvip::netlink
