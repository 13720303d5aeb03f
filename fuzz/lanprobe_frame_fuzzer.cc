// Ethernet frames as the ARP/NDP probe reads them from its packet socket (anything a host
// on the LAN sends that passes the filter, and more). The first byte picks the VIP (IPv4
// or IPv6); the rest is the frame. A frame either parses or is malformed, never read past
// its end; a claimed MAC prints as six hex pairs; the observations stay bounded.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.h"
#include "lanprobe/frame.h"
#include "lanprobe/observations.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const auto kVip4 = *kvip::netlink::IpAddress::Parse("10.10.30.10");
  static const auto kVip6 = *kvip::netlink::IpAddress::Parse("fd00:30::10");
  const auto& vip = data[0] & 1 ? kVip6 : kVip4;
  // An exact-length copy, so ASan sees any read past the frame.
  auto* exact = new std::uint8_t[size - 1];
  if (size > 1) std::memcpy(exact, data + 1, size - 1);
  kvip::lanprobe::Frame frame =
      kvip::lanprobe::ParseFrame(std::span<const std::uint8_t>(exact, size - 1), vip);
  delete[] exact;

  const bool malformed = frame.kind == kvip::lanprobe::FrameKind::kMalformed;
  KVIP_FUZZ_CHECK(malformed == !frame.malformed.empty(), "malformed without a reason, or back");
  KVIP_FUZZ_CHECK(kvip::lanprobe::FormatMac(frame.mac).size() == 17, "a MAC that is not 6 bytes");

  kvip::lanprobe::Observations observations;
  for (int i = 0; i < 3; ++i) observations.Record(frame, 1);
  observations.CloseWindow();
  KVIP_FUZZ_CHECK(observations.responders()->size() <= 1 && observations.gratuitous().size() <= 1,
                  "one frame made more than one MAC");
  return 0;
}
