#pragma once
// What identifies one version of a file cheaply: re-read a file (a rotated token, an edited
// manifest, the web config and its certificates) only when its stamp changes. stat(2) follows
// symlinks, so the kubelet's ..data swap of a projected volume shows as a new inode.

#include <sys/stat.h>

#include <optional>
#include <string>

namespace kvip {

struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = -1;
  long long mtime_ns = -1;
  long long ctime_ns = -1;  // also catches a chmod/chown, and an mtime set back by a copy
  bool operator==(const FileStamp&) const = default;
};

// The stamp of `path`, or nullopt when it cannot be stat'ed (errno says why).
inline std::optional<FileStamp> StampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{st.st_dev, st.st_ino, st.st_size,
                   static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
                   static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec};
}

}  // namespace kvip
