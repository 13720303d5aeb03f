#pragma once
// kube-vip as the kubelet sees it: a LIST+WATCH of the node's own mirror pod
// (kube-system/kube-vip-<node>, fieldSelector=metadata.name=...), through the same machinery
// as the Lease watch (kube::ObjectWatcher). The kubelet's restartCount counts every restart,
// also several inside one scrape interval, and says why the last run ended; a scrape only
// reads the last known pod (no API request per scrape).

#include <boost/asio/io_context.hpp>
#include <memory>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "common/metric_family.h"
#include "kube/object_watcher.h"
#include "kube/pod.h"

namespace kvip {

class KubeVipPodCollector final : public Collector {
 public:
  // `client` may be null when no credentials could be loaded; the watch then reports
  // kubevip_pod_watch_up 0. options.name is the mirror pod's name (kube-vip-<node>).
  KubeVipPodCollector(boost::asio::io_context& loop, std::shared_ptr<kube::Client> client,
                      kube::WatchOptions options);

  std::string_view Name() const override { return "kubevip_pod"; }
  // Succeeds while the watch stream is up.
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  kube::WatchOptions options_;
  std::unique_ptr<kube::ObjectWatcher<kube::Pod>> watcher_;  // null without a client
};

// The families for `status` (exposed for golden tests).
std::vector<prometheus::MetricFamily> KubeVipPodFamilies(const kube::WatchStatus<kube::Pod>& status,
                                                         const std::string& pod_namespace,
                                                         const std::string& pod_name);

}  // namespace kvip
