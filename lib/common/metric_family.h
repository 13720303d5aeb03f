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

// One metric family as its collector declares it, once: name, type, help and label names.
// Each collector keeps a constexpr table of these (its static Families()); Collect() builds
// from the entries, and tests check docs/metrics.md, the README copy and the kube-vip clash
// list against the tables. To add a family: add a row, then build it with MakeFamily below.
struct FamilySpec {
  std::string_view name;
  prometheus::MetricType type;
  std::string_view help;
  std::span<const std::string_view> labels = {};  // label names, in the order values are given
};

// The row named `name` of `table`, found at compile time: a name not in the table fails the
// build. constexpr const FamilySpec& kUp = FamilyIn(kFamilies, "kubevip_up");
consteval const FamilySpec& FamilyIn(std::span<const FamilySpec> table, std::string_view name) {
  for (const FamilySpec& spec : table)
    if (spec.name == name) return spec;
  throw "no such family in the table";
}

using LabelValues = std::initializer_list<std::string_view>;

// An empty family of `spec`'s name, type and help.
prometheus::MetricFamily MakeFamily(const FamilySpec& spec);
// A family of `spec` with one sample; `label_values` in the order of spec.labels.
prometheus::MetricFamily MakeFamily(const FamilySpec& spec, double value,
                                    LabelValues label_values = {});
// Appends one sample; `label_values` in the order of spec.labels.
void AddSample(prometheus::MetricFamily& family, const FamilySpec& spec, double value,
               LabelValues label_values = {});

// The builders below take names and help as arguments: for code not yet moved to a table.
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
