#pragma once
// rtnetlink link and address messages as plain values. Parsing is split from socket I/O so
// it can be tested on byte buffers; nothing here touches the kernel.

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
};

// RTM_NEWADDR / RTM_DELADDR.
struct AddressEvent {
  bool removed = false;
  std::uint32_t index = 0;
  IpAddress address;
  std::uint8_t prefix_length = 0;
  std::uint32_t flags = 0;  // IFA_F_*, from IFA_FLAGS when present
};

using RouteEvent = std::variant<LinkEvent, AddressEvent>;

// What one datagram held.
struct ParsedDatagram {
  std::vector<RouteEvent> events;
  bool done = false;         // NLMSG_DONE: the end of a dump
  bool interrupted = false;  // NLM_F_DUMP_INTR: the dump raced with a change; redo it
  int error = 0;             // errno carried by an NLMSG_ERROR (0 for none or an ACK)
  std::string malformed;     // what was wrong when the bytes are not valid netlink
};

// Parses every netlink message in one datagram. Message types other than link and address
// are skipped; address families other than IPv4/IPv6 too.
ParsedDatagram ParseRouteDatagram(std::span<const std::byte> datagram);

}  // namespace kvip::netlink
