#include "lanprobe/frame.h"

#include <algorithm>

namespace kvip::lanprobe {
namespace {

constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr size_t kEthernetHeader = 14;
constexpr size_t kArpBody = 28;
constexpr size_t kIpv6Header = 40;
constexpr std::uint8_t kIcmpv6 = 58;
constexpr std::uint8_t kNeighborSolicitation = 135;
constexpr std::uint8_t kNeighborAdvertisement = 136;
constexpr size_t kNeighborAdvertisementBody = 24;  // type .. target
constexpr std::uint8_t kOptionSourceLinkLayer = 1;
constexpr std::uint8_t kOptionTargetLinkLayer = 2;

std::uint16_t Read16(std::span<const std::uint8_t> bytes, size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}

void Put16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

void PutBytes(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

bool SameAddress(std::span<const std::uint8_t> bytes, const netlink::IpAddress& address) {
  auto want = address.bytes();
  return bytes.size() == want.size() && std::equal(bytes.begin(), bytes.end(), want.begin());
}

Mac MacAt(std::span<const std::uint8_t> bytes, size_t at) {
  Mac mac;
  std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), mac.size(), mac.begin());
  return mac;
}

Frame Malformed(std::string why) { return {FrameKind::kMalformed, {}, std::move(why)}; }

Frame ParseArp(std::span<const std::uint8_t> frame, const netlink::IpAddress& vip) {
  if (vip.family() != AF_INET) return {};
  if (frame.size() < kEthernetHeader + kArpBody)
    return Malformed("ARP frame shorter than 42 bytes");
  auto arp = frame.subspan(kEthernetHeader);
  if (Read16(arp, 0) != 1 || Read16(arp, 2) != kEtherTypeIpv4 || arp[4] != 6 || arp[5] != 4) {
    return Malformed("ARP frame not for Ethernet and IPv4");
  }
  const std::uint16_t operation = Read16(arp, 6);
  if (operation != 1 && operation != 2) return Malformed("ARP operation neither request nor reply");
  auto sender_ip = arp.subspan(14, 4);
  auto target_ip = arp.subspan(24, 4);
  if (!SameAddress(sender_ip, vip)) return {};
  Frame out;
  out.mac = MacAt(arp, 8);
  // A gratuitous ARP announces the sender's own address: target = sender (RFC 5227 s. 3),
  // as a request or as a reply.
  if (SameAddress(target_ip, vip)) {
    out.kind = FrameKind::kGratuitous;
  } else if (operation == 2) {
    out.kind = FrameKind::kReply;
  }
  return out;
}

Frame ParseNeighborAdvertisement(std::span<const std::uint8_t> frame,
                                 const netlink::IpAddress& vip) {
  if (vip.family() != AF_INET6) return {};
  if (frame.size() < kEthernetHeader + kIpv6Header)
    return Malformed("IPv6 frame shorter than its header");
  auto ip = frame.subspan(kEthernetHeader);
  if ((ip[0] >> 4) != 6) return Malformed("IPv6 frame whose version is not 6");
  if (ip[6] != kIcmpv6) return {};  // extension headers: not NDP as the kernel sends it
  const size_t payload = Read16(ip, 4);
  if (ip.size() < kIpv6Header + payload) return Malformed("IPv6 payload longer than the frame");
  auto icmp = ip.subspan(kIpv6Header, payload);
  if (icmp.empty() || icmp[0] != kNeighborAdvertisement) return {};
  // RFC 4861 7.1.2: hop limit 255 (so it was not routed), code 0, at least 24 bytes.
  if (ip[7] != 255) return Malformed("neighbour advertisement with hop limit below 255");
  if (icmp.size() < kNeighborAdvertisementBody || icmp[1] != 0) {
    return Malformed("neighbour advertisement shorter than 24 bytes or with a non-zero code");
  }
  if (!SameAddress(icmp.subspan(8, 16), vip)) return {};
  Frame out;
  out.mac = MacAt(frame, 6);  // the Ethernet source, unless the option says otherwise
  for (auto options = icmp.subspan(kNeighborAdvertisementBody); !options.empty();) {
    if (options.size() < 2 || options[1] == 0 || options.size() < options[1] * size_t{8}) {
      return Malformed("neighbour advertisement with a malformed option");
    }
    const size_t length = options[1] * size_t{8};
    if (options[0] == kOptionTargetLinkLayer && length == 8) out.mac = MacAt(options, 2);
    options = options.subspan(length);
  }
  const bool solicited = icmp[4] & 0x40;
  out.kind = solicited ? FrameKind::kReply : FrameKind::kGratuitous;
  return out;
}

// RFC 4443 2.3: the one's complement sum over the pseudo-header and the ICMPv6 message.
std::uint16_t Icmpv6Checksum(std::span<const std::uint8_t> source,
                             std::span<const std::uint8_t> destination,
                             std::span<const std::uint8_t> message) {
  std::uint32_t sum = 0;
  auto add = [&sum](std::span<const std::uint8_t> bytes) {
    for (size_t i = 0; i < bytes.size(); i += 2) {
      sum += static_cast<std::uint32_t>(bytes[i] << 8 | (i + 1 < bytes.size() ? bytes[i + 1] : 0));
    }
  };
  add(source);
  add(destination);
  sum += static_cast<std::uint32_t>(message.size());
  sum += kIcmpv6;
  add(message);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace

std::string FormatMac(const Mac& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (std::uint8_t b : mac) {
    if (!text.empty()) text += ':';
    text += kHex[b >> 4];
    text += kHex[b & 0xf];
  }
  return text;
}

Frame ParseFrame(std::span<const std::uint8_t> frame, const netlink::IpAddress& vip) {
  if (frame.size() < kEthernetHeader) return Malformed("frame shorter than an Ethernet header");
  switch (Read16(frame, 12)) {
    case kEtherTypeArp:
      return ParseArp(frame, vip);
    case kEtherTypeIpv6:
      return ParseNeighborAdvertisement(frame, vip);
    default:
      return {};
  }
}

std::vector<std::uint8_t> BuildProbe(const netlink::IpAddress& vip, const Mac& source_mac,
                                     const netlink::IpAddress* link_local) {
  std::vector<std::uint8_t> out;
  auto target = vip.bytes();
  if (vip.family() == AF_INET) {
    const Mac broadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    PutBytes(out, broadcast);
    PutBytes(out, source_mac);
    Put16(out, kEtherTypeArp);
    Put16(out, 1);  // Ethernet
    Put16(out, kEtherTypeIpv4);
    out.push_back(6);
    out.push_back(4);
    Put16(out, 1);  // request
    PutBytes(out, source_mac);
    out.insert(out.end(), 4, 0);  // sender 0.0.0.0: an ARP probe
    out.insert(out.end(), 6, 0);
    PutBytes(out, target);
    return out;
  }
  // Solicited-node multicast ff02::1:ffXX:XXXX and its Ethernet group 33:33:ff:XX:XX:XX.
  std::array<std::uint8_t, 16> group = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
  std::copy_n(target.begin() + 13, 3, group.begin() + 13);
  const Mac group_mac = {0x33, 0x33, 0xff, target[13], target[14], target[15]};
  std::array<std::uint8_t, 16> source{};  // :: when no link-local address is known
  if (link_local) std::copy_n(link_local->bytes().begin(), 16, source.begin());

  std::vector<std::uint8_t> icmp = {kNeighborSolicitation, 0, 0, 0, 0, 0, 0, 0};
  PutBytes(icmp, target);
  if (link_local) {  // RFC 4861 4.3: no source link-layer option from ::
    icmp.push_back(kOptionSourceLinkLayer);
    icmp.push_back(1);
    PutBytes(icmp, source_mac);
  }
  const std::uint16_t checksum = Icmpv6Checksum(source, group, icmp);
  icmp[2] = static_cast<std::uint8_t>(checksum >> 8);
  icmp[3] = static_cast<std::uint8_t>(checksum & 0xff);

  PutBytes(out, group_mac);
  PutBytes(out, source_mac);
  Put16(out, kEtherTypeIpv6);
  out.insert(out.end(), {0x60, 0, 0, 0});
  Put16(out, static_cast<std::uint16_t>(icmp.size()));
  out.push_back(kIcmpv6);
  out.push_back(255);
  PutBytes(out, source);
  PutBytes(out, group);
  PutBytes(out, icmp);
  return out;
}

}  // namespace kvip::lanprobe
