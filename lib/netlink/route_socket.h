#pragma once
// A NETLINK_ROUTE socket subscribed to link and address (or neighbour) changes, and one-shot
// dumps of all links with their addresses or neighbours. Errors are values: {errno, what was being
// done}.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/unique_fd.h"
#include "netlink/route_message.h"

namespace kvip::netlink {

struct NetlinkError {
  int code = 0;      // errno
  std::string what;  // e.g. "bind NETLINK_ROUTE socket: Operation not permitted"
};

// Outcome of one non-blocking receive.
enum class ReceiveStatus {
  kDatagram,    // `bytes` holds one datagram from the kernel
  kWouldBlock,  // nothing queued
  kOverrun,     // ENOBUFS: the kernel dropped events for this socket; resync from a dump
  kError,       // anything else; see `error`
};

struct Received {
  ReceiveStatus status = ReceiveStatus::kWouldBlock;
  std::span<const std::byte> bytes;
  NetlinkError error;
};

// What a RouteEventSocket is subscribed to.
enum class Subscription {
  kLinksAndAddresses,           // RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR
  kLinksAddressesAndNeighbors,  // and RTMGRP_NEIGH (IPv4 and IPv6 neighbour caches)
};

// Subscription socket. Non-blocking; the owner waits for readability (on an Asio loop) and
// calls Receive.
class RouteEventSocket {
 public:
  static std::variant<RouteEventSocket, NetlinkError> Open(
      Subscription subscription = Subscription::kLinksAndAddresses);

  int fd() const { return fd_.get(); }

  // Receives one datagram into an internal buffer valid until the next call. Datagrams
  // not from the kernel are skipped.
  Received Receive();

 private:
  explicit RouteEventSocket(UniqueFd fd);

  UniqueFd fd_;
  std::vector<std::byte> buffer_;
};

// Dumps every link, then every IPv4/IPv6 address, on a fresh socket; returns the events in
// that order. Bounded by `timeout`; retried (a few times) when the kernel flags the dump as
// interrupted by a concurrent change.
std::variant<std::vector<RouteEvent>, NetlinkError> DumpLinksAndAddresses(
    std::chrono::milliseconds timeout);

// The same, then every IPv4/IPv6 neighbour cache entry.
std::variant<std::vector<RouteEvent>, NetlinkError> DumpLinksAddressesAndNeighbors(
    std::chrono::milliseconds timeout);

}  // namespace kvip::netlink
