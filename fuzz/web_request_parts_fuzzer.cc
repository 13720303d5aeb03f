// What a client sends to the exporter and it parses itself: the Authorization header (the
// HTTP framing is Boost.Beast's), and listen addresses. Whatever basic-auth credentials
// parse, encoding them again gives the same user and password.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "web/basic_auth.h"
#include "web/listen_address.h"

namespace {

std::string EncodeBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    unsigned group = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) group |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[group & 63] : '=';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto credentials = kvip::ParseBasicAuthorization(text)) {
    KVIP_FUZZ_CHECK(credentials->user.find(':') == std::string::npos, "a user name with a colon");
    auto again = kvip::ParseBasicAuthorization(
        "Basic " + EncodeBase64(credentials->user + ":" + credentials->password));
    KVIP_FUZZ_CHECK(
        again && again->user == credentials->user && again->password == credentials->password,
        "credentials do not survive encoding again");
  }
  // Any credentials round-trip through the header.
  std::string_view user = text.substr(0, text.find(':'));
  std::string_view password = user.size() < text.size() ? text.substr(user.size() + 1) : "";
  auto parsed = kvip::ParseBasicAuthorization(
      "basic " + EncodeBase64(std::string(user) + ":" + std::string(password)));
  KVIP_FUZZ_CHECK(parsed && parsed->user == user && parsed->password == password,
                  "encoded credentials do not parse back");

  if (auto address = kvip::ParseListenAddress(text)) {
    KVIP_FUZZ_CHECK(address->host.find(':') == std::string::npos || text.front() == '[',
                    "an IPv6 host without brackets");
  }
  return 0;
}
