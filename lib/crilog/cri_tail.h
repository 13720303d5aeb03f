#pragma once
// Follows the CRI log files matching a glob, as `tail -F` would, across the kubelet's
// rotation (0.log renamed to 0.log.<timestamp>, a new 0.log created; a container restart
// adds 1.log) and truncation, without losing or re-reading lines.
//
// Files are tracked by device and inode, not by name, and kept open: a renamed file is
// read to its end (the runtime may still write to it until it reopens the new 0.log), and
// an open inode cannot be reused for a new file while it is tracked. Driven by Poll(), so
// the owner decides when (a timer on the daemon's loop).
//
// Limits, as for any tail that polls: a file created and rotated away between two polls
// is never seen (the kubelet rotates at 10 MiB, checked every 10 s); a truncation
// followed by more writes than were read before, all between two polls, is not detected;
// P records are joined within one file, so a line split across a rotation is cut in two.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "crilog/cri_line.h"

namespace kvip::crilog {

struct TailOptions {
  std::string glob;
  // Bytes read per Poll across all files, so a huge backlog cannot stall the loop.
  std::size_t read_budget_bytes = 8 << 20;
  std::size_t max_line_bytes = 1 << 20;
  // A file no longer matching the glob is closed once it had nothing new for this long.
  std::chrono::steady_clock::duration rotated_grace = std::chrono::seconds(5);
};

struct PollReport {
  std::size_t files_matched = 0;  // by the glob in this poll
  std::size_t files_open = 0;     // including rotated files still being drained
  std::size_t files_opened = 0;   // new files found in this poll
  std::size_t files_closed = 0;   // rotated or deleted files finished in this poll
  std::size_t truncations = 0;
  DecodeStats decode;
  std::vector<std::string> problems;  // "open /path: Permission denied", ...
};

class CriTail {
 public:
  using Clock = std::chrono::steady_clock;

  // Positions at the end of every file that matches now: lines written before the tail
  // started are not delivered (counters then count from the exporter's start).
  explicit CriTail(TailOptions options, Clock::time_point now = Clock::now());

  // Delivers every complete logical line appended since the last poll; files that
  // appeared since are read from their beginning.
  PollReport Poll(const CriDecoder::Sink& sink, Clock::time_point now = Clock::now());

  const std::string& glob() const { return options_.glob; }

 private:
  struct TailedFile {
    std::string path;
    UniqueFd fd;
    off_t offset = 0;
    CriDecoder decoder;
    bool matched = true;
    Clock::time_point last_activity;
  };
  using FileKey = std::pair<dev_t, ino_t>;

  void Discover(bool at_end, Clock::time_point now, PollReport& report);
  // Reads what `file` gained, within `budget`; true when it was read to its end.
  bool Drain(TailedFile& file, const CriDecoder::Sink& sink, PollReport& report,
             std::size_t& budget, Clock::time_point now);

  TailOptions options_;
  std::map<FileKey, TailedFile> files_;
  std::vector<char> buffer_;
};

}  // namespace kvip::crilog
