// rtnetlink parsing on byte buffers and the VIP tracker's state machine; no kernel needed.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <vector>

#include "collectors/vip_neighbor.h"
#include "collectors/vip_netlink.h"
#include "netlink/ip_address.h"
#include "netlink/neighbor_tracker.h"
#include "netlink/route_message.h"
#include "netlink/route_socket.h"
#include "netlink/vip_tracker.h"

namespace kvip::netlink {
namespace {

// Builds datagrams of rtnetlink messages as the kernel sends them.
class DatagramBuilder {
 public:
  DatagramBuilder() : buffer_(8192) {}

  DatagramBuilder& Link(uint16_t type, int index, const char* name, unsigned flags) {
    nlmsghdr* header = Begin(type);
    auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
    info->ifi_family = AF_UNSPEC;
    info->ifi_index = index;
    info->ifi_flags = flags;
    mnl_attr_put_strz(header, IFLA_IFNAME, name);
    return End(header);
  }

  DatagramBuilder& Address(uint16_t type, int index, const char* text, uint8_t prefix,
                           uint32_t flags = IFA_F_PERMANENT) {
    nlmsghdr* header = Begin(type);
    auto* info = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
    unsigned char bytes[16] = {};
    int family = inet_pton(AF_INET, text, bytes) == 1 ? AF_INET : AF_INET6;
    if (family == AF_INET6) inet_pton(AF_INET6, text, bytes);
    size_t length = family == AF_INET ? 4 : 16;
    info->ifa_family = static_cast<uint8_t>(family);
    info->ifa_prefixlen = prefix;
    info->ifa_index = static_cast<uint32_t>(index);
    info->ifa_flags = static_cast<uint8_t>(flags & 0xff);
    mnl_attr_put(header, IFA_ADDRESS, length, bytes);
    if (family == AF_INET) mnl_attr_put(header, IFA_LOCAL, length, bytes);
    mnl_attr_put_u32(header, IFA_FLAGS, flags);
    return End(header);
  }

  // A link with its MAC (IFLA_ADDRESS) as the kernel sends for Ethernet and veth.
  DatagramBuilder& LinkWithMac(uint16_t type, int index, const char* name, unsigned flags,
                               std::vector<uint8_t> mac) {
    nlmsghdr* header = Begin(type);
    auto* info = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
    info->ifi_family = AF_UNSPEC;
    info->ifi_index = index;
    info->ifi_flags = flags;
    mnl_attr_put(header, IFLA_ADDRESS, mac.size(), mac.data());
    mnl_attr_put_strz(header, IFLA_IFNAME, name);
    return End(header);
  }

  // A neighbour entry; an empty `mac` leaves NDA_LLADDR out, as for unresolved entries.
  DatagramBuilder& Neighbor(uint16_t type, int index, const char* text, uint16_t state,
                            std::vector<uint8_t> mac) {
    nlmsghdr* header = Begin(type);
    auto* info = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ndmsg)));
    unsigned char bytes[16] = {};
    int family = inet_pton(AF_INET, text, bytes) == 1 ? AF_INET : AF_INET6;
    if (family == AF_INET6) inet_pton(AF_INET6, text, bytes);
    info->ndm_family = static_cast<uint8_t>(family);
    info->ndm_ifindex = index;
    info->ndm_state = state;
    mnl_attr_put(header, NDA_DST, family == AF_INET ? 4 : 16, bytes);
    if (!mac.empty()) mnl_attr_put(header, NDA_LLADDR, mac.size(), mac.data());
    return End(header);
  }

  DatagramBuilder& Done(int status = 0) {
    nlmsghdr* header = Begin(NLMSG_DONE);
    auto* payload = static_cast<int*>(mnl_nlmsg_put_extra_header(header, sizeof(int)));
    *payload = status;
    return End(header);
  }

  DatagramBuilder& Error(int negative_errno) {
    nlmsghdr* header = Begin(NLMSG_ERROR);
    auto* error = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
    error->error = negative_errno;
    return End(header);
  }

  std::span<const std::byte> bytes() const { return {buffer_.data(), used_}; }
  std::vector<std::byte>& raw() { return buffer_; }
  size_t used() const { return used_; }

  // The last message, for corrupting.
  nlmsghdr* last() { return last_; }

 private:
  nlmsghdr* Begin(uint16_t type) {
    nlmsghdr* header = mnl_nlmsg_put_header(buffer_.data() + used_);
    header->nlmsg_type = type;
    return header;
  }
  DatagramBuilder& End(nlmsghdr* header) {
    last_ = header;
    used_ += MNL_ALIGN(header->nlmsg_len);
    return *this;
  }

  std::vector<std::byte> buffer_;
  size_t used_ = 0;
  nlmsghdr* last_ = nullptr;
};

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

