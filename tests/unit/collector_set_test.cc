#include "collectors/collector_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "common/metric_family.h"
#include "gate.h"

namespace kvip {
namespace {

using prometheus::MetricFamily;

// A collector that records the thread it ran on; a blocking one can be held until released.
class FakeCollector final : public Collector {
 public:
  FakeCollector(std::string name, bool blocking, bool success = true)
      : name_(std::move(name)), blocking_(blocking), success_(success) {}

  std::string_view Name() const override { return name_; }
  bool Blocking() const override { return blocking_; }
  bool Collect(std::vector<MetricFamily>& out) override {
    {
      std::lock_guard lock(mutex_);
      thread_ = std::this_thread::get_id();
      sequence_ = ++next_sequence_;
    }
    gate_.Pass();
    out.push_back(GaugeFamily(name_ + "_value", "test", 1));
    return success_;
  }

  // Closed, it holds Collect() as a collector waiting for its deadline.
  testing::Gate& gate() { return gate_; }
  std::thread::id thread() const {
    std::lock_guard lock(mutex_);
    return thread_;
  }
  // Order in which collectors (of any instance) entered Collect().
  int sequence() const {
    std::lock_guard lock(mutex_);
    return sequence_;
  }

 private:
  const std::string name_;
  const bool blocking_;
  const bool success_;
  testing::Gate gate_;
  mutable std::mutex mutex_;
  std::thread::id thread_;  // guarded by mutex_
  int sequence_ = 0;        // guarded by mutex_
  static inline std::atomic<int> next_sequence_{0};
};

// Appends a FakeCollector to the list a CollectorSet will own; the test keeps watching it.
FakeCollector* Add(std::vector<CollectorPtr>& collectors, std::string name, bool blocking,
                   bool success = true) {
  collectors.push_back(std::make_unique<FakeCollector>(std::move(name), blocking, success));
  return static_cast<FakeCollector*>(collectors.back().get());
}

std::map<std::string, double> ByCollector(const std::vector<MetricFamily>& out,
                                          const std::string& family_name) {
  std::map<std::string, double> values;
  for (const auto& family : out) {
    if (family.name != family_name) continue;
    for (const auto& metric : family.metric) values[metric.label.at(0).value] = metric.gauge.value;
  }
  return values;
}

std::vector<std::string> Names(const std::vector<MetricFamily>& out) {
  std::vector<std::string> names;
  for (const auto& family : out) names.push_back(family.name);
  return names;
}

TEST(CollectorSet, OnlyBlockingCollectorsButTheLastGetAThread) {
  std::vector<CollectorPtr> collectors;
  auto* memory_a = Add(collectors, "memory_a", false);
  auto* probe_a = Add(collectors, "probe_a", true, false);
  auto* memory_b = Add(collectors, "memory_b", false);
  auto* probe_b = Add(collectors, "probe_b", true);
  CollectorSet set(std::move(collectors));
  set.AddStatic(GaugeFamily("static_info", "test", 1));

  std::vector<MetricFamily> out = set.Collect();
  EXPECT_EQ(memory_a->thread(), std::this_thread::get_id());
  EXPECT_EQ(memory_b->thread(), std::this_thread::get_id());
  EXPECT_EQ(probe_b->thread(), std::this_thread::get_id());  // the caller would only wait
  EXPECT_NE(probe_a->thread(), std::this_thread::get_id());
  EXPECT_NE(probe_a->thread(), std::thread::id());

  // Families in collector order, whichever thread made them; then success and duration.
  EXPECT_EQ(Names(out),
            (std::vector<std::string>{
                "static_info", "memory_a_value", "probe_a_value", "memory_b_value", "probe_b_value",
                "kvip_exporter_collector_success", "kvip_exporter_collector_duration_seconds"}));
  EXPECT_EQ(ByCollector(out, "kvip_exporter_collector_success"),
            (std::map<std::string, double>{
                {"memory_a", 1}, {"probe_a", 0}, {"memory_b", 1}, {"probe_b", 1}}));
  auto durations = ByCollector(out, "kvip_exporter_collector_duration_seconds");
  EXPECT_EQ(durations.size(), 4u);
  for (const auto& [name, seconds] : durations) EXPECT_GE(seconds, 0) << name;
}

TEST(CollectorSet, ALoneBlockingCollectorRunsFirstOnTheCallingThread) {
  std::vector<CollectorPtr> collectors;
  auto* memory = Add(collectors, "memory", false);
  auto* probe = Add(collectors, "probe", true);
  CollectorSet set(std::move(collectors));
  std::vector<MetricFamily> out = set.Collect();
  EXPECT_EQ(probe->thread(), std::this_thread::get_id());
  EXPECT_LT(probe->sequence(), memory->sequence());  // listed last, started first
  EXPECT_EQ(ByCollector(out, "kvip_exporter_collector_success"),
            (std::map<std::string, double>{{"memory", 1}, {"probe", 1}}));
}

TEST(CollectorSet, BlockingCollectorsRunInParallel) {
  std::vector<CollectorPtr> collectors;
  auto* probe_a = Add(collectors, "probe_a", true);
  auto* probe_b = Add(collectors, "probe_b", true);
  CollectorSet set(std::move(collectors));

  // Each is held until both are inside Collect(): only parallel runs get there.
  probe_a->gate().Close();
  probe_b->gate().Close();
  bool both_entered = false;
  std::thread releaser([&] {
    both_entered = probe_a->gate().WaitEntered(1) && probe_b->gate().WaitEntered(1);
    probe_a->gate().Open();
    probe_b->gate().Open();
  });
  std::vector<MetricFamily> out = set.Collect();
  releaser.join();
  EXPECT_TRUE(both_entered);
  EXPECT_EQ(ByCollector(out, "kvip_exporter_collector_success"),
            (std::map<std::string, double>{{"probe_a", 1}, {"probe_b", 1}}));
}

TEST(CollectorSet, DurationIsEachCollectorsOwnTime) {
  std::vector<CollectorPtr> collectors;
  Add(collectors, "memory", false);
  auto* probe = Add(collectors, "probe", true);
  CollectorSet set(std::move(collectors));

  probe->gate().Close();
  std::thread releaser([&] {
    if (!probe->gate().WaitEntered(1)) return;
    // Release only once the probe has been held a measurable time (a deadline, not a
    // sleep: the wait ends as soon as 50 ms have passed).
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
    while (std::chrono::steady_clock::now() < until) std::this_thread::yield();
    probe->gate().Open();
  });
  std::vector<MetricFamily> out = set.Collect();
  releaser.join();
  auto durations = ByCollector(out, "kvip_exporter_collector_duration_seconds");
  EXPECT_GE(durations["probe"], 0.05);
  EXPECT_LT(durations["memory"], 0.05);
}

}  // namespace
}  // namespace kvip
