#include "crilog/cri_tail.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kvip::crilog {
namespace {

constexpr std::size_t kReadChunkBytes = std::size_t{64} * 1024;

// globfree() on scope exit.
class GlobMatches {
 public:
  // A directory that does not exist (a pod without a kube-vip container) is no error; one
  // that cannot be read is: it could hide kube-vip's log.
  static int StopOnUnreadableDirectory(const char*, int error) {
    return error != ENOENT && error != ENOTDIR;
  }

  explicit GlobMatches(const std::string& pattern)
      : status_(glob(pattern.c_str(), GLOB_NOSORT, StopOnUnreadableDirectory, &matches_)) {}
  ~GlobMatches() { globfree(&matches_); }
  GlobMatches(const GlobMatches&) = delete;
  GlobMatches& operator=(const GlobMatches&) = delete;

  int status() const { return status_; }
  std::size_t size() const { return status_ == 0 ? matches_.gl_pathc : 0; }
  const char* operator[](std::size_t i) const { return matches_.gl_pathv[i]; }

 private:
  glob_t matches_{};
  int status_;
};

std::string ErrnoProblem(const char* doing, const std::string& path, int code) {
  return std::string(doing) + " " + path + ": " + std::strerror(code);
}

}  // namespace

CriTail::CriTail(TailOptions options, Clock::time_point now)
    : options_(std::move(options)), buffer_(kReadChunkBytes) {
  PollReport ignored;
  Discover(/*at_end=*/true, now, ignored);
}

void CriTail::Discover(bool at_end, Clock::time_point now, PollReport& report) {
  GlobMatches matches(options_.glob);
  if (matches.status() == GLOB_ABORTED || matches.status() == GLOB_NOSPACE) {
    report.problems.push_back("glob " + options_.glob +
                              (matches.status() == GLOB_ABORTED
                                   ? ": a directory on the path cannot be read"
                                   : ": out of memory"));
    // Not knowing is not "gone": keep what matched before, lest a file be closed and later
    // found again as new, and read twice.
    for (const auto& [key, file] : files_) report.files_matched += file.matched ? 1 : 0;
    return;
  }
  for (auto& [key, file] : files_) {
    if (file.matched) file.last_activity = now;  // the rotation grace starts now if unmatched
    file.matched = false;
  }
  for (std::size_t i = 0; i < matches.size(); ++i) {
    std::string path = matches[i];
    struct stat info {};
    if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;  // raced away
    if (auto it = files_.find({info.st_dev, info.st_ino}); it != files_.end()) {
      it->second.matched = true;
      it->second.path = std::move(path);
      continue;
    }
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
      report.problems.push_back(ErrnoProblem("open", path, errno));
      continue;
    }
    // Key by what was opened: the name may have been replaced since the stat above.
    if (fstat(fd.get(), &info) != 0) {
      report.problems.push_back(ErrnoProblem("stat", path, errno));
      continue;
    }
    FileKey key{info.st_dev, info.st_ino};
    if (auto it = files_.find(key); it != files_.end()) {
      it->second.matched = true;
      continue;
    }
    TailedFile file{
        std::move(path), std::move(fd), 0, CriDecoder(options_.max_line_bytes), true, now};
    if (at_end && info.st_size > 0) {
      file.offset = info.st_size;
      // Started in the middle of a line being written: its beginning is gone, skip it.
      char last = '\n';
      if (pread(file.fd.get(), &last, 1, info.st_size - 1) == 1 && last != '\n') {
        file.decoder.SkipToNextNewline();
      }
    }
    files_.emplace(key, std::move(file));
    ++report.files_opened;
  }
  report.files_matched = 0;
  for (const auto& [key, file] : files_) report.files_matched += file.matched ? 1 : 0;
}

PollReport CriTail::Poll(const CriDecoder::Sink& sink, Clock::time_point now) {
  PollReport report;
  Discover(/*at_end=*/false, now, report);
  std::size_t budget = options_.read_budget_bytes;
  for (auto it = files_.begin(); it != files_.end();) {
    TailedFile& file = it->second;
    bool drained = Drain(file, sink, report, budget, now);
    if (!file.matched && drained && now - file.last_activity >= options_.rotated_grace) {
      it = files_.erase(it);
      ++report.files_closed;
      continue;
    }
    ++it;
  }
  report.files_open = files_.size();
  return report;
}

bool CriTail::Drain(TailedFile& file, const CriDecoder::Sink& sink, PollReport& report,
                    std::size_t& budget, Clock::time_point now) {
  struct stat info {};
  if (fstat(file.fd.get(), &info) != 0) {
    report.problems.push_back(ErrnoProblem("stat", file.path, errno));
    return true;
  }
  if (info.st_size < file.offset) {
    // Truncated in place (copytruncate, or `> file`): start over from its new beginning.
    file.offset = 0;
    file.decoder.Reset();
    ++report.truncations;
  }
  while (file.offset < info.st_size && budget > 0) {
    std::size_t want =
        std::min({buffer_.size(), budget, static_cast<std::size_t>(info.st_size - file.offset)});
    ssize_t n = pread(file.fd.get(), buffer_.data(), want, file.offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      report.problems.push_back(ErrnoProblem("read", file.path, errno));
      return true;
    }
    if (n == 0) break;  // shrank while reading; the next poll sees the truncation
    file.offset += n;
    budget -= static_cast<std::size_t>(n);
    file.last_activity = now;
    file.decoder.Feed({buffer_.data(), static_cast<std::size_t>(n)}, sink, report.decode);
  }
  return file.offset >= info.st_size;
}

}  // namespace kvip::crilog
