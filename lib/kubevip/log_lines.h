#pragma once
// kube-vip's lease-renewal conflict lines, for the daemon's log tail (kubevip_log collector)
// and the one-shot modes' pod log check alike: v1.0.3 (client-go klog printf) logs
// "Failed to update lock optimistically", v1.0.4 "Failed to update lease optimistically".

#include <string_view>

namespace kvip::kubevip {

bool IsLockConflictLine(std::string_view line);
// Lines of `text` (newline-separated) that are lock conflicts.
int CountLockConflictLines(std::string_view text);

}  // namespace kvip::kubevip