TEST(IpAddressTest, ComparesByValueNotText) {
  EXPECT_EQ(Ip("2001:db8::1"), Ip("2001:0db8:0000::0001"));
  EXPECT_EQ(Ip("10.10.30.10"), Ip("10.10.30.10"));
  EXPECT_NE(Ip("10.10.30.10"), Ip("10.10.30.11"));
  // Same bytes in the first four positions, different family.
  EXPECT_NE(Ip("10.10.30.10"), Ip("a0a:1e0a::"));
  EXPECT_EQ(Ip("2001:0db8::0001").ToString(), "2001:db8::1");
}

TEST(IpAddressTest, RejectsWhatIsNotAPlainAddress) {
  EXPECT_FALSE(IpAddress::Parse(""));
  EXPECT_FALSE(IpAddress::Parse("10.10.30.10/32"));
  EXPECT_FALSE(IpAddress::Parse("10.10.30"));
  EXPECT_FALSE(IpAddress::Parse("eno1"));
  EXPECT_FALSE(IpAddress::Parse(" 10.10.30.10"));
  EXPECT_FALSE(IpAddress::Parse(std::string(100, '1')));
}

TEST(ParseRouteDatagramTest, LinkAndAddressMessages) {
  DatagramBuilder datagram;
  datagram.Link(RTM_NEWLINK, 3, "eno1", IFF_UP | IFF_RUNNING)
      .Address(RTM_NEWADDR, 3, "10.10.30.10", 32)
      .Address(RTM_DELADDR, 3, "fd00::10", 64)
      .Link(RTM_DELLINK, 3, "eno1", 0);
  ParsedDatagram parsed = ParseRouteDatagram(datagram.bytes());
  ASSERT_TRUE(parsed.malformed.empty()) << parsed.malformed;
  ASSERT_EQ(parsed.events.size(), 4u);
  const auto& link = std::get<LinkEvent>(parsed.events[0]);
  EXPECT_FALSE(link.removed);
  EXPECT_EQ(link.index, 3u);
  EXPECT_EQ(link.name, "eno1");
  EXPECT_EQ(link.flags, unsigned{IFF_UP | IFF_RUNNING});
  const auto& v4 = std::get<AddressEvent>(parsed.events[1]);
  EXPECT_FALSE(v4.removed);
  EXPECT_EQ(v4.address, Ip("10.10.30.10"));
  EXPECT_EQ(v4.prefix_length, 32);
  const auto& v6 = std::get<AddressEvent>(parsed.events[2]);
  EXPECT_TRUE(v6.removed);
  EXPECT_EQ(v6.address, Ip("fd00::10"));
  EXPECT_TRUE(std::get<LinkEvent>(parsed.events[3]).removed);
  EXPECT_FALSE(parsed.done);
}

TEST(ParseRouteDatagramTest, PrefersLocalOverPeerAddress) {
  DatagramBuilder datagram;
  nlmsghdr* header = mnl_nlmsg_put_header(datagram.raw().data());
  header->nlmsg_type = RTM_NEWADDR;
  auto* info = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  info->ifa_family = AF_INET;
  info->ifa_index = 7;
  info->ifa_prefixlen = 32;
  in_addr peer{}, local{};
  inet_pton(AF_INET, "192.0.2.1", &peer);
  inet_pton(AF_INET, "10.10.30.10", &local);
  mnl_attr_put(header, IFA_ADDRESS, 4, &peer);
  mnl_attr_put(header, IFA_LOCAL, 4, &local);
  ParsedDatagram parsed = ParseRouteDatagram({datagram.raw().data(), header->nlmsg_len});
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(std::get<AddressEvent>(parsed.events[0]).address, Ip("10.10.30.10"));
}

