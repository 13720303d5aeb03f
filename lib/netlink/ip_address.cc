#include "netlink/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace kvip::netlink {

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string terminated(text);
  std::array<std::uint8_t, 16> bytes{};
  if (inet_pton(AF_INET, terminated.c_str(), bytes.data()) == 1) {
    return IpAddress(AF_INET, bytes);
  }
  if (inet_pton(AF_INET6, terminated.c_str(), bytes.data()) == 1) {
    return IpAddress(AF_INET6, bytes);
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::FromBytes(int family, std::span<const std::byte> bytes) {
  size_t expected = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  if (expected == 0 || bytes.size() != expected) return std::nullopt;
  std::array<std::uint8_t, 16> copy{};
  std::memcpy(copy.data(), bytes.data(), expected);
  return IpAddress(family, copy);
}

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_, bytes_.data(), text, sizeof text);
  return text;
}

}  // namespace kvip::netlink
