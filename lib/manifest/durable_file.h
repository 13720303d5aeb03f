#pragma once
// Crash-safe file replacement for files a kubelet or a person may read at any moment:
// the new content goes to a dot-file in the same directory (kubelet ignores dot-files in
// its static pod directory), is fsynced, renamed over the target, and the directory is
// fsynced, so a reader sees the old file or the new one, never a torn one.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace kvip::manifest {

struct FileOwnership {
  mode_t mode = 0644;  // permission bits only
  uid_t uid = 0;
  gid_t gid = 0;
};

// Mode and owner of `path`, or nullopt (and `error`) when it cannot be stat'ed.
std::optional<FileOwnership> OwnershipOf(const std::string& path, std::string& error);

// Replaces `path` with `content` atomically and durably, giving it `ownership`. On any
// failure (e.g. ENOSPC) the target is untouched, the temp file removed, and `error` says
// which file and why.
bool WriteFileAtomically(const std::string& path, std::string_view content,
                         const FileOwnership& ownership, std::string& error);

// Copies `from` to `to` through WriteFileAtomically, keeping `from`'s mode and owner.
bool CopyFileDurably(const std::string& from, const std::string& to, std::string& error);

// Free bytes available to this process in the filesystem holding `dir`.
std::optional<unsigned long long> FreeBytes(const std::string& dir, std::string& error);

// The temp name WriteFileAtomically uses for `path`: "<dir>/.<name>.kvip-tmp".
std::string TempPathFor(const std::string& path);

}  // namespace kvip::manifest