TEST(ParseRouteDatagramTest, DoneAndErrors) {
  DatagramBuilder done;
  done.Address(RTM_NEWADDR, 1, "127.0.0.1", 8).Done();
  ParsedDatagram parsed = ParseRouteDatagram(done.bytes());
  EXPECT_TRUE(parsed.done);
  EXPECT_EQ(parsed.error, 0);
  EXPECT_EQ(parsed.events.size(), 1u);

  DatagramBuilder failed_dump;
  failed_dump.Done(-EBUSY);
  EXPECT_EQ(ParseRouteDatagram(failed_dump.bytes()).error, EBUSY);

  DatagramBuilder error;
  error.Error(-EPERM);
  EXPECT_EQ(ParseRouteDatagram(error.bytes()).error, EPERM);

  DatagramBuilder ack;
  ack.Error(0).Link(RTM_NEWLINK, 2, "eth0", 0);
  parsed = ParseRouteDatagram(ack.bytes());
  EXPECT_EQ(parsed.error, 0);
  EXPECT_EQ(parsed.events.size(), 1u);
}

TEST(ParseRouteDatagramTest, FlagsInterruptedDumps) {
  DatagramBuilder datagram;
  datagram.Link(RTM_NEWLINK, 2, "eth0", 0);
  datagram.last()->nlmsg_flags |= NLM_F_DUMP_INTR;
  EXPECT_TRUE(ParseRouteDatagram(datagram.bytes()).interrupted);
}

TEST(ParseRouteDatagramTest, SkipsOtherTypesAndFamilies) {
  DatagramBuilder datagram;
  nlmsghdr* header = mnl_nlmsg_put_header(datagram.raw().data());
  header->nlmsg_type = RTM_NEWROUTE;
  mnl_nlmsg_put_extra_header(header, sizeof(rtmsg));
  size_t used = header->nlmsg_len;
  nlmsghdr* bridge = mnl_nlmsg_put_header(datagram.raw().data() + used);
  bridge->nlmsg_type = RTM_NEWADDR;
  auto* info = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(bridge, sizeof(ifaddrmsg)));
  info->ifa_family = AF_PACKET;
  used += bridge->nlmsg_len;
  ParsedDatagram parsed = ParseRouteDatagram({datagram.raw().data(), used});
  EXPECT_TRUE(parsed.malformed.empty());
  EXPECT_TRUE(parsed.events.empty());
}

TEST(ParseRouteDatagramTest, ReportsMalformedInput) {
  // Truncated: the header claims more bytes than the datagram holds.
  DatagramBuilder truncated;
  truncated.Link(RTM_NEWLINK, 3, "eno1", IFF_UP);
  EXPECT_FALSE(ParseRouteDatagram(truncated.bytes().first(truncated.used() - 4)).malformed.empty());

  // Too short for its fixed header.
  DatagramBuilder short_link;
  nlmsghdr* header = mnl_nlmsg_put_header(short_link.raw().data());
  header->nlmsg_type = RTM_NEWLINK;
  mnl_nlmsg_put_extra_header(header, 4);
  EXPECT_NE(ParseRouteDatagram({short_link.raw().data(), header->nlmsg_len}).malformed, "");

  // An IPv4 address attribute of 16 bytes.
  DatagramBuilder wrong_length;
  header = mnl_nlmsg_put_header(wrong_length.raw().data());
  header->nlmsg_type = RTM_NEWADDR;
  auto* info = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  info->ifa_family = AF_INET;
  unsigned char bytes[16] = {};
  mnl_attr_put(header, IFA_LOCAL, sizeof bytes, bytes);
  EXPECT_NE(ParseRouteDatagram({wrong_length.raw().data(), header->nlmsg_len}).malformed, "");

  // An attribute whose length runs past the message.
  DatagramBuilder bad_attribute;
  bad_attribute.Link(RTM_NEWLINK, 3, "eno1", IFF_UP);
  auto* attr =
      static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(bad_attribute.last(), sizeof(ifinfomsg)));
  attr->nla_len = 200;
  EXPECT_NE(ParseRouteDatagram(bad_attribute.bytes()).malformed, "");

  // Random bytes never crash the parser.
  std::vector<std::byte> noise(512);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = std::byte(i * 37 + 11);
  (void)ParseRouteDatagram(noise);
  EXPECT_TRUE(ParseRouteDatagram({}).events.empty());
}

// Every single-byte corruption of a valid datagram, and every truncation, parses to a
// value (events, an error or "malformed") without reading out of bounds (ASan checks).
TEST(ParseRouteDatagramTest, SurvivesCorruption) {
  DatagramBuilder valid;
  valid.Link(RTM_NEWLINK, 3, "eno1", IFF_UP)
      .Address(RTM_NEWADDR, 3, "10.10.30.10", 32)
      .Address(RTM_DELADDR, 3, "fd00::10", 64)
      .Done();
  const std::vector<std::byte> original(valid.bytes().begin(), valid.bytes().end());
  size_t malformed = 0;
  for (size_t at = 0; at < original.size(); ++at) {
    for (unsigned value : {0x00u, 0x01u, 0x7fu, 0x80u, 0xffu}) {
      std::vector<std::byte> corrupt = original;
      corrupt[at] = std::byte(value);
      malformed += ParseRouteDatagram(corrupt).malformed.empty() ? 0 : 1;
    }
    std::vector<std::byte> truncated(original.begin(), original.begin() + at);
    (void)ParseRouteDatagram(truncated);
  }
  EXPECT_GT(malformed, 0u);
}

