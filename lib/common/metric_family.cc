#include "common/metric_family.h"

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

prometheus::MetricFamily MakeFamily(const FamilySpec& spec) {
  return MakeFamily(spec.name, spec.help, spec.type);
}

void AddSample(prometheus::MetricFamily& family, double value, const Labels& labels) {
  prometheus::ClientMetric metric;
  for (const auto& [name, label_value] : labels) {
    metric.label.push_back({name, label_value});
  }
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
  family.metric.push_back(std::move(metric));
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

double UnixNow() {
  using std::chrono::duration;
  using std::chrono::system_clock;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

prometheus::MetricFamily MakeFamily(const FamilySpec& spec) {
  return MakeFamily(spec.name, spec.help, spec.type);
}

prometheus::MetricFamily MakeFamily(const FamilySpec& spec, double value, const Labels& labels) {
  prometheus::MetricFamily family = MakeFamily(spec);
  AddSample(family, value, labels);
  return family;
}

}  // namespace kvip
