#include "collectors/collector_set.h"

#include <chrono>
#include <future>

#include "common/logging.h"
#include "common/metric_family.h"

namespace kvip {

CollectorSet::CollectorSet(std::vector<CollectorPtr> collectors)
    : collectors_(std::move(collectors)) {}

void CollectorSet::AddStatic(prometheus::MetricFamily family) {
  static_families_.push_back(std::move(family));
}

std::vector<prometheus::MetricFamily> CollectorSet::Collect() const {
  struct Result {
    std::vector<prometheus::MetricFamily> families;
    bool success = false;
    double seconds = 0;
  };
  std::vector<std::future<Result>> pending;
  pending.reserve(collectors_.size());
  for (const auto& collector : collectors_) {
    // Collectors that only read in-memory state finish in microseconds; the ones that probe
    // (kube-vip scrape, VIP healthz) bound themselves with their own deadlines.
    pending.push_back(std::async(std::launch::async, [&collector] {
      Result result;
      auto start = std::chrono::steady_clock::now();
      result.success = collector->Collect(result.families);
      result.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return result;
    }));
  }

  std::vector<prometheus::MetricFamily> out = static_families_;
  auto success =
      MakeFamily("kvip_exporter_collector_success", "1 if the collector succeeded in this scrape.",
                 prometheus::MetricType::Gauge);
  auto duration =
      MakeFamily("kvip_exporter_collector_duration_seconds",
                 "Time the collector took in this scrape.", prometheus::MetricType::Gauge);
  for (size_t i = 0; i < pending.size(); ++i) {
    Result result = pending[i].get();
    std::string name(collectors_[i]->Name());
    for (auto& family : result.families) out.push_back(std::move(family));
    AddSample(success, result.success ? 1 : 0, {{"collector", name}});
    AddSample(duration, result.seconds, {{"collector", name}});
  }
  out.push_back(std::move(success));
  out.push_back(std::move(duration));
  return out;
}

}  // namespace kvip
