#pragma once
// kubevip_is_leader, kubevip_lease_* and the watch's health, from a LIST+WATCH of the Lease
// kube-vip holds. Values are computed at scrape time from the last known Lease, so while
// the watch is down they age honestly: age grows, and is_leader turns 0 once the lease
// would have expired.

#include <boost/asio/io_context.hpp>
#include <memory>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "kube/object_watcher.h"

namespace kvip {

class LeaseWatchCollector final : public Collector {
 public:
  // `client` may be null when no credentials could be loaded; `unavailable` then says why and
  // the collector reports kubevip_lease_watch_up 0.
  LeaseWatchCollector(boost::asio::io_context& loop, std::shared_ptr<kube::Client> client,
                      kube::LeaseWatchOptions options, std::string node_name,
                      std::string unavailable = "");

  std::string_view Name() const override { return "lease_watch"; }
  // Succeeds while the watch stream is up.
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  kube::LeaseWatchOptions options_;
  std::string node_name_;
  std::string unavailable_;
  std::unique_ptr<kube::LeaseWatcher> watcher_;  // null without a client
};

// The families for `status` as seen at `now` (Unix seconds). Exposed for golden tests.
std::vector<prometheus::MetricFamily> LeaseFamilies(const kube::LeaseWatchStatus& status,
                                                    const std::string& lease_namespace,
                                                    const std::string& lease_name,
                                                    const std::string& node_name, double now);

}  // namespace kvip
