// Base64 of kubeconfig *-data fields and JWT payloads. Whatever decodes, re-encoding it
// with the standard alphabet and decoding again gives the same bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "fuzz_check.h"

namespace {

std::string Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned group = (static_cast<unsigned char>(bytes[i]) << 16) |
                     (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                     static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(group >> shift) & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    unsigned group = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += rest == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = kvip::DecodeBase64(text);
  if (decoded) {
    KVIP_FUZZ_CHECK(decoded->size() <= text.size(), "decoded longer than its text");
    auto again = kvip::DecodeBase64(Encode(*decoded));
    KVIP_FUZZ_CHECK(again && *again == *decoded, "re-encoded bytes decode differently");
  }
  // Any bytes, encoded, decode to themselves.
  auto round_trip = kvip::DecodeBase64(Encode(text));
  KVIP_FUZZ_CHECK(round_trip && *round_trip == text, "standard base64 does not round-trip");
  return 0;
}
