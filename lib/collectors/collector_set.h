#pragma once
// Fans a scrape out to every collector in parallel (one slow source never delays the others
// beyond its own deadline) and adds kvip_exporter_collector_success / _duration_seconds,
// as node_exporter does with node_scrape_collector_*.

#include <prometheus/collectable.h>

#include <vector>

#include "collectors/collector.h"

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
