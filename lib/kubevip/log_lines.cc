#include "kubevip/log_lines.h"

namespace kvip::kubevip {

bool IsLockConflictLine(std::string_view line) {
  return line.find("Failed to update lock optimistically") != std::string_view::npos ||
         line.find("Failed to update lease optimistically") != std::string_view::npos;
}

int CountLockConflictLines(std::string_view text) {
  int count = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (IsLockConflictLine(text.substr(0, end))) ++count;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return count;
}

}  // namespace kvip::kubevip
