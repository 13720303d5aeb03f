// kube-vip's CRI container log as the kubevip_log collector reads it: physical lines, P/F
// partial-line joining across the stdout and stderr streams, the line-length bound, and the
// classification of each logical line. The same bytes read in one piece or in arbitrary
// pieces (as a tail sees a growing file) give the same logical lines.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "collectors/kubevip_log.h"
#include "crilog/cri_line.h"
#include "fuzz_check.h"
#include "fuzz_pieces.h"

namespace {

struct Decoded {
  std::vector<std::string> lines;  // stream tag, truncation mark and content
  kvip::crilog::DecodeStats stats;
};

Decoded Decode(const std::string& bytes, const std::vector<size_t>& pieces, size_t max_line) {
  kvip::crilog::CriDecoder decoder(max_line);
  Decoded out;
  auto sink = [&out, max_line](const kvip::crilog::LogLine& line) {
    KVIP_FUZZ_CHECK(line.content.size() <= max_line, "a logical line beyond the bound");
    (void)kvip::ClassifyKubeVipLogLine(line.content);
    out.lines.push_back(std::string(line.stream == kvip::crilog::CriStream::kStdout ? "o" : "e") +
                        (line.truncated ? "t" : "-") + std::string(line.content));
  };
  kvip::fuzz::FeedInPieces(bytes, pieces, [&](std::string_view piece) {
    decoder.Feed(piece, sink, out.stats);
    return true;
  });
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [max_line, pieces, bytes] = kvip::fuzz::ConsumePiecedInput(data, size, 256);

  // Each physical line alone.
  size_t start = 0;
  while (start <= bytes.size()) {
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    auto parsed = kvip::crilog::ParseCriLine(std::string_view(bytes).substr(start, end - start));
    KVIP_FUZZ_CHECK(parsed.record.has_value() || !parsed.error.empty(),
                    "rejected without saying why");
    if (parsed.record) {
      (void)kvip::ClassifyKubeVipLogLine(parsed.record->content);
    }
    start = end + 1;
  }

  Decoded whole = Decode(bytes, {}, max_line);
  Decoded in_pieces = Decode(bytes, pieces, max_line);
  KVIP_FUZZ_CHECK(whole.lines == in_pieces.lines, "logical lines depend on chunking");
  KVIP_FUZZ_CHECK(whole.stats.lines == in_pieces.stats.lines &&
                      whole.stats.malformed == in_pieces.stats.malformed,
                  "counts depend on chunking");
  KVIP_FUZZ_CHECK(whole.stats.lines == whole.lines.size(), "lines counted but not delivered");
  return 0;
}
