#pragma once
// Prometheus-style listen addresses (":9112", "127.0.0.1:9112", "[::1]:9112", "localhost:0").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvip {

struct ListenAddress {
  std::string host;  // empty: every local address (IPv6 and IPv4 when the host has both)
  uint16_t port = 0;
};

// Returns nullopt when the address is not host:port with a port in 0..65535, or an IPv6
// host lacks its brackets. "localhost" becomes 127.0.0.1, as before.
std::optional<ListenAddress> ParseListenAddress(std::string_view address);

}  // namespace kvip
