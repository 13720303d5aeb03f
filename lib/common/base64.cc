#include "common/base64.h"

namespace kvip {
namespace {

int SextetOf(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned bits = 0;
  int bit_count = 0;
  size_t sextets = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    int sextet = SextetOf(c);
    if (sextet < 0 || padding) return std::nullopt;  // junk, or data after padding
    bits = (bits << 6) | static_cast<unsigned>(sextet);
    bit_count += 6;
    ++sextets;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xFF));
    }
  }
  if (sextets % 4 == 1) return std::nullopt;  // 6 bits cannot encode a byte
  return out;
}

}  // namespace kvip
