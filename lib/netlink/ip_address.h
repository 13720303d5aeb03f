#pragma once
// An IPv4 or IPv6 address compared by value (family and bytes), never by its text:
// "2001:db8::1" and "2001:0db8:0:0::0001" are the same VIP.

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kvip::netlink {

class IpAddress {
 public:
  // Accepts a plain address ("10.10.30.10", "fd00::10"); no prefix, no zone.
  static std::optional<IpAddress> Parse(std::string_view text);
  // From a netlink IFA_ADDRESS/IFA_LOCAL payload: 4 bytes for AF_INET, 16 for AF_INET6.
  static std::optional<IpAddress> FromBytes(int family, std::span<const std::byte> bytes);

  int family() const { return family_; }
  std::span<const std::uint8_t> bytes() const {
    return {bytes_.data(), family_ == AF_INET ? 4u : 16u};
  }
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  IpAddress(int family, std::array<std::uint8_t, 16> bytes) : family_(family), bytes_(bytes) {}

  int family_;
  std::array<std::uint8_t, 16> bytes_;
};

}  // namespace kvip::netlink
