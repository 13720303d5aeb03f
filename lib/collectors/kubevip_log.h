#pragma once
// Counts kube-vip's lock conflicts and error lines by tailing its CRI container log files
// (node-local; no API server calls). Counters count from the exporter's start: files that
// exist at start are read from their end, as a log tail would, so a restart of the exporter
// does not replay weeks of history into a rate().
//
// Polled every second on the daemon's Asio loop rather than driven by inotify: the glob
// spans pod directories that come and go with every static pod change (the upgrade
// creates a new one), which inotify would need a watch tree for, while a stat per file per
// second is negligible and the counters are only read every scrape interval anyway.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "crilog/cri_tail.h"

namespace kvip {

struct KubeVipLogMatch {
  bool lock_conflict = false;
  bool error = false;
};

// Classifies one logical line of kube-vip's output:
// - lock conflict: client-go leader election's renew failure, in both wordings
//   (v1.0.3, client-go 0.34: "Failed to update lock optimistically: <err>, falling back to
//   slow path"; v1.0.4, client-go 0.35: "Failed to update lease optimistically, falling
//   back to slow path" err=...);
// - error: klog severity E/F headers ("E1125 15:00:00.123456 ..."), Go slog's default
//   handler ("2026/11/25 15:00:00 ERROR ..."), and structured level=error / "level":"error".
KubeVipLogMatch ClassifyKubeVipLogLine(std::string_view content);

class KubeVipLogCollector final : public Collector {
 public:
  KubeVipLogCollector(boost::asio::io_context& loop, std::string glob,
                      std::chrono::milliseconds poll_interval = std::chrono::seconds(1));
  std::string_view Name() const override { return "kubevip_log"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  void SchedulePoll();
  void Poll();  // on the loop

  crilog::CriTail tail_;  // loop thread only
  boost::asio::steady_timer timer_;
  const std::chrono::milliseconds poll_interval_;
  std::string logged_problems_;  // last problems logged, to log each once
  bool logged_no_files_ = false;
  bool logged_malformed_ = false;

  mutable std::mutex mutex_;  // guards the fields below
  std::uint64_t lock_conflicts_ = 0;
  std::uint64_t errors_ = 0;
  bool healthy_ = false;  // files matched and read without problems in the last poll
};

}  // namespace kvip
