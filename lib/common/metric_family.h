#pragma once
// Builders for prometheus::MetricFamily values made at collect time.
// Collectors build their families fresh on every scrape from the state they own, as
// prometheus-cpp's Collectable idiom intends; these helpers keep that short.

#include <prometheus/metric_family.h>

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvip {

// One metric family as the exporter declares it, once, in common/metric_catalog.h: name, the
// collector that exposes it, type, label names and help. Collect() builds from the row
// (MakeFamily(Spec("kubevip_up"), ...)); tests check docs/metrics.md, the README copy and
// the kube-vip clash list against the catalogue.
struct FamilySpec {
  std::string_view name;
  std::string_view source;  // the exposing collector's Name(), or "exporter" / "web"
  prometheus::MetricType type;
  std::span<const std::string_view> labels;  // label names, in the order values are given
  std::string_view help;
};

using LabelValues = std::initializer_list<std::string_view>;

// An empty family of `spec`'s name, type and help.
prometheus::MetricFamily MakeFamily(const FamilySpec& spec);
// A family of `spec` with one sample; `label_values` in the order of spec.labels.
prometheus::MetricFamily MakeFamily(const FamilySpec& spec, double value,
                                    LabelValues label_values = {});

// A family of several samples, filled from its row: FamilyBuilder events(Spec("..."));
// events.Add(3, {"lease", "ns", "MODIFIED"}); out.push_back(std::move(events).Take());
class FamilyBuilder {
 public:
  explicit FamilyBuilder(const FamilySpec& spec) : spec_(spec), family_(MakeFamily(spec)) {}
  // Appends one sample; `label_values` in the order of the row's labels.
  void Add(double value, LabelValues label_values = {});
  bool empty() const { return family_.metric.empty(); }
  prometheus::MetricFamily Take() && { return std::move(family_); }

 private:
  const FamilySpec& spec_;
  prometheus::MetricFamily family_;
};

// The builders below take names and help as arguments: for the standard process_* families
// and for tests.
using Labels = std::vector<std::pair<std::string, std::string>>;

prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                    prometheus::MetricType type);

// Appends one sample to a gauge, counter or untyped family.
void AddSample(prometheus::MetricFamily& family, double value, const Labels& labels = {});

// A family holding one gauge sample.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value,
                                     const Labels& labels = {});

// A family holding one counter sample.
prometheus::MetricFamily CounterFamily(std::string name, std::string help, double value,
                                       const Labels& labels = {});

// Seconds since the Unix epoch, for *_timestamp_seconds values.
double UnixNow();

}  // namespace kvip
