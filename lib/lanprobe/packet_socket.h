#pragma once
// One AF_PACKET socket on the VIP's interface that sees only ARP (IPv4 VIP) or ICMPv6
// neighbour advertisements (IPv6 VIP) about the VIP: a classic BPF filter is attached
// before the socket is bound, so not one other frame is ever queued to user space. Needs
// CAP_NET_RAW. Non-blocking; the owner waits for readability on its loop.

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/unique_fd.h"
#include "lanprobe/frame.h"
#include "netlink/ip_address.h"

namespace kvip::lanprobe {

struct SocketError {
  int code = 0;      // errno
  std::string what;  // e.g. "open packet socket: Operation not permitted"
};

// The filter program: accepts (the first 256 bytes of) ARP frames whose sender is `vip`,
// or ICMPv6 neighbour advertisements whose target is `vip`; drops everything else.
std::vector<sock_filter> VipFrameFilter(const netlink::IpAddress& vip);

class PacketSocket {
 public:
  static std::variant<PacketSocket, SocketError> Open(const std::string& interface,
                                                      const netlink::IpAddress& vip);

  int fd() const { return fd_.get(); }
  const Mac& mac() const { return mac_; }
  // The interface's IPv6 link-local address (the NDP probe's source), if it has one.
  const std::optional<netlink::IpAddress>& link_local() const { return link_local_; }

  std::optional<SocketError> Send(std::span<const std::uint8_t> frame);

  enum class Status { kFrame, kWouldBlock, kError };
  struct Received {
    Status status = Status::kWouldBlock;
    std::span<const std::uint8_t> bytes;  // valid until the next Receive
    bool outgoing = false;                // sent by this host (PACKET_OUTGOING)
    bool to_this_host = false;            // unicast to this host (PACKET_HOST)
    SocketError error;
  };
  Received Receive();

 private:
  PacketSocket(UniqueFd fd, int index, Mac mac, std::optional<netlink::IpAddress> link_local);

  UniqueFd fd_;
  int index_;
  Mac mac_;
  std::optional<netlink::IpAddress> link_local_;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace kvip::lanprobe
