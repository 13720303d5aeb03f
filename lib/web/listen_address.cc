#include "web/listen_address.h"

#include <charconv>

namespace kvip {

std::optional<std::string> ToCivetListeningPort(std::string_view address) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535) {
    return std::nullopt;
  }
  if (host.empty()) return std::string(port);  // all IPv4 addresses, as ":9112" means
  if (host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    return std::string(host) + ":" + std::string(port);
  }
  if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  if (host == "localhost") host = "127.0.0.1";
  return std::string(host) + ":" + std::string(port);
}

}  // namespace kvip
