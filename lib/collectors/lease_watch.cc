#include "collectors/lease_watch.h"

#include "common/metric_family.h"

namespace kvip {

using prometheus::MetricType;

LeaseWatchCollector::LeaseWatchCollector(boost::asio::io_context& loop,
                                         std::shared_ptr<kube::Client> client,
                                         kube::LeaseWatchOptions options, std::string node_name,
                                         std::string unavailable)
    : options_(std::move(options)),
      node_name_(std::move(node_name)),
      unavailable_(std::move(unavailable)) {
  if (client) {
    watcher_ = std::make_unique<kube::LeaseWatcher>(loop, std::move(client), options_);
    watcher_->Start();
  }
}

bool LeaseWatchCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  kube::LeaseWatchStatus status;
  if (watcher_) {
    status = watcher_->Status();
  } else {
    for (const char* type : {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"}) {
      status.events[type] = 0;
    }
    status.last_error = unavailable_;
  }
  for (auto& family :
       LeaseFamilies(status, options_.namespace_name, options_.lease_name, node_name_, UnixNow())) {
    out.push_back(std::move(family));
  }
  return status.watch_up;
}

std::vector<prometheus::MetricFamily> LeaseFamilies(const kube::LeaseWatchStatus& status,
                                                    const std::string& lease_namespace,
                                                    const std::string& lease_name,
                                                    const std::string& node_name, double now) {
  const Labels labels{{"lease", lease_name}, {"namespace", lease_namespace}};
  std::vector<prometheus::MetricFamily> out;
  // Until a LIST succeeded nothing is known about the lease: leadership and presence are
  // left out rather than reported as 0, which alerts would read as facts.
  if (status.listed) {
    const auto& lease = status.lease;
    bool has_expiry = lease && lease->renew_time && lease->duration_seconds;
    bool expired =
        !has_expiry || kube::LeaseExpiredAt(*lease->renew_time, *lease->duration_seconds, now);
    bool leader = lease && !lease->holder.empty() && lease->holder == node_name && !expired;
    out.push_back(GaugeFamily("kubevip_is_leader",
                              "1 if this node is the holder of the lease and it has not expired.",
                              leader ? 1 : 0, labels));
    out.push_back(GaugeFamily("kubevip_lease_present", "1 if the Lease object exists.",
                              lease ? 1 : 0, labels));
    if (lease) {
      Labels holder = labels;
      holder.emplace_back("holder", lease->holder);
      out.push_back(GaugeFamily("kubevip_lease_holder_info",
                                "Current holder identity of the lease (spec.holderIdentity).", 1,
                                holder));
      out.push_back(GaugeFamily("kubevip_lease_expired",
                                "1 if renewTime + leaseDurationSeconds is in the past.",
                                expired ? 1 : 0, labels));
      if (lease->renew_time) {
        out.push_back(GaugeFamily("kubevip_lease_age_seconds",
                                  "Seconds since the holder last renewed the lease.",
                                  now - *lease->renew_time, labels));
        out.push_back(GaugeFamily("kubevip_lease_renew_timestamp_seconds",
                                  "spec.renewTime of the lease, in Unix seconds.",
                                  *lease->renew_time, labels));
      }
      if (lease->acquire_time) {
        out.push_back(GaugeFamily("kubevip_lease_acquire_timestamp_seconds",
                                  "spec.acquireTime of the lease, in Unix seconds.",
                                  *lease->acquire_time, labels));
      }
      if (lease->duration_seconds) {
        out.push_back(GaugeFamily("kubevip_lease_duration_seconds",
                                  "spec.leaseDurationSeconds of the lease.",
                                  *lease->duration_seconds, labels));
      }
      if (lease->transitions) {
        out.push_back(GaugeFamily("kubevip_lease_transitions",
                                  "spec.leaseTransitions: how often the lease changed holder.",
                                  *lease->transitions, labels));
      }
    }
  }
  out.push_back(GaugeFamily("kubevip_lease_watch_up",
                            "1 while the watch stream on the lease is established.",
                            status.watch_up ? 1 : 0, labels));
  out.push_back(CounterFamily("kubevip_lease_watch_reconnects_total",
                              "Watch streams re-established after a failure.",
                              static_cast<double>(status.reconnects), labels));
  auto events = MakeFamily("kubevip_lease_events_total", "Watch events received, by type.",
                           MetricType::Counter);
  for (const auto& [type, count] : status.events) {
    Labels typed = labels;
    typed.emplace_back("type", type);
    AddSample(events, static_cast<double>(count), typed);
  }
  out.push_back(std::move(events));
  if (status.last_event_time > 0) {
    out.push_back(GaugeFamily("kubevip_lease_last_event_timestamp_seconds",
                              "Time of the last watch event, in Unix seconds.",
                              status.last_event_time, labels));
  }
  return out;
}

}  // namespace kvip
