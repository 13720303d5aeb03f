// ARP/NDP frames about the VIP: parsing, the probes we build, what is observed, and the
// BPF filter (run on byte buffers by the kernel's own interpreter through a socketpair).

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <vector>

#include "lanprobe/frame.h"
#include "lanprobe/observations.h"
#include "lanprobe/packet_socket.h"

namespace kvip::lanprobe {
namespace {

netlink::IpAddress Ip(const char* text) { return *netlink::IpAddress::Parse(text); }

const Mac kOurs = {0x02, 0, 0, 0, 0, 0x01};
const Mac kHolder = {0x02, 0, 0, 0, 0, 0x0a};

std::vector<std::uint8_t> Arp(std::uint16_t operation, const Mac& sender_mac,
                              std::vector<std::uint8_t> sender_ip,
                              std::vector<std::uint8_t> target_ip) {
  std::vector<std::uint8_t> f(6, 0xff);
  f.insert(f.end(), sender_mac.begin(), sender_mac.end());
  f.insert(f.end(), {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, static_cast<std::uint8_t>(operation)});
  f.insert(f.end(), sender_mac.begin(), sender_mac.end());
  f.insert(f.end(), sender_ip.begin(), sender_ip.end());
  f.insert(f.end(), 6, 0);
  f.insert(f.end(), target_ip.begin(), target_ip.end());
  return f;
}

const std::vector<std::uint8_t> kVip4 = {10, 10, 30, 10};

TEST(ParseFrameTest, ArpReplyFromTheHolder) {
  auto frame = ParseFrame(Arp(2, kHolder, kVip4, {0, 0, 0, 0}), Ip("10.10.30.10"));
  EXPECT_EQ(frame.kind, FrameKind::kReply);
  EXPECT_EQ(FormatMac(frame.mac), "02:00:00:00:00:0a");
}

TEST(ParseFrameTest, GratuitousArpAsRequestOrReply) {
  EXPECT_EQ(ParseFrame(Arp(1, kHolder, kVip4, kVip4), Ip("10.10.30.10")).kind,
            FrameKind::kGratuitous);
  EXPECT_EQ(ParseFrame(Arp(2, kHolder, kVip4, kVip4), Ip("10.10.30.10")).kind,
            FrameKind::kGratuitous);
}

TEST(ParseFrameTest, IgnoresWhatIsNotAboutTheVip) {
  // Another address, a request from the holder for someone else, another EtherType.
  EXPECT_EQ(ParseFrame(Arp(2, kHolder, {10, 10, 30, 11}, {0, 0, 0, 0}), Ip("10.10.30.10")).kind,
            FrameKind::kIgnored);
  EXPECT_EQ(ParseFrame(Arp(1, kHolder, kVip4, {10, 10, 30, 1}), Ip("10.10.30.10")).kind,
            FrameKind::kIgnored);
  auto ipv4 = Arp(2, kHolder, kVip4, {0, 0, 0, 0});
  ipv4[13] = 0x00;  // 0x0800
  EXPECT_EQ(ParseFrame(ipv4, Ip("10.10.30.10")).kind, FrameKind::kIgnored);
  EXPECT_EQ(ParseFrame(Arp(2, kHolder, kVip4, {0, 0, 0, 0}), Ip("fd00::10")).kind,
            FrameKind::kIgnored);
}

TEST(ParseFrameTest, MalformedArp) {
  auto frame = Arp(2, kHolder, kVip4, {0, 0, 0, 0});
  auto short_frame = frame;
  short_frame.resize(41);
  EXPECT_EQ(ParseFrame(short_frame, Ip("10.10.30.10")).kind, FrameKind::kMalformed);
  auto bad_length = frame;
  bad_length[18] = 5;  // hardware address length
  EXPECT_EQ(ParseFrame(bad_length, Ip("10.10.30.10")).malformed,
            "ARP frame not for Ethernet and IPv4");
  auto bad_operation = frame;
  bad_operation[21] = 9;
  EXPECT_EQ(ParseFrame(bad_operation, Ip("10.10.30.10")).kind, FrameKind::kMalformed);
  EXPECT_EQ(ParseFrame(std::vector<std::uint8_t>(13, 0), Ip("10.10.30.10")).kind,
            FrameKind::kMalformed);
}

TEST(BuildProbeTest, ArpProbeFromZeroToBroadcast) {
  auto frame = BuildProbe(Ip("10.10.30.10"), kOurs);
  ASSERT_EQ(frame.size(), 42u);
  EXPECT_EQ(std::vector<std::uint8_t>(frame.begin(), frame.begin() + 6),
            std::vector<std::uint8_t>(6, 0xff));
  EXPECT_EQ(frame[21], 1);  // request
  EXPECT_EQ(std::vector<std::uint8_t>(frame.begin() + 28, frame.begin() + 32),
            std::vector<std::uint8_t>(4, 0));  // sender 0.0.0.0
  EXPECT_EQ(std::vector<std::uint8_t>(frame.begin() + 38, frame.end()), kVip4);
  // Our own probe is not an answer.
  EXPECT_EQ(ParseFrame(frame, Ip("10.10.30.10")).kind, FrameKind::kIgnored);
}

// A neighbour advertisement for `target` from `mac`, built from our own solicitation's
// layout: flip the type to 136 and set the flags.
std::vector<std::uint8_t> Advertisement(const netlink::IpAddress& target, const Mac& mac,
                                        bool solicited) {
  auto link_local = Ip("fe80::1");
  auto frame = BuildProbe(target, mac, &link_local);
  frame[54] = 136;
  frame[58] = solicited ? 0x60 : 0x20;
  frame[78] = 2;  // target link-layer address option
  return frame;
}

TEST(NdpTest, SolicitationLayoutAndChecksum) {
  auto link_local = Ip("fe80::1");
  auto frame = BuildProbe(Ip("fd00::10"), kOurs, &link_local);
  ASSERT_EQ(frame.size(), 14u + 40 + 32);
  EXPECT_EQ(frame[0], 0x33);
  EXPECT_EQ(frame[2], 0xff);
  EXPECT_EQ(frame[5], 0x10);  // last byte of the VIP
  EXPECT_EQ(frame[20], 58);
  EXPECT_EQ(frame[21], 255);
  EXPECT_EQ(frame[54], 135);
  // A valid checksum sums (with the pseudo-header) to 0xffff; recompute independently.
  std::uint32_t sum = 0;
  for (size_t i = 22; i < 54; i += 2) sum += frame[i] << 8 | frame[i + 1];  // addresses
  sum += 32 + 58;
  for (size_t i = 54; i < frame.size(); i += 2) sum += frame[i] << 8 | frame[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
  EXPECT_EQ(ParseFrame(frame, Ip("fd00::10")).kind, FrameKind::kIgnored);  // a solicitation
}

TEST(NdpTest, SolicitedAndUnsolicitedAdvertisements) {
  auto reply = ParseFrame(Advertisement(Ip("fd00::10"), kHolder, true), Ip("fd00::10"));
  EXPECT_EQ(reply.kind, FrameKind::kReply);
  EXPECT_EQ(reply.mac, kHolder);
  EXPECT_EQ(ParseFrame(Advertisement(Ip("fd00::10"), kHolder, false), Ip("fd00::10")).kind,
            FrameKind::kGratuitous);
  EXPECT_EQ(ParseFrame(Advertisement(Ip("fd00::11"), kHolder, true), Ip("fd00::10")).kind,
            FrameKind::kIgnored);
}

TEST(NdpTest, MalformedAdvertisements) {
  auto hop_limit = Advertisement(Ip("fd00::10"), kHolder, true);
  hop_limit[21] = 64;
  EXPECT_EQ(ParseFrame(hop_limit, Ip("fd00::10")).kind, FrameKind::kMalformed);
  auto zero_option = Advertisement(Ip("fd00::10"), kHolder, true);
  zero_option[79] = 0;
  EXPECT_EQ(ParseFrame(zero_option, Ip("fd00::10")).malformed,
            "neighbour advertisement with a malformed option");
  auto long_payload = Advertisement(Ip("fd00::10"), kHolder, true);
  long_payload[19] = 200;
  EXPECT_EQ(ParseFrame(long_payload, Ip("fd00::10")).malformed,
            "IPv6 payload longer than the frame");
}

TEST(ObservationsTest, WindowsGratuitousAndBounds) {
  Observations seen;
  EXPECT_FALSE(seen.responders());
  seen.Record({FrameKind::kReply, kHolder, {}}, 1);
  seen.Record({FrameKind::kReply, kHolder, {}}, 1);
  seen.Record({FrameKind::kMalformed, {}, "x"}, 1);
  seen.Record({FrameKind::kIgnored, kOurs, {}}, 1);
  EXPECT_FALSE(seen.responders());  // the window is still open
  seen.CloseWindow();
  ASSERT_TRUE(seen.responders());
  EXPECT_EQ(*seen.responders(), (std::set<std::string>{"02:00:00:00:00:0a"}));
  EXPECT_EQ(seen.malformed(), 1u);
  seen.CloseWindow();
  EXPECT_TRUE(seen.responders()->empty());  // nobody answered the next probe

  seen.Record({FrameKind::kGratuitous, kHolder, {}}, 5);
  seen.Record({FrameKind::kGratuitous, kHolder, {}}, 7);
  EXPECT_EQ(seen.gratuitous().at("02:00:00:00:00:0a").count, 2u);
  EXPECT_EQ(seen.gratuitous().at("02:00:00:00:00:0a").last_seen_seconds, 7);

  for (std::uint8_t i = 0; i < 100; ++i) {
    seen.Record({FrameKind::kGratuitous, {0x02, 1, 1, 1, 1, i}, {}}, 8);
    seen.Record({FrameKind::kReply, {0x02, 1, 1, 1, 1, i}, {}}, 8);
  }
  seen.CloseWindow();
  EXPECT_EQ(seen.gratuitous().size(), Observations::kMaxMacs + 1);
  EXPECT_EQ(seen.responders()->size(), Observations::kMaxMacs + 1);
  EXPECT_EQ(seen.gratuitous().at(Observations::kOtherMacs).count, 100u - 31);
}

// Runs the filter in the kernel: frames written to one end of a datagram socketpair reach
// the other end only if the attached program accepts them.
bool Accepted(const netlink::IpAddress& vip, const std::vector<std::uint8_t>& frame) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds) != 0) return false;
  auto filter = VipFrameFilter(vip);
  sock_fprog program{static_cast<unsigned short>(filter.size()), filter.data()};
  bool accepted = false;
  if (setsockopt(fds[1], SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) == 0 &&
      send(fds[0], frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size())) {
    std::uint8_t buffer[512];
    accepted = recv(fds[1], buffer, sizeof buffer, 0) > 0;
  }
  close(fds[0]);
  close(fds[1]);
  return accepted;
}

TEST(VipFrameFilterTest, PassesOnlyArpAndNdpAboutTheVip) {
  EXPECT_TRUE(Accepted(Ip("10.10.30.10"), Arp(2, kHolder, kVip4, {0, 0, 0, 0})));
  EXPECT_TRUE(Accepted(Ip("10.10.30.10"), Arp(1, kHolder, kVip4, kVip4)));
  EXPECT_FALSE(Accepted(Ip("10.10.30.10"), Arp(2, kHolder, {10, 10, 30, 11}, {0, 0, 0, 0})));
  EXPECT_FALSE(Accepted(Ip("10.10.30.10"), BuildProbe(Ip("10.10.30.10"), kOurs)));
  EXPECT_TRUE(Accepted(Ip("fd00::10"), Advertisement(Ip("fd00::10"), kHolder, true)));
  EXPECT_FALSE(Accepted(Ip("fd00::10"), Advertisement(Ip("fd00::11"), kHolder, true)));
  auto link_local = Ip("fe80::1");
  EXPECT_FALSE(Accepted(Ip("fd00::10"), BuildProbe(Ip("fd00::10"), kOurs, &link_local)));
}

}  // namespace
}  // namespace kvip::lanprobe
