#pragma once
// Runs a scrape over every collector: the blocking ones (Collector::Blocking(), I/O at
// scrape time) first and in parallel (all but the last on threads of their own, the last on
// the calling thread), so one slow source never delays the others beyond its own deadline;
// then the in-memory ones inline on the calling thread.
// Adds kvip_exporter_collector_success / _duration_seconds, as node_exporter does with
// node_scrape_collector_*.

#include <prometheus/collectable.h>

#include <span>
#include <vector>

#include "collectors/collector.h"
#include "common/metric_family.h"

namespace kvip {

class CollectorSet final : public prometheus::Collectable {
 public:
  explicit CollectorSet(std::vector<CollectorPtr> collectors);

  std::vector<prometheus::MetricFamily> Collect() const override;

  // Families that do not come from a collector, made once (build_info, node_info).
  void AddStatic(prometheus::MetricFamily family);

 private:
  std::vector<CollectorPtr> collectors_;
  std::vector<prometheus::MetricFamily> static_families_;
};

}  // namespace kvip
