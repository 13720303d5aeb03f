#pragma once
// The exporter's own process_* metrics (RSS, CPU, fds, start time) read from /proc/self,
// with the names client_golang's process collector uses, so the usual dashboards work.

#include <string>

#include "collectors/collector.h"

namespace kvip {

class ProcessCollector final : public Collector {
 public:
  // proc_root lets tests point at a fixture tree; "/proc/self" in production.
  explicit ProcessCollector(std::string proc_self = "/proc/self");

  std::string_view Name() const override { return "process"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  std::string proc_self_;
  double boot_time_seconds_;
  long ticks_per_second_;
  long page_size_;
};

}  // namespace kvip