std::vector<RouteEvent> Events(const DatagramBuilder& datagram) {
  return ParseRouteDatagram(datagram.bytes()).events;
}

// Parses one datagram and applies its events in order, as the route subscription does.
template <typename Tracker>
void Feed(Tracker& tracker, const DatagramBuilder& datagram) {
  for (const auto& event : Events(datagram)) tracker.Apply(event);
}

constexpr unsigned kUp = IFF_UP | IFF_RUNNING;

TEST(VipTrackerTest, DumpThenAddressEvents) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  tracker.Reset(Events(DatagramBuilder()
                           .Link(RTM_NEWLINK, 1, "lo", kUp | IFF_LOOPBACK)
                           .Link(RTM_NEWLINK, 2, "eno1", kUp)
                           .Address(RTM_NEWADDR, 2, "10.10.30.11", 24)));
  EXPECT_TRUE(tracker.interface_present());
  EXPECT_TRUE(tracker.interface_up());
  EXPECT_FALSE(tracker.vip_bound());

  Feed(tracker, DatagramBuilder().Address(RTM_NEWADDR, 2, "10.10.30.10", 32));
  EXPECT_TRUE(tracker.vip_bound());

  Feed(tracker, DatagramBuilder().Address(RTM_DELADDR, 2, "10.10.30.10", 32));
  EXPECT_FALSE(tracker.vip_bound());
}

TEST(VipTrackerTest, AnyPrefixCountsAndEachIsRemovedSeparately) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Address(RTM_NEWADDR, 2, "10.10.30.10", 24)
                    .Address(RTM_NEWADDR, 2, "10.10.30.10", 32)
                    .Address(RTM_DELADDR, 2, "10.10.30.10", 32));
  EXPECT_TRUE(tracker.vip_bound());  // the /24 is still there
  Feed(tracker, DatagramBuilder().Address(RTM_DELADDR, 2, "10.10.30.10", 24));
  EXPECT_FALSE(tracker.vip_bound());
}

TEST(VipTrackerTest, VipOnAnotherInterfaceDoesNotCount) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Link(RTM_NEWLINK, 3, "eno2", kUp)
                    .Address(RTM_NEWADDR, 3, "10.10.30.10", 32));
  EXPECT_FALSE(tracker.vip_bound());
}

TEST(VipTrackerTest, Ipv6VipComparedByValue) {
  VipTracker tracker("eno1", Ip("fd00:10:10:30::10"));
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Address(RTM_NEWADDR, 2, "fd00:10:10:30:0:0:0:10", 128));
  EXPECT_TRUE(tracker.vip_bound());

  // Failed duplicate address detection: assigned, but not usable.
  Feed(tracker, DatagramBuilder().Address(RTM_NEWADDR, 2, "fd00:10:10:30::10", 128,
                                          IFA_F_TENTATIVE | IFA_F_DADFAILED));
  EXPECT_FALSE(tracker.vip_bound());
}

TEST(VipTrackerTest, LinkDownAndUp) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  Feed(tracker, DatagramBuilder().Link(RTM_NEWLINK, 2, "eno1", IFF_UP));  // up, no carrier
  EXPECT_TRUE(tracker.interface_present());
  EXPECT_FALSE(tracker.interface_up());
  Feed(tracker, DatagramBuilder().Link(RTM_NEWLINK, 2, "eno1", kUp));
  EXPECT_TRUE(tracker.interface_up());
  Feed(tracker, DatagramBuilder().Link(RTM_NEWLINK, 2, "eno1", 0));
  EXPECT_FALSE(tracker.interface_up());
}

