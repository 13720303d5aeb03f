#pragma once
// The exit codes of the one-shot modes, each written once with its meaning: the code
// returns them (an ExitCode converts to its int), and `--help` prints the tables below
// (ExitCodesHelp). Distinct per failure class, so scripts (ansible) can branch on them.

#include <array>
#include <iterator>
#include <span>
#include <string>

#include "ops/verify_checklist.h"

namespace kvip {

struct ExitCode {
  int code;
  const char* meaning;
  constexpr operator int() const { return code; }  // NOLINT: returned as the exit code
};

inline constexpr ExitCode kUpgradeOk{
    0, "upgraded, already at the target, planned (--dry-run) or rolled back on request"};
inline constexpr ExitCode kUpgradeUsage{2, "usage"};
inline constexpr ExitCode kUpgradeBadInput{3, "manifest or group vars invalid"};
inline constexpr ExitCode kUpgradeClusterUnhealthy{
    4, "cluster unhealthy (API, VIP, lease, no failover target)"};
inline constexpr ExitCode kUpgradeLeaderFirst{5, "leader-last guard"};
inline constexpr ExitCode kUpgradeBackupFailed{6, "backup or state file not writable"};
inline constexpr ExitCode kUpgradeRuntimeFailed{7, "runtime unreachable or pull failed"};
inline constexpr ExitCode kUpgradeRewriteFailed{8, "rewrite failed"};
inline constexpr ExitCode kUpgradeRolledBack{9, "new version failed, rolled back and healthy"};
inline constexpr ExitCode kUpgradeRollbackFailed{10, "rollback not confirmed (act now)"};
inline constexpr ExitCode kUpgradeStateConflict{11, "state file disagrees with the manifest"};
inline constexpr ExitCode kUpgradeGroupVarsFailed{12, "upgraded but group vars not updated"};
inline constexpr ExitCode kUpgradeExitCodes[] = {
    kUpgradeOk,          kUpgradeUsage,          kUpgradeBadInput,      kUpgradeClusterUnhealthy,
    kUpgradeLeaderFirst, kUpgradeBackupFailed,   kUpgradeRuntimeFailed, kUpgradeRewriteFailed,
    kUpgradeRolledBack,  kUpgradeRollbackFailed, kUpgradeStateConflict, kUpgradeGroupVarsFailed};

inline constexpr ExitCode kRecoverOk{0, "recovered or nothing to do"};
inline constexpr ExitCode kRecoverNotConfirmed{1, "acted but recovery not seen"};
inline constexpr ExitCode kRecoverUsage{2, "usage"};
inline constexpr ExitCode kRecoverBadBackup{3, "no usable backup"};
inline constexpr ExitCode kRecoverCannotCheck{4, "API not reachable"};
inline constexpr ExitCode kRecoverRefused{5, "refused by the guard"};
inline constexpr ExitCode kRecoverWriteFailed{6, "write or delete failed"};
inline constexpr ExitCode kRecoverExitCodes[] = {
    kRecoverOk,          kRecoverNotConfirmed, kRecoverUsage,      kRecoverBadBackup,
    kRecoverCannotCheck, kRecoverRefused,      kRecoverWriteFailed};

// verify: one code per checklist item, from ops::kVerifyItems (the item is the code); when
// several items fail, the first in checklist order, which is the lowest code.
inline constexpr ExitCode kVerifyOk{0, "every item passed (or --record-baseline written)"};
inline constexpr ExitCode kVerifyBaselineUnavailable{
    1, "--record-baseline: pods not readable or file not written"};
inline constexpr ExitCode kVerifyUsage{2, "usage, or a --baseline file not readable"};
inline constexpr auto kVerifyExitCodes = [] {
  constexpr ExitCode kOwn[] = {kVerifyOk, kVerifyBaselineUnavailable, kVerifyUsage};
  std::array<ExitCode, std::size(kOwn) + std::size(ops::kVerifyItems)> codes{};
  size_t i = 0;
  for (const ExitCode& code : kOwn) codes[i++] = code;
  for (const ops::VerifyItemInfo& info : ops::kVerifyItems)
    codes[i++] = {static_cast<int>(info.item), info.failure};
  return codes;
}();

inline constexpr ExitCode kRolloutOk{0, "every node on the target (or back), verify passed"};
inline constexpr ExitCode kRolloutVerifyFailed{1, "every node stepped, but verify failed"};
inline constexpr ExitCode kRolloutUsage{2, "usage"};
inline constexpr ExitCode kRolloutBadInput{3, "a node's manifest or state is unusable"};
inline constexpr ExitCode kRolloutClusterUnhealthy{4, "cluster unhealthy before the start"};
inline constexpr ExitCode kRolloutLocked{5, "another rollout holds the lock"};
inline constexpr ExitCode kRolloutPreflightFailed{
    6, "a node's preflight or pre-pull failed; nothing changed"};
inline constexpr ExitCode kRolloutNodeFailed{
    7, "a node's step failed and rolled back; later nodes untouched"};
inline constexpr ExitCode kRolloutNodeRollbackFailed{
    8, "a node's step failed and its rollback is not confirmed (act now)"};
inline constexpr ExitCode kRolloutCannotRun{
    9, "API unreachable, or a step pod could not run (image, RBAC)"};
inline constexpr ExitCode kRolloutInterrupted{10, "stopped by a signal after a node's step"};
inline constexpr ExitCode kRolloutExitCodes[] = {kRolloutOk,
                                                 kRolloutVerifyFailed,
                                                 kRolloutUsage,
                                                 kRolloutBadInput,
                                                 kRolloutClusterUnhealthy,
                                                 kRolloutLocked,
                                                 kRolloutPreflightFailed,
                                                 kRolloutNodeFailed,
                                                 kRolloutNodeRollbackFailed,
                                                 kRolloutCannotRun,
                                                 kRolloutInterrupted};

// "Exit codes: 0 ...; 2 ...; ..." for a subcommand's --help footer.
inline std::string ExitCodesHelp(std::span<const ExitCode> codes) {
  std::string text = "Exit codes:";
  for (const ExitCode& c : codes)
    text += std::string(text.back() == ':' ? " " : "; ") + std::to_string(c.code) + " " + c.meaning;
  return text + ".";
}

}  // namespace kvip
