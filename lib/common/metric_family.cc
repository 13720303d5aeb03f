#include "common/metric_family.h"

#include <cassert>
#include <chrono>

namespace kvip {

prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                    prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

namespace {

// A new sample at the end of `family`, its value set for the family's type, no labels yet.
prometheus::ClientMetric& NewSample(prometheus::MetricFamily& family, double value) {
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  switch (family.type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
  return metric;
}

}  // namespace

void AddSample(prometheus::MetricFamily& family, double value, const Labels& labels) {
  prometheus::ClientMetric& metric = NewSample(family, value);
  metric.label.reserve(labels.size());
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, label_value});
}

prometheus::MetricFamily GaugeFamily(std::string name, std::string help, double value,
                                     const Labels& labels) {
  auto family = MakeFamily(std::move(name), std::move(help), prometheus::MetricType::Gauge);
  AddSample(family, value, labels);
  return family;
}

prometheus::MetricFamily CounterFamily(std::string name, std::string help, double value,
                                       const Labels& labels) {
  auto family = MakeFamily(std::move(name), std::move(help), prometheus::MetricType::Counter);
  AddSample(family, value, labels);
  return family;
}

prometheus::MetricFamily MakeFamily(const FamilySpec& spec) {
  return MakeFamily(std::string(spec.name), std::string(spec.help), spec.type);
}

namespace {

// Appends one sample of `spec` to `family`; `label_values` in the order of spec.labels.
void AddSample(prometheus::MetricFamily& family, const FamilySpec& spec, double value,
               LabelValues label_values) {
  assert(label_values.size() == spec.labels.size());
  // Straight into the sample: no intermediate Labels.
  prometheus::ClientMetric& metric = NewSample(family, value);
  metric.label.reserve(label_values.size());
  auto name = spec.labels.begin();
  for (std::string_view label_value : label_values)
    metric.label.push_back({std::string(*name++), std::string(label_value)});
}

}  // namespace

void FamilyBuilder::Add(double value, LabelValues label_values) {
  AddSample(family_, spec_, value, label_values);
}

prometheus::MetricFamily MakeFamily(const FamilySpec& spec, double value,
                                    LabelValues label_values) {
  auto family = MakeFamily(spec);
  AddSample(family, spec, value, label_values);
  return family;
}

double UnixNow() {
  using std::chrono::duration;
  using std::chrono::system_clock;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace kvip
