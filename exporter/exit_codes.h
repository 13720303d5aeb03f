#pragma once
// The exit codes of the one-shot modes, each written once: the enums are what the code
// returns, the tables what `--help` says about them (ExitCodesHelp), in the same place.

#include <span>
#include <string>

namespace kvip {

// Distinct per failure class, so scripts (ansible) can branch on them.
enum UpgradeExit : int {
  kUpgradeOk = 0,
  kUpgradeUsage = 2,
  kUpgradeBadInput = 3,
  kUpgradeClusterUnhealthy = 4,
  kUpgradeLeaderFirst = 5,
  kUpgradeBackupFailed = 6,
  kUpgradeRuntimeFailed = 7,
  kUpgradeRewriteFailed = 8,
  kUpgradeRolledBack = 9,
  kUpgradeRollbackFailed = 10,
  kUpgradeStateConflict = 11,
  kUpgradeGroupVarsFailed = 12,
};

enum RecoverExit : int {
  kRecoverOk = 0,
  kRecoverNotConfirmed = 1,
  kRecoverUsage = 2,
  kRecoverBadBackup = 3,
  kRecoverCannotCheck = 4,
  kRecoverRefused = 5,
  kRecoverWriteFailed = 6,
};

struct ExitCode {
  int code;
  const char* meaning;
};

inline constexpr ExitCode kUpgradeExitCodes[] = {
    {kUpgradeOk, "upgraded, already at the target, planned (--dry-run) or rolled back on request"},
    {kUpgradeUsage, "usage"},
    {kUpgradeBadInput, "manifest or group vars invalid"},
    {kUpgradeClusterUnhealthy, "cluster unhealthy (API, VIP, lease, no failover target)"},
    {kUpgradeLeaderFirst, "leader-last guard"},
    {kUpgradeBackupFailed, "backup or state file not writable"},
    {kUpgradeRuntimeFailed, "runtime unreachable or pull failed"},
    {kUpgradeRewriteFailed, "rewrite failed"},
    {kUpgradeRolledBack, "new version failed, rolled back and healthy"},
    {kUpgradeRollbackFailed, "rollback not confirmed (act now)"},
    {kUpgradeStateConflict, "state file disagrees with the manifest"},
    {kUpgradeGroupVarsFailed, "upgraded but group vars not updated"},
};

inline constexpr ExitCode kRecoverExitCodes[] = {
    {kRecoverOk, "recovered or nothing to do"},
    {kRecoverNotConfirmed, "acted but recovery not seen"},
    {kRecoverUsage, "usage"},
    {kRecoverBadBackup, "no usable backup"},
    {kRecoverCannotCheck, "API not reachable"},
    {kRecoverRefused, "refused by the guard"},
    {kRecoverWriteFailed, "write or delete failed"},
};

// "Exit codes: 0 ...; 2 ...; ..." for a subcommand's --help footer.
inline std::string ExitCodesHelp(std::span<const ExitCode> codes) {
  std::string text = "Exit codes:";
  for (const ExitCode& c : codes)
    text += std::string(text.back() == ':' ? " " : "; ") + std::to_string(c.code) + " " + c.meaning;
  return text + ".";
}

}  // namespace kvip
