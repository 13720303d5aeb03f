#pragma once
// A tail or a stream sees bytes in arbitrary pieces; fuzz targets check that the pieces
// never change the result. The pieces' lengths come from the fuzzer's input.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <vector>

namespace kvip::fuzz {

// Up to 16 piece lengths of 0 to 64 bytes.
inline std::vector<size_t> ConsumePieceLengths(FuzzedDataProvider& provider) {
  std::vector<size_t> lengths;
  for (int i = provider.ConsumeIntegralInRange(0, 16); i > 0; --i)
    lengths.push_back(provider.ConsumeIntegralInRange<size_t>(0, 64));
  return lengths;
}

// Calls feed(piece) for `bytes` cut into pieces of these lengths (shorter at the end), then
// for the rest; stops at the first piece feed() refuses (returns false) and returns false.
template <typename Feed>
bool FeedInPieces(std::string_view bytes, const std::vector<size_t>& lengths, Feed&& feed) {
  size_t at = 0;
  for (size_t length : lengths) {
    length = std::min(length, bytes.size() - at);
    if (!feed(bytes.substr(at, length))) return false;
    at += length;
  }
  return feed(bytes.substr(at));
}

}  // namespace kvip::fuzz