TEST(VipTrackerTest, DeletedAndRecreatedWithANewIndex) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Address(RTM_NEWADDR, 2, "10.10.30.10", 32)
                    .Link(RTM_DELLINK, 2, "eno1", 0));
  EXPECT_FALSE(tracker.interface_present());
  EXPECT_FALSE(tracker.interface_up());
  EXPECT_FALSE(tracker.vip_bound());

  // Events for other interfaces while ours is missing change nothing.
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 5, "eth9", kUp)
                    .Address(RTM_NEWADDR, 5, "10.10.30.10", 32));
  EXPECT_FALSE(tracker.interface_present());
  EXPECT_FALSE(tracker.vip_bound());

  Feed(tracker, DatagramBuilder().Link(RTM_NEWLINK, 9, "eno1", kUp));
  EXPECT_TRUE(tracker.interface_present());
  EXPECT_FALSE(tracker.vip_bound());  // a new interface has none of the old addresses
  Feed(tracker, DatagramBuilder().Address(RTM_NEWADDR, 9, "10.10.30.10", 32));
  EXPECT_TRUE(tracker.vip_bound());
}

TEST(VipTrackerTest, RenamesAreFollowedByName) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Address(RTM_NEWADDR, 2, "10.10.30.10", 32)
                    .Link(RTM_NEWLINK, 2, "eno1-old", kUp));  // renamed away
  EXPECT_FALSE(tracker.interface_present());
  EXPECT_FALSE(tracker.vip_bound());

  // Another interface that already holds the VIP is renamed to eno1.
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 4, "tmp0", kUp)
                    .Address(RTM_NEWADDR, 4, "10.10.30.10", 32)
                    .Link(RTM_NEWLINK, 4, "eno1", kUp));
  EXPECT_TRUE(tracker.interface_present());
  EXPECT_TRUE(tracker.vip_bound());
}

TEST(VipTrackerTest, ResetForgetsStaleState) {
  VipTracker tracker("eno1", Ip("10.10.30.10"));
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Address(RTM_NEWADDR, 2, "10.10.30.10", 32));
  ASSERT_TRUE(tracker.vip_bound());
  tracker.Reset(Events(DatagramBuilder().Link(RTM_NEWLINK, 2, "eno1", kUp)));
  EXPECT_FALSE(tracker.vip_bound());
  tracker.Reset({});
  EXPECT_FALSE(tracker.interface_present());
}

TEST(VipTrackerTest, NoVipTracksOnlyTheInterface) {
  VipTracker tracker("eno1", std::nullopt);
  Feed(tracker, DatagramBuilder()
                    .Link(RTM_NEWLINK, 2, "eno1", kUp)
                    .Address(RTM_NEWADDR, 2, "10.10.30.10", 32));
  EXPECT_TRUE(tracker.interface_up());
  EXPECT_FALSE(tracker.vip_bound());
}

const std::vector<uint8_t> kMacA = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
const std::vector<uint8_t> kMacB = {0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

TEST(ParseRouteDatagramTest, NeighborMessagesAndLinkMac) {
  DatagramBuilder datagram;
  datagram.LinkWithMac(RTM_NEWLINK, 2, "eno1", IFF_UP, kMacA)
      .Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_REACHABLE, kMacB)
      .Neighbor(RTM_NEWNEIGH, 2, "fd00::10", NUD_INCOMPLETE, {})
      .Neighbor(RTM_DELNEIGH, 2, "10.10.30.10", NUD_FAILED, {});
  ParsedDatagram parsed = ParseRouteDatagram(datagram.bytes());
  ASSERT_TRUE(parsed.malformed.empty()) << parsed.malformed;
  ASSERT_EQ(parsed.events.size(), 4u);
  EXPECT_EQ(std::get<LinkEvent>(parsed.events[0]).mac, "02:00:00:00:00:0a");
  const auto& reachable = std::get<NeighborEvent>(parsed.events[1]);
  EXPECT_FALSE(reachable.removed);
  EXPECT_EQ(reachable.index, 2u);
  EXPECT_EQ(reachable.address, Ip("10.10.30.10"));
  EXPECT_EQ(reachable.mac, "02:00:00:00:00:0b");
  EXPECT_EQ(NeighborStateName(reachable.state), "reachable");
  const auto& incomplete = std::get<NeighborEvent>(parsed.events[2]);
  EXPECT_EQ(incomplete.address, Ip("fd00::10"));
  EXPECT_EQ(incomplete.mac, "");
  EXPECT_EQ(NeighborStateName(incomplete.state), "incomplete");
  EXPECT_TRUE(std::get<NeighborEvent>(parsed.events[3]).removed);
}

