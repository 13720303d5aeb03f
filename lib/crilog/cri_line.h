#pragma once
// The CRI container log format, as containerd and CRI-O write it for the kubelet:
//   <RFC3339Nano timestamp> <stdout|stderr> <tag> <content>\n
// where tag is "F" (full: this record ends a line) or "P" (partial: the line continues in
// the next record of the same stream; containerd splits lines longer than 16 KiB), possibly
// followed by further ':'-separated tags.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kvip::crilog {

enum class CriStream { kStdout, kStderr };

// One physical record; views into the parsed line.
struct CriRecord {
  std::string_view timestamp;
  CriStream stream = CriStream::kStdout;
  bool partial = false;
  std::string_view content;
};

struct ParsedCriLine {
  std::optional<CriRecord> record;
  std::string_view error;  // why `record` is empty; a static description
};

// Parses one physical line, without its trailing newline.
ParsedCriLine ParseCriLine(std::string_view line);

// A complete logical line: the content of its P records joined with its F record.
struct LogLine {
  CriStream stream = CriStream::kStdout;
  std::string_view content;
  bool truncated = false;  // longer than the decoder's bound; content is its beginning
};

struct DecodeStats {
  std::size_t lines = 0;
  std::size_t malformed = 0;
  std::string first_malformed_error;
};

// Turns the raw bytes of one log file, fed in arbitrary pieces, into logical lines.
// Memory is bounded: a physical or logical line beyond `max_line_bytes` is cut there.
class CriDecoder {
 public:
  using Sink = std::function<void(const LogLine&)>;

  explicit CriDecoder(std::size_t max_line_bytes = 1 << 20);

  void Feed(std::string_view bytes, const Sink& sink, DecodeStats& stats);
  // Drops everything up to and including the next newline: for starting mid-file.
  void SkipToNextNewline();
  // Forgets buffered bytes (the file was truncated or replaced).
  void Reset();

 private:
  struct Pending {
    std::string content;
    bool active = false;
    bool truncated = false;
  };

  void EndPhysicalLine(const Sink& sink, DecodeStats& stats);
  Pending& PendingFor(CriStream stream) { return stream == CriStream::kStdout ? stdout_ : stderr_; }

  std::size_t max_line_bytes_;
  std::string physical_;  // an unfinished physical line
  bool physical_truncated_ = false;
  bool skipping_ = false;
  // P records wait per stream: stdout and stderr records interleave in one file.
  Pending stdout_;
  Pending stderr_;
};

}  // namespace kvip::crilog
