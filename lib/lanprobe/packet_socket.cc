#include "lanprobe/packet_socket.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace kvip::lanprobe {
namespace {

// Enough for an ARP frame (42 bytes) and a neighbour advertisement with its options.
constexpr std::uint32_t kSnapBytes = 256;
// Only ARP/NDP for one address passes the filter: a small queue is plenty, and bounded.
constexpr int kReceiveBufferBytes = 64 * 1024;

SocketError ErrnoError(int code, const std::string& doing) {
  return {code, doing + ": " + std::strerror(code)};
}

std::uint32_t Word(std::span<const std::uint8_t> bytes, size_t at) {
  return std::uint32_t{bytes[at]} << 24 | std::uint32_t{bytes[at + 1]} << 16 |
         std::uint32_t{bytes[at + 2]} << 8 | bytes[at + 3];
}

std::optional<netlink::IpAddress> LinkLocalOf(const std::string& interface) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<netlink::IpAddress> found;
  for (ifaddrs* entry = list; entry && !found; entry = entry->ifa_next) {
    if (!entry->ifa_addr || entry->ifa_addr->sa_family != AF_INET6) continue;
    if (interface != entry->ifa_name) continue;
    const auto* address = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
    if (!IN6_IS_ADDR_LINKLOCAL(&address->sin6_addr)) continue;
    found = netlink::IpAddress::FromBytes(AF_INET6,
                                          std::as_bytes(std::span(address->sin6_addr.s6_addr)));
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

std::vector<sock_filter> VipFrameFilter(const netlink::IpAddress& vip) {
  constexpr std::uint16_t kLoadHalf = BPF_LD | BPF_H | BPF_ABS;
  constexpr std::uint16_t kLoadByte = BPF_LD | BPF_B | BPF_ABS;
  constexpr std::uint16_t kLoadWord = BPF_LD | BPF_W | BPF_ABS;
  constexpr std::uint16_t kJumpIfEqual = BPF_JMP | BPF_JEQ | BPF_K;
  constexpr std::uint16_t kReturn = BPF_RET | BPF_K;
  auto bytes = vip.bytes();
  // Jump offsets count instructions from the next one; every miss goes to the final drop.
  if (vip.family() == AF_INET) {
    return {
        {kLoadHalf, 0, 0, 12},  // EtherType
        {kJumpIfEqual, 0, 3, ETH_P_ARP},
        {kLoadWord, 0, 0, 14 + 14},  // ARP sender protocol address
        {kJumpIfEqual, 0, 1, Word(bytes, 0)},
        {kReturn, 0, 0, kSnapBytes},
        {kReturn, 0, 0, 0},
    };
  }
  return {
      {kLoadHalf, 0, 0, 12},
      {kJumpIfEqual, 0, 13, ETH_P_IPV6},
      {kLoadByte, 0, 0, 14 + 6},  // next header
      {kJumpIfEqual, 0, 11, IPPROTO_ICMPV6},
      {kLoadByte, 0, 0, 14 + 40},      // ICMPv6 type
      {kJumpIfEqual, 0, 9, 136},       // neighbour advertisement
      {kLoadWord, 0, 0, 14 + 40 + 8},  // target address, four words
      {kJumpIfEqual, 0, 7, Word(bytes, 0)},
      {kLoadWord, 0, 0, 14 + 40 + 12},
      {kJumpIfEqual, 0, 5, Word(bytes, 4)},
      {kLoadWord, 0, 0, 14 + 40 + 16},
      {kJumpIfEqual, 0, 3, Word(bytes, 8)},
      {kLoadWord, 0, 0, 14 + 40 + 20},
      {kJumpIfEqual, 0, 1, Word(bytes, 12)},
      {kReturn, 0, 0, kSnapBytes},
      {kReturn, 0, 0, 0},
  };
}

PacketSocket::PacketSocket(UniqueFd fd, int index, Mac mac,
                           std::optional<netlink::IpAddress> link_local)
    : fd_(std::move(fd)), index_(index), mac_(mac), link_local_(link_local), buffer_(kSnapBytes) {}

std::variant<PacketSocket, SocketError> PacketSocket::Open(const std::string& interface,
                                                           const netlink::IpAddress& vip) {
  // Protocol 0: nothing is queued until bind, which comes after the filter is attached.
  UniqueFd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoError(errno, "open packet socket");
  std::vector<sock_filter> filter = VipFrameFilter(vip);
  sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
  if (setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    return ErrnoError(errno, "attach the ARP/NDP filter");
  }
  int buffer_bytes = kReceiveBufferBytes;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);

  const unsigned index = if_nametoindex(interface.c_str());
  if (index == 0) return ErrnoError(errno, "find interface " + interface);
  ifreq request{};
  std::strncpy(request.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd.get(), SIOCGIFHWADDR, &request) != 0) {
    return ErrnoError(errno, "read the MAC of " + interface);
  }
  Mac mac;
  std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());

  sockaddr_ll local{};
  local.sll_family = AF_PACKET;
  local.sll_protocol = htons(vip.family() == AF_INET ? ETH_P_ARP : ETH_P_IPV6);
  local.sll_ifindex = static_cast<int>(index);
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return ErrnoError(errno, "bind packet socket to " + interface);
  }
  std::optional<netlink::IpAddress> link_local;
  if (vip.family() == AF_INET6) link_local = LinkLocalOf(interface);
  return PacketSocket(std::move(fd), static_cast<int>(index), mac, link_local);
}

std::optional<SocketError> PacketSocket::Send(std::span<const std::uint8_t> frame) {
  sockaddr_ll destination{};
  destination.sll_family = AF_PACKET;
  destination.sll_ifindex = index_;
  destination.sll_halen = 6;
  std::memcpy(destination.sll_addr, frame.data(), 6);  // the frame's own destination
  if (sendto(fd_.get(), frame.data(), frame.size(), 0,
             reinterpret_cast<const sockaddr*>(&destination), sizeof destination) < 0) {
    return ErrnoError(errno, "send probe");
  }
  return std::nullopt;
}

PacketSocket::Received PacketSocket::Receive() {
  while (true) {
    sockaddr_ll from{};
    socklen_t from_length = sizeof from;
    // Frames longer than the buffer are cut (the filter already cut them to kSnapBytes).
    ssize_t n = recvfrom(fd_.get(), buffer_.data(), buffer_.size(), 0,
                         reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    if (n < 0) return {Status::kError, {}, false, false, ErrnoError(errno, "receive frame")};
    return {Status::kFrame,
            {buffer_.data(), static_cast<size_t>(n)},
            from.sll_pkttype == PACKET_OUTGOING,
            from.sll_pkttype == PACKET_HOST,
            {}};
  }
}

}  // namespace kvip::lanprobe