TEST(ParseRouteDatagramTest, NeighborStateNames) {
  EXPECT_EQ(NeighborStateName(NUD_STALE), "stale");
  EXPECT_EQ(NeighborStateName(NUD_PERMANENT), "permanent");
  EXPECT_EQ(NeighborStateName(NUD_DELAY), "delay");
  EXPECT_EQ(NeighborStateName(NUD_PROBE), "probe");
  EXPECT_EQ(NeighborStateName(NUD_NOARP), "noarp");
  EXPECT_EQ(NeighborStateName(NUD_FAILED), "failed");
  EXPECT_EQ(NeighborStateName(0), "none");
}

TEST(ParseRouteDatagramTest, MalformedNeighborMessages) {
  {
    DatagramBuilder datagram;
    datagram.Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_REACHABLE, kMacB);
    // Cut the message inside ndmsg.
    datagram.last()->nlmsg_len = sizeof(nlmsghdr) + sizeof(ndmsg) - 1;
    auto parsed = ParseRouteDatagram({datagram.raw().data(), datagram.last()->nlmsg_len});
    EXPECT_EQ(parsed.malformed, "neighbour message shorter than ndmsg");
  }
  {
    // NDA_DST of 3 bytes for IPv4.
    DatagramBuilder datagram;
    nlmsghdr* header = mnl_nlmsg_put_header(datagram.raw().data());
    header->nlmsg_type = RTM_NEWNEIGH;
    auto* info = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ndmsg)));
    info->ndm_family = AF_INET;
    const uint8_t three[3] = {10, 10, 30};
    mnl_attr_put(header, NDA_DST, sizeof three, three);
    auto parsed = ParseRouteDatagram({datagram.raw().data(), header->nlmsg_len});
    EXPECT_EQ(parsed.malformed, "NDA_DST of the wrong length for its family");
  }
  {
    // An attribute claiming more bytes than the message has.
    DatagramBuilder datagram;
    datagram.Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_REACHABLE, kMacB);
    auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(datagram.last(), sizeof(ndmsg)));
    attr->nla_len = 200;
    auto parsed = ParseRouteDatagram(datagram.bytes());
    EXPECT_EQ(parsed.malformed, "neighbour message with malformed attributes");
  }
}

TEST(NeighborTrackerTest, FollowsTheVipEntryOnTheInterface) {
  NeighborTracker tracker("eno1", Ip("10.10.30.10"));
  DatagramBuilder dump;
  dump.LinkWithMac(RTM_NEWLINK, 1, "lo", IFF_UP, {})
      .LinkWithMac(RTM_NEWLINK, 2, "eno1", IFF_UP, kMacA)
      .Neighbor(RTM_NEWNEIGH, 2, "10.10.30.1", NUD_REACHABLE, kMacB)    // another neighbour
      .Neighbor(RTM_NEWNEIGH, 3, "10.10.30.10", NUD_REACHABLE, kMacB);  // another interface
  tracker.Reset(Events(dump));
  EXPECT_TRUE(tracker.interface_present());
  EXPECT_EQ(tracker.interface_mac(), "02:00:00:00:00:0a");
  EXPECT_FALSE(tracker.vip_entry());

  Feed(tracker, DatagramBuilder().Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_REACHABLE, kMacB));
  ASSERT_TRUE(tracker.vip_entry());
  EXPECT_EQ(tracker.vip_entry()->mac, "02:00:00:00:00:0b");

  Feed(tracker, DatagramBuilder().Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_STALE, kMacA));
  EXPECT_EQ(tracker.vip_entry(), (NeighborTracker::Entry{"02:00:00:00:00:0a", NUD_STALE}));

  Feed(tracker, DatagramBuilder().Neighbor(RTM_DELNEIGH, 2, "10.10.30.10", NUD_STALE, kMacA));
  EXPECT_FALSE(tracker.vip_entry());
}

// On a new leader the kernel keeps the entry it had as a follower (the old leader's MAC)
// until garbage collection, but uses its own address: that entry is not reported.
TEST(NeighborTrackerTest, NoEntryWhileTheVipIsOurOwn) {
  NeighborTracker tracker("eno1", Ip("10.10.30.10"));
  tracker.Reset(Events(DatagramBuilder()
                           .LinkWithMac(RTM_NEWLINK, 2, "eno1", IFF_UP, kMacA)
                           .Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_STALE, kMacB)));
  ASSERT_TRUE(tracker.vip_entry());
  Feed(tracker, DatagramBuilder().Address(RTM_NEWADDR, 2, "10.10.30.10", 32));
  EXPECT_FALSE(tracker.vip_entry());
  Feed(tracker, DatagramBuilder().Address(RTM_DELADDR, 2, "10.10.30.10", 32));
  ASSERT_TRUE(tracker.vip_entry());
  EXPECT_EQ(tracker.vip_entry()->mac, "02:00:00:00:00:0b");
}

