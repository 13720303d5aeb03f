#pragma once
// A Collector is one source of metrics (kube-vip's :2112, netlink, the Lease watch, ...).
// It owns its state and turns it into metric families at scrape time.

#include <prometheus/metric_family.h>

#include <memory>
#include <string_view>
#include <vector>

namespace kvip {

class Collector {
 public:
  virtual ~Collector() = default;

  // Name used as kvip_exporter_collector_success{collector="..."}.
  virtual std::string_view Name() const = 0;

  // Appends this source's families to `out`. Returns false when the source failed in this
  // scrape; whatever was appended (e.g. kubevip_up 0) is still exposed.
  // Thread safety: called from HTTP server threads, possibly concurrently with itself and
  // with the event loop that updates the state; must not throw and must return within the
  // collector's own deadline.
  virtual bool Collect(std::vector<prometheus::MetricFamily>& out) = 0;

  // True when Collect() does I/O (waits on a peer within its deadline). CollectorSet runs
  // such collectors first and in parallel with each other; the others only read in-memory
  // state in microseconds and run inline on the scraping thread.
  virtual bool Blocking() const { return false; }
};

using CollectorPtr = std::unique_ptr<Collector>;

}  // namespace kvip
