#pragma once
// Translates Prometheus-style listen addresses (":9112", "127.0.0.1:9112", "[::1]:9112")
// into civetweb's listening_ports syntax.

#include <optional>
#include <string>
#include <string_view>

namespace kvip {

// Returns nullopt when the address is not host:port with a port in 0..65535.
std::optional<std::string> ToCivetListeningPort(std::string_view address);

}  // namespace kvip
