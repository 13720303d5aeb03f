#include "manifest/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/read_file.h"
#include "common/unique_fd.h"

namespace kvip::manifest {
namespace {

using kvip::UniqueFd;

std::string Errno(int err) { return std::strerror(err); }

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string TempPathFor(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + name + ".kvip-tmp";
}

std::optional<FileOwnership> OwnershipOf(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": cannot stat: " + Errno(errno);
    return std::nullopt;
  }
  return FileOwnership{st.st_mode & 07777, st.st_uid, st.st_gid};
}

bool WriteFileAtomically(const std::string& path, std::string_view content,
                         const FileOwnership& ownership, std::string& error) {
  const std::string temp = TempPathFor(path);
  // Reads errno before anything else can change it, then removes the temp file.
  auto fail = [&](const char* what) {
    int err = errno;
    error = temp + ": " + what + ": " + Errno(err);
    ::unlink(temp.c_str());
    return false;
  };
  // O_EXCL after removing a leftover: a crashed earlier run may have left the temp file.
  ::unlink(temp.c_str());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    error = temp + ": cannot create: " + Errno(errno);
    return false;
  }
  if (!WriteAll(fd.get(), content)) return fail("cannot write");
  if (::fchown(fd.get(), ownership.uid, ownership.gid) != 0) {
    // Only root can give a file away; keeping our own uid is fine when it is the one asked.
    if (errno != EPERM || ownership.uid != ::geteuid()) return fail("cannot chown");
  }
  if (::fchmod(fd.get(), ownership.mode) != 0) return fail("cannot chmod");
  if (::fsync(fd.get()) != 0) return fail("cannot fsync");
  fd.Reset();  // fsync has reported any deferred write error
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    error = "cannot rename " + temp + " to " + path + ": " + Errno(err);
    ::unlink(temp.c_str());
    return false;
  }
  const std::string dir = DirOf(path);
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
    // The rename happened; only its durability across a power cut is in doubt.
    error = dir + ": cannot fsync directory after renaming " + path + ": " + Errno(errno);
    return false;
  }
  return true;
}

bool CopyFileDurably(const std::string& from, const std::string& to, std::string& error) {
  auto ownership = OwnershipOf(from, error);
  if (!ownership) return false;
  std::string content;
  if (!ReadFileBounded(from, content, 16 << 20, error)) return false;
  return WriteFileAtomically(to, content, *ownership, error);
}

std::optional<unsigned long long> FreeBytes(const std::string& dir, std::string& error) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    error = dir + ": cannot statvfs: " + Errno(errno);
    return std::nullopt;
  }
  return static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
}

}  // namespace kvip::manifest
