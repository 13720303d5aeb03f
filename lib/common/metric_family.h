#pragma once
// Builders for prometheus::MetricFamily values made at collect time.
// Collectors build their families fresh on every scrape from the state they own, as
// prometheus-cpp's Collectable idiom intends; these helpers keep that short.

#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace kvip {

using Labels = std::vector<std::pair<std::string, std::string>>;

prometheus::MetricFamily MakeFamily(std::string name, std::string help,
                                    prometheus::MetricType type);

// One row of a collector's family table: every family a collector exposes is declared
// together at the top of its file, and built from the row at scrape time.
struct FamilySpec {
  const char* name;
  const char* help;
  prometheus::MetricType type;
};

prometheus::MetricFamily MakeFamily(const FamilySpec& spec);
// A family from `spec` holding one sample.
prometheus::MetricFamily MakeFamily(const FamilySpec& spec, double value, const Labels& labels);

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
