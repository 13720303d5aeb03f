#include "netlink/route_message.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace kvip::netlink {
namespace {

// Attributes of one message by type; types beyond N are ignored.
template <size_t N>
struct AttributeTable {
  std::array<const nlattr*, N + 1> by_type{};
};

// Indexes the attributes after the fixed header; false when one runs past the message
// (libmnl's own parse loop stops there silently).
template <size_t N>
bool IndexAttributes(const nlmsghdr* header, size_t fixed_header, AttributeTable<N>& table) {
  const auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(header, fixed_header));
  // The message's own end, not libmnl's aligned tail, which may lie past the datagram.
  const char* end = static_cast<const char*>(static_cast<const void*>(header)) + header->nlmsg_len;
  int remaining = static_cast<int>(end - static_cast<const char*>(static_cast<const void*>(attr)));
  while (remaining > 0) {
    if (!mnl_attr_ok(attr, remaining)) return false;
    uint16_t type = mnl_attr_get_type(attr);
    if (type <= N) table.by_type[type] = attr;
    remaining -= static_cast<int>(MNL_ALIGN(attr->nla_len));
    attr = mnl_attr_next(attr);
  }
  return true;
}

// The fixed header (`Fixed`, named `fixed_name`) of a `kind` message ("link message"), or
// null with out.malformed saying the message is too short for one.
template <class Fixed>
const Fixed* FixedHeader(const nlmsghdr* header, const char* kind, const char* fixed_name,
                         ParsedDatagram& out) {
  if (mnl_nlmsg_get_payload_len(header) < sizeof(Fixed)) {
    out.malformed = std::string(kind) + " shorter than " + fixed_name;
    return nullptr;
  }
  return static_cast<const Fixed*>(mnl_nlmsg_get_payload(header));
}

// The attributes after the fixed header, or false with out.malformed set.
template <class Fixed, size_t N>
bool CollectAttributes(const nlmsghdr* header, const char* kind, AttributeTable<N>& table,
                       ParsedDatagram& out) {
  if (IndexAttributes(header, sizeof(Fixed), table)) return true;
  out.malformed = std::string(kind) + " with malformed attributes";
  return false;
}

std::span<const std::byte> Payload(const nlattr* attr) {
  return {static_cast<const std::byte*>(mnl_attr_get_payload(attr)),
          mnl_attr_get_payload_len(attr)};
}

bool ParseLink(const nlmsghdr* header, ParsedDatagram& out) {
  const auto* info = FixedHeader<ifinfomsg>(header, "link message", "ifinfomsg", out);
  if (!info) return false;
  static_assert(IFLA_ADDRESS < IFLA_IFNAME);
  AttributeTable<IFLA_IFNAME> table;
  if (!CollectAttributes<ifinfomsg>(header, "link message", table, out)) return false;
  LinkEvent link;
  link.removed = header->nlmsg_type == RTM_DELLINK;
  link.index = static_cast<uint32_t>(info->ifi_index);
  link.flags = info->ifi_flags;
  if (const nlattr* name = table.by_type[IFLA_IFNAME]) {
    auto bytes = Payload(name);
    const char* text = reinterpret_cast<const char*>(bytes.data());
    link.name.assign(text, strnlen(text, bytes.size()));
  }
  if (const nlattr* mac = table.by_type[IFLA_ADDRESS]) link.mac = FormatMac(Payload(mac));
  out.events.emplace_back(std::move(link));
  return true;
}

bool ParseAddress(const nlmsghdr* header, ParsedDatagram& out) {
  const auto* info = FixedHeader<ifaddrmsg>(header, "address message", "ifaddrmsg", out);
  if (!info) return false;
  if (info->ifa_family != AF_INET && info->ifa_family != AF_INET6) return true;
  AttributeTable<IFA_FLAGS> table;
  if (!CollectAttributes<ifaddrmsg>(header, "address message", table, out)) return false;
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
  // links and the same as IFA_LOCAL otherwise (IPv6 sends only IFA_ADDRESS).
  const nlattr* local =
      table.by_type[IFA_LOCAL] ? table.by_type[IFA_LOCAL] : table.by_type[IFA_ADDRESS];
  if (!local) return true;
  auto address = IpAddress::FromBytes(info->ifa_family, Payload(local));
  if (!address) {
    out.malformed = "address attribute of the wrong length for its family";
    return false;
  }
  uint32_t flags = info->ifa_flags;
  if (const nlattr* wide = table.by_type[IFA_FLAGS]) {
    if (mnl_attr_validate(wide, MNL_TYPE_U32) < 0) {
      out.malformed = "IFA_FLAGS is not 32 bits";
      return false;
    }
    flags = mnl_attr_get_u32(wide);
  }
  out.events.emplace_back(AddressEvent{header->nlmsg_type == RTM_DELADDR, info->ifa_index, *address,
                                       info->ifa_prefixlen, flags});
  return true;
}

