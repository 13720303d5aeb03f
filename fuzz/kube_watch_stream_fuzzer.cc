// The watch stream's framing: the same bytes fed in one piece and in arbitrary pieces must
// give the same lines (or the same overflow), and every line goes to the event parser.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_pieces.h"
#include "kube/lease.h"

namespace {

struct Framed {
  std::vector<std::string> lines;
  bool overflowed = false;
};

Framed FrameInPieces(const std::string& stream, const std::vector<size_t>& pieces,
                     size_t max_line) {
  kvip::kube::LineFramer framer(max_line);
  Framed out;
  auto on_line = [&out](std::string_view line) { out.lines.emplace_back(line); };
  out.overflowed = !kvip::fuzz::FeedInPieces(
      stream, pieces, [&](std::string_view piece) { return framer.Feed(piece, on_line); });
  KVIP_FUZZ_CHECK(out.overflowed || framer.buffered_bytes() <= max_line, "buffer beyond bound");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [max_line, pieces, stream] = kvip::fuzz::ConsumePiecedInput(data, size, 512);

  Framed whole = FrameInPieces(stream, {}, max_line);
  Framed in_pieces = FrameInPieces(stream, pieces, max_line);
  KVIP_FUZZ_CHECK(whole.overflowed == in_pieces.overflowed, "overflow depends on chunking");
  if (!whole.overflowed) {
    KVIP_FUZZ_CHECK(whole.lines == in_pieces.lines, "lines depend on chunking");
  }
  for (const auto& line : whole.lines) {
    KVIP_FUZZ_CHECK(line.find('\n') == std::string::npos, "a line holds a newline");
    KVIP_FUZZ_CHECK(line.size() <= max_line, "a line beyond the bound");
    std::string error;
    auto event = kvip::kube::ParseLeaseWatchEvent(line, error);
    KVIP_FUZZ_CHECK(event.has_value() || !error.empty(), "rejected without saying why");
  }
  return 0;
}
