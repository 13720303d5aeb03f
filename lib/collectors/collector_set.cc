#include "collectors/collector_set.h"

#include <chrono>
#include <future>
#include <optional>

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
namespace {

struct Result {
  std::vector<prometheus::MetricFamily> families;
  bool success = false;
  double seconds = 0;
};

Result Run(Collector& collector) {
  Result result;
  auto start = std::chrono::steady_clock::now();
  result.success = collector.Collect(result.families);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

CollectorSet::CollectorSet(std::vector<CollectorPtr> collectors)
    : collectors_(std::move(collectors)) {}

void CollectorSet::AddStatic(prometheus::MetricFamily family) {
  static_families_.push_back(std::move(family));
}

std::vector<prometheus::MetricFamily> CollectorSet::Collect() const {
  // Collectors that wait on a peer (kube-vip's :2112) start first, in parallel, each bounded
  // by its own deadline: all but the last on threads of their own, the last on this thread,
  // which would otherwise only wait. The ones that only read in-memory state then run
  // inline on this thread: a thread per scrape for those would cost more than they do. With
  // one blocking collector (the daemon's case) a scrape starts no thread at all.
  size_t last_blocking = collectors_.size();
  for (size_t i = 0; i < collectors_.size(); ++i) {
    if (collectors_[i]->Blocking()) last_blocking = i;
  }
  std::vector<std::optional<std::future<Result>>> pending(collectors_.size());
  for (size_t i = 0; i < last_blocking; ++i) {
    Collector& collector = *collectors_[i];
    if (!collector.Blocking()) continue;
    pending[i] = std::async(std::launch::async, [&collector] { return Run(collector); });
  }
  std::vector<Result> results(collectors_.size());
  if (last_blocking < collectors_.size()) {
    results[last_blocking] = Run(*collectors_[last_blocking]);
  }
  for (size_t i = 0; i < collectors_.size(); ++i) {
    if (!collectors_[i]->Blocking()) results[i] = Run(*collectors_[i]);
  }

  std::vector<prometheus::MetricFamily> out = static_families_;
  FamilyBuilder success(Spec("kvip_exporter_collector_success"));
  FamilyBuilder duration(Spec("kvip_exporter_collector_duration_seconds"));
  for (size_t i = 0; i < collectors_.size(); ++i) {
    Result result = pending[i] ? pending[i]->get() : std::move(results[i]);
    std::string name(collectors_[i]->Name());
    for (auto& family : result.families) out.push_back(std::move(family));
    success.Add(result.success ? 1 : 0, {name});
    duration.Add(result.seconds, {name});
  }
  out.push_back(std::move(success).Take());
  out.push_back(std::move(duration).Take());
  return out;
}

}  // namespace kvip