bool ParseNeighbor(const nlmsghdr* header, ParsedDatagram& out) {
  const auto* info = FixedHeader<ndmsg>(header, "neighbour message", "ndmsg", out);
  if (!info) return false;
  if (info->ndm_family != AF_INET && info->ndm_family != AF_INET6) return true;
  AttributeTable<NDA_LLADDR> table;
  if (!CollectAttributes<ndmsg>(header, "neighbour message", table, out)) return false;
  const nlattr* destination = table.by_type[NDA_DST];
  if (!destination) return true;  // proxy and bridge entries carry none for IP
  auto address = IpAddress::FromBytes(info->ndm_family, Payload(destination));
  if (!address) {
    out.malformed = "NDA_DST of the wrong length for its family";
    return false;
  }
  std::string mac;
  if (const nlattr* lladdr = table.by_type[NDA_LLADDR]) mac = FormatMac(Payload(lladdr));
  out.events.emplace_back(NeighborEvent{header->nlmsg_type == RTM_DELNEIGH,
                                        static_cast<uint32_t>(info->ndm_ifindex), *address,
                                        std::move(mac), info->ndm_state});
  return true;
}

// The kernel reports errors as negative errno values; anything else non-zero is garbage.
int ErrnoFromKernel(int negative_errno) {
  if (negative_errno == 0) return 0;
  if (negative_errno < 0 && negative_errno > -4096) return -negative_errno;
  return EPROTO;
}

// Whether a whole message starts at `header`. Not mnl_nlmsg_ok: it casts nlmsg_len to int,
// so a corrupt length above 2^31 passes it and the walk jumps out of the buffer.
bool MessageFits(const nlmsghdr* header, size_t remaining) {
  return remaining >= sizeof(nlmsghdr) && header->nlmsg_len >= sizeof(nlmsghdr) &&
         header->nlmsg_len <= remaining;
}

}  // namespace

ParsedDatagram ParseRouteDatagram(std::span<const std::byte> datagram) {
  ParsedDatagram out;
  size_t remaining = datagram.size();
  const std::byte* at = datagram.data();
  while (remaining > 0) {
    const auto* header = static_cast<const nlmsghdr*>(static_cast<const void*>(at));
    if (!MessageFits(header, remaining)) {
      out.malformed = "truncated netlink message (" + std::to_string(remaining) + " bytes left)";
      return out;
    }
    if (header->nlmsg_flags & NLM_F_DUMP_INTR) out.interrupted = true;
    switch (header->nlmsg_type) {
      case NLMSG_DONE: {
        out.done = true;
        // A dump that failed part-way ends with NLMSG_DONE carrying a negative errno.
        int status = 0;
        if (mnl_nlmsg_get_payload_len(header) >= sizeof status) {
          std::memcpy(&status, mnl_nlmsg_get_payload(header), sizeof status);
        }
        out.error = status < 0 ? ErrnoFromKernel(status) : 0;
        return out;
      }
      case NLMSG_ERROR: {
        if (mnl_nlmsg_get_payload_len(header) < sizeof(nlmsgerr)) {
          out.malformed = "NLMSG_ERROR shorter than nlmsgerr";
          return out;
        }
        const auto* error = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(header));
        out.error = ErrnoFromKernel(error->error);
        if (out.error != 0) return out;
        break;
      }
      case RTM_NEWLINK:
      case RTM_DELLINK:
        if (!ParseLink(header, out)) return out;
        break;
      case RTM_NEWADDR:
      case RTM_DELADDR:
        if (!ParseAddress(header, out)) return out;
        break;
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH:
        if (!ParseNeighbor(header, out)) return out;
        break;
      default:
        break;
    }
    const size_t step = std::min<size_t>(MNL_ALIGN(header->nlmsg_len), remaining);
    at += step;
    remaining -= step;
  }
  return out;
}

std::string FormatMac(std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (std::byte b : bytes) {
    if (!text.empty()) text += ':';
    auto value = std::to_integer<unsigned>(b);
    text += kHex[value >> 4];
    text += kHex[value & 0xf];
  }
  return text;
}

std::string NeighborStateName(std::uint16_t state) {
  // One bit is set in practice; the most telling one wins if several are.
  static constexpr std::pair<std::uint16_t, const char*> kNames[] = {
      {NUD_PERMANENT, "permanent"}, {NUD_NOARP, "noarp"},          {NUD_REACHABLE, "reachable"},
      {NUD_STALE, "stale"},         {NUD_DELAY, "delay"},          {NUD_PROBE, "probe"},
      {NUD_FAILED, "failed"},       {NUD_INCOMPLETE, "incomplete"}};
  for (const auto& [bit, name] : kNames) {
    if (state & bit) return name;
  }
  return "none";
}

}  // namespace kvip::netlink
