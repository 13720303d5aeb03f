#pragma once
// A tail or a stream sees bytes in arbitrary pieces; fuzz targets check that the pieces
// never change the result. The pieces' lengths come from the fuzzer's input.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kvip::fuzz {

// The input of a chunking target: a line-length bound from 1 to max_line_limit, up to 16
// piece lengths of 0 to 64 bytes, then the bytes themselves (the corpora depend on this order).
struct PiecedInput {
  size_t max_line = 0;
  std::vector<size_t> pieces;
  std::string bytes;
};

inline PiecedInput ConsumePiecedInput(const std::uint8_t* data, std::size_t size,
                                      size_t max_line_limit) {
  FuzzedDataProvider provider(data, size);
  PiecedInput input;
  input.max_line = provider.ConsumeIntegralInRange<size_t>(1, max_line_limit);
  for (int i = provider.ConsumeIntegralInRange(0, 16); i > 0; --i)
    input.pieces.push_back(provider.ConsumeIntegralInRange<size_t>(0, 64));
  input.bytes = provider.ConsumeRemainingBytesAsString();
  return input;
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
