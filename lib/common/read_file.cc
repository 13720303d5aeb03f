#include "common/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace kvip {

bool ReadFileBounded(const std::string& path, std::string& out, size_t max_bytes,
                     std::string& error) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    error = path + ": cannot read: " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = path + ": cannot read: " + std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      error = path + ": larger than " + std::to_string(max_bytes) + " bytes";
      return false;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace kvip
