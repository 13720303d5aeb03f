// rtnetlink datagrams as the VIP tracker reads them from its route socket (link and address
// dumps and events). Corrupt lengths must never walk out of the datagram; every address
// read back prints and parses to itself. The input doubles as IpAddress text (--vip flag
// and kube-vip's manifest `address`).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "netlink/ip_address.h"
#include "netlink/route_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A receive buffer is aligned for nlmsghdr (operator new's alignment is enough) and this
  // copy is exactly `size` long, so ASan sees any read past the datagram.
  auto* exact = new std::byte[size];
  if (size > 0) std::memcpy(exact, data, size);
  kvip::netlink::ParsedDatagram parsed =
      kvip::netlink::ParseRouteDatagram(std::span<const std::byte>(exact, size));
  delete[] exact;

  KVIP_FUZZ_CHECK(parsed.error >= 0 && parsed.error < 4096, "an errno out of range");
  for (const auto& event : parsed.events) {
    if (const auto* address = std::get_if<kvip::netlink::AddressEvent>(&event)) {
      auto text = address->address.ToString();
      auto again = kvip::netlink::IpAddress::Parse(text);
      KVIP_FUZZ_CHECK(again && *again == address->address,
                      "an address does not print and parse back", text);
    }
  }

  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto address = kvip::netlink::IpAddress::Parse(text)) {
    auto again = kvip::netlink::IpAddress::Parse(address->ToString());
    KVIP_FUZZ_CHECK(again && *again == *address, "a parsed address does not print and parse back");
  }
  return 0;
}