TEST(NeighborTrackerTest, LinkRemovalForgetsItsEntriesAndMac) {
  NeighborTracker tracker("eno1", Ip("fd00::10"));
  tracker.Reset(Events(DatagramBuilder()
                           .LinkWithMac(RTM_NEWLINK, 2, "eno1", IFF_UP, kMacA)
                           .Neighbor(RTM_NEWNEIGH, 2, "fd00:0:0::10", NUD_REACHABLE, kMacB)));
  ASSERT_TRUE(tracker.vip_entry());
  Feed(tracker, DatagramBuilder().LinkWithMac(RTM_DELLINK, 2, "eno1", 0, kMacA));
  EXPECT_FALSE(tracker.interface_present());
  EXPECT_EQ(tracker.interface_mac(), "");
  EXPECT_FALSE(tracker.vip_entry());
  // Recreated: a new index, no entry until the kernel resolves the VIP again.
  Feed(tracker, DatagramBuilder().LinkWithMac(RTM_NEWLINK, 7, "eno1", IFF_UP, kMacB));
  EXPECT_EQ(tracker.interface_mac(), "02:00:00:00:00:0b");
  EXPECT_FALSE(tracker.vip_entry());
}

TEST(NeighborTrackerTest, VipTrackerIgnoresNeighborsAndTheVipHolderReportsNone) {
  NeighborTracker neighbors("eno1", Ip("10.10.30.10"));
  VipTracker addresses("eno1", Ip("10.10.30.10"));
  DatagramBuilder dump;
  dump.LinkWithMac(RTM_NEWLINK, 2, "eno1", IFF_UP | IFF_RUNNING, kMacA)
      .Address(RTM_NEWADDR, 2, "10.10.30.10", 32)
      .Neighbor(RTM_NEWNEIGH, 2, "10.10.30.10", NUD_REACHABLE, kMacB);
  neighbors.Reset(Events(dump));
  addresses.Reset(Events(dump));
  EXPECT_TRUE(addresses.vip_bound());
  EXPECT_FALSE(neighbors.vip_entry());
}

// The kernel's own view of this namespace, read only: loopback exists and holds 127.0.0.1.
TEST(KernelTest, DumpSeesLoopback) {
  auto dump = DumpLinksAndAddresses(std::chrono::seconds(2));
  ASSERT_TRUE(std::holds_alternative<std::vector<RouteEvent>>(dump))
      << std::get<NetlinkError>(dump).what;
  VipTracker tracker("lo", Ip("127.0.0.1"));
  tracker.Reset(std::get<std::vector<RouteEvent>>(dump));
  EXPECT_TRUE(tracker.interface_present());
  EXPECT_TRUE(tracker.vip_bound());
}

std::map<std::string, double> Samples(Collector& collector, bool& ok) {
  std::vector<prometheus::MetricFamily> families;
  ok = collector.Collect(families);
  std::map<std::string, double> samples;
  for (const auto& family : families) {
    for (const auto& metric : family.metric) samples[family.name] = metric.gauge.value;
  }
  return samples;
}

