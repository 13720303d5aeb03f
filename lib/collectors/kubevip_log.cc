#include "collectors/kubevip_log.h"

#include <cctype>

#include "common/logging.h"
#include "common/metric_catalog.h"
#include "kubevip/log_lines.h"

namespace kvip {
namespace {

bool IsDigits(std::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return !text.empty();
}

// klog: "Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg", L in IWEF.
bool IsKlogError(std::string_view line) {
  return line.size() > 14 && (line[0] == 'E' || line[0] == 'F') && IsDigits(line.substr(1, 4)) &&
         line[5] == ' ' && IsDigits(line.substr(6, 2)) && line[8] == ':';
}

// Go's log/slog default handler, through the log package: "2026/11/25 15:00:00 ERROR msg".
bool IsSlogDefaultError(std::string_view line) {
  if (line.size() < 20 || line[4] != '/' || line[7] != '/' || line[10] != ' ' ||
      !IsDigits(line.substr(0, 4))) {
    return false;
  }
  size_t level = line.find(' ', 11);  // after the time, which may carry microseconds
  return level != std::string_view::npos && line.substr(level + 1).starts_with("ERROR ");
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// logfmt level=error (slog TextHandler, logrus) or JSON "level":"error".
bool IsStructuredError(std::string_view line) {
  for (std::string_view key : {std::string_view("level="), std::string_view("\"level\":\"")}) {
    for (size_t at = line.find(key); at != std::string_view::npos; at = line.find(key, at + 1)) {
      bool starts_field =
          at == 0 || line[at - 1] == ' ' || line[at - 1] == '{' || line[at - 1] == ',';
      std::string_view value = line.substr(at + key.size());
      if (!value.empty() && value[0] == '"') value.remove_prefix(1);
      if (starts_field && EqualsIgnoringCase(value.substr(0, 5), "error")) return true;
    }
  }
  return false;
}

}  // namespace

KubeVipLogMatch ClassifyKubeVipLogLine(std::string_view content) {
  KubeVipLogMatch match;
  match.lock_conflict = kubevip::IsLockConflictLine(content);
  match.error = IsKlogError(content) || IsSlogDefaultError(content) || IsStructuredError(content);
  return match;
}

KubeVipLogCollector::KubeVipLogCollector(boost::asio::io_context& loop, std::string glob,
                                         std::chrono::milliseconds poll_interval)
    : tail_(crilog::TailOptions{std::move(glob)}), timer_(loop), poll_interval_(poll_interval) {
  LogInfo("tailing kube-vip's container log; counters start at zero from now",
          {{"path", tail_.glob()}});
  Poll();  // settles healthy_ and logs a missing path before the first scrape
  SchedulePoll();
}

void KubeVipLogCollector::SchedulePoll() {
  timer_.expires_after(poll_interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    Poll();
    SchedulePoll();
  });
}

void KubeVipLogCollector::Poll() {
  std::uint64_t lock_conflicts = 0, errors = 0;
  crilog::PollReport report = tail_.Poll([&](const crilog::LogLine& line) {
    KubeVipLogMatch match = ClassifyKubeVipLogLine(line.content);
    lock_conflicts += match.lock_conflict ? 1 : 0;
    errors += match.error ? 1 : 0;
  });
  const bool healthy = report.files_matched > 0 && report.problems.empty();
  {
    std::lock_guard lock(mutex_);
    lock_conflicts_ += lock_conflicts;
    errors_ += errors;
    healthy_ = healthy;
  }

  // Each condition is logged when it starts, not on every poll.
  if (report.files_matched == 0 && !logged_no_files_) {
    LogWarn("no kube-vip log file matches; is kube-vip running on this node?",
            {{"path", tail_.glob()}});
  } else if (report.files_matched > 0 && logged_no_files_) {
    LogInfo("kube-vip log files found",
            {{"path", tail_.glob()}, {"files", std::to_string(report.files_matched)}});
  }
  logged_no_files_ = report.files_matched == 0;
  std::string problems;
  for (const auto& problem : report.problems) problems += (problems.empty() ? "" : "; ") + problem;
  if (!problems.empty() && problems != logged_problems_) {
    LogWarn("cannot read kube-vip log", {{"error", problems}});
  }
  logged_problems_ = problems;
  if (report.decode.malformed > 0 && !logged_malformed_) {
    LogWarn("kube-vip log has lines not in CRI format; skipping them",
            {{"path", tail_.glob()}, {"error", report.decode.first_malformed_error}});
    logged_malformed_ = true;
  }
  if (report.files_opened || report.files_closed || report.truncations) {
    LogDebug("kube-vip log files changed", {{"opened", std::to_string(report.files_opened)},
                                            {"closed", std::to_string(report.files_closed)},
                                            {"truncated", std::to_string(report.truncations)},
                                            {"open", std::to_string(report.files_open)}});
  }
}

bool KubeVipLogCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  std::lock_guard lock(mutex_);
  out.push_back(
      MakeFamily(Spec("kubevip_log_lock_conflicts_total"), static_cast<double>(lock_conflicts_)));
  out.push_back(MakeFamily(Spec("kubevip_log_errors_total"), static_cast<double>(errors_)));
  return healthy_;
}

}  // namespace kvip