TEST(VipNetlinkCollectorTest, ReportsLoopbackFromTheKernel) {
  boost::asio::io_context loop;
  VipNetlinkCollector collector(loop, "127.0.0.1", "lo");
  EXPECT_EQ(collector.Name(), "vip_netlink");
  bool ok = false;
  auto samples = Samples(collector, ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(samples["kubevip_vip_bound"], 1);
  EXPECT_GT(samples["kubevip_vip_last_change_timestamp_seconds"], 1.7e9);
  loop.poll();  // handles nothing; the subscription stays armed
}

TEST(VipNetlinkCollectorTest, MissingInterfaceReadsZero) {
  boost::asio::io_context loop;
  VipNetlinkCollector collector(loop, "127.0.0.1", "kvt-absent0");
  bool ok = false;
  auto samples = Samples(collector, ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(samples.at("kubevip_interface_up"), 0);
  EXPECT_EQ(samples.at("kubevip_vip_bound"), 0);
}

TEST(VipNeighborCollectorTest, ReportsLoopbackFromTheKernel) {
  boost::asio::io_context loop;
  VipNeighborCollector collector(loop, "127.0.0.1", "lo");
  EXPECT_EQ(collector.Name(), "vip_neighbor");
  bool ok = false;
  auto samples = Samples(collector, ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(samples["kubevip_interface_info"], 1);
  EXPECT_FALSE(samples.count("kubevip_vip_neighbor_info"));  // no entry for a local address
  EXPECT_GT(samples["kubevip_vip_neighbor_last_change_timestamp_seconds"], 1.7e9);
}

// Without a usable VIP a netlink collector still reports its interface, and only that.
struct WithoutUsableVipCase {
  const char* name;
  CollectorPtr (*make)(boost::asio::io_context& loop, const char* vip);
  const char* vip;
  bool ok;                       // what Collect() returns
  const char* interface_family;  // the one family exported
};

class WithoutUsableVipTest : public ::testing::TestWithParam<WithoutUsableVipCase> {};

TEST_P(WithoutUsableVipTest, ExportsOnlyTheInterface) {
  boost::asio::io_context loop;
  CollectorPtr collector = GetParam().make(loop, GetParam().vip);
  bool ok = !GetParam().ok;
  auto samples = Samples(*collector, ok);
  EXPECT_EQ(ok, GetParam().ok);
  EXPECT_EQ(samples.size(), 1u);
  EXPECT_TRUE(samples.count(GetParam().interface_family));
}

CollectorPtr MakeVipNetlink(boost::asio::io_context& loop, const char* vip) {
  return std::make_unique<VipNetlinkCollector>(loop, vip, "lo");
}
CollectorPtr MakeVipNeighbor(boost::asio::io_context& loop, const char* vip) {
  return std::make_unique<VipNeighborCollector>(loop, vip, "lo");
}

INSTANTIATE_TEST_SUITE_P(
    NetlinkCollectors, WithoutUsableVipTest,
    ::testing::Values(WithoutUsableVipCase{"VipNetlinkNoVip", MakeVipNetlink, "", true,
                                           "kubevip_interface_up"},
                      // An invalid VIP fails the scrape but keeps kubevip_interface_up.
                      WithoutUsableVipCase{"VipNetlinkInvalidVip", MakeVipNetlink, "10.10.30.10/32",
                                           false, "kubevip_interface_up"},
                      WithoutUsableVipCase{"VipNeighborNoVip", MakeVipNeighbor, "", true,
                                           "kubevip_interface_info"}),
    [](const auto& test) { return std::string(test.param.name); });

// Denies socket(AF_NETLINK, ...) with EPERM to this process, as a restrictive seccomp
// profile of a container runtime would. Other system calls are untouched.
bool DenyNetlinkSockets() {
#if defined(__x86_64__)
  constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
  return false;
#endif
  constexpr uint16_t kLoad = BPF_LD | BPF_W | BPF_ABS;
  constexpr uint16_t kJumpIfEqual = BPF_JMP | BPF_JEQ | BPF_K;
  constexpr uint16_t kReturn = BPF_RET | BPF_K;
  sock_filter filter[] = {
      {kLoad, 0, 0, offsetof(seccomp_data, arch)},
      {kJumpIfEqual, 1, 0, kArch},
      {kReturn, 0, 0, SECCOMP_RET_ALLOW},
      {kLoad, 0, 0, offsetof(seccomp_data, nr)},
      {kJumpIfEqual, 0, 3, __NR_socket},
      {kLoad, 0, 0, offsetof(seccomp_data, args[0])},  // the low half: the domain
      {kJumpIfEqual, 0, 1, AF_NETLINK},
      {kReturn, 0, 0, SECCOMP_RET_ERRNO | EPERM},
      {kReturn, 0, 0, SECCOMP_RET_ALLOW},
  };
  sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

// In a child process (a death test), since the seccomp filter cannot be removed again.
TEST(VipNetlinkCollectorTest, FailsCleanlyWhenNetlinkCannotBeOpened) {
  EXPECT_EXIT(
      {
        int failures = 0;
        {
          boost::asio::io_context loop;
          if (!DenyNetlinkSockets()) std::_Exit(2);
          VipNetlinkCollector collector(loop, "127.0.0.1", "lo");
          VipNeighborCollector neighbors(loop, "127.0.0.1", "lo");
          bool ok = true;
          auto samples = Samples(collector, ok);
          failures += ok ? 1 : 0;               // the scrape reports the failure
          failures += samples.empty() ? 0 : 1;  // and claims nothing about the kernel
          samples = Samples(neighbors, ok);
          failures += ok ? 1 : 0;
          failures += samples.empty() ? 0 : 1;
          loop.run_for(std::chrono::milliseconds(10));  // its retry stays pending, harmlessly
        }
        std::exit(failures);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace kvip::netlink
