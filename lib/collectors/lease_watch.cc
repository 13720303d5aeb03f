#include "collectors/lease_watch.h"

#include "common/metric_catalog.h"

namespace kvip {

namespace {}  // namespace

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
       LeaseFamilies(status, options_.namespace_name, options_.name, node_name_, UnixNow())) {
    out.push_back(std::move(family));
  }
  return status.watch_up;
}

std::vector<prometheus::MetricFamily> LeaseFamilies(const kube::LeaseWatchStatus& status,
                                                    const std::string& lease_namespace,
                                                    const std::string& lease_name,
                                                    const std::string& node_name, double now) {
  const std::string& name = lease_name;
  const std::string& ns = lease_namespace;
  std::vector<prometheus::MetricFamily> out;
  // Until a LIST succeeded nothing is known about the lease: leadership and presence are
  // left out rather than reported as 0, which alerts would read as facts.
  if (status.listed) {
    const auto& lease = status.object;
    bool has_expiry = lease && lease->renew_time && lease->duration_seconds;
    bool expired =
        !has_expiry || kube::LeaseExpiredAt(*lease->renew_time, *lease->duration_seconds, now);
    bool leader = lease && !lease->holder.empty() && lease->holder == node_name && !expired;
    out.push_back(MakeFamily(Spec("kubevip_is_leader"), leader ? 1 : 0, {name, ns}));
    out.push_back(MakeFamily(Spec("kubevip_lease_present"), lease ? 1 : 0, {name, ns}));
    if (lease) {
      out.push_back(MakeFamily(Spec("kubevip_lease_holder_info"), 1, {name, ns, lease->holder}));
      out.push_back(MakeFamily(Spec("kubevip_lease_expired"), expired ? 1 : 0, {name, ns}));
      if (lease->renew_time) {
        out.push_back(
            MakeFamily(Spec("kubevip_lease_age_seconds"), now - *lease->renew_time, {name, ns}));
        out.push_back(MakeFamily(Spec("kubevip_lease_renew_timestamp_seconds"), *lease->renew_time,
                                 {name, ns}));
      }
      if (lease->acquire_time)
        out.push_back(MakeFamily(Spec("kubevip_lease_acquire_timestamp_seconds"),
                                 *lease->acquire_time, {name, ns}));
      if (lease->duration_seconds)
        out.push_back(MakeFamily(Spec("kubevip_lease_duration_seconds"), *lease->duration_seconds,
                                 {name, ns}));
      if (lease->transitions)
        out.push_back(
            MakeFamily(Spec("kubevip_lease_transitions"), *lease->transitions, {name, ns}));
    }
  }
  out.push_back(MakeFamily(Spec("kubevip_lease_watch_up"), status.watch_up ? 1 : 0, {name, ns}));
  out.push_back(MakeFamily(Spec("kubevip_lease_watch_reconnects_total"),
                           static_cast<double>(status.reconnects), {name, ns}));
  FamilyBuilder events(Spec("kubevip_lease_events_total"));
  for (const auto& [type, count] : status.events)
    events.Add(static_cast<double>(count), {name, ns, type});
  out.push_back(std::move(events).Take());
  if (status.last_event_time > 0)
    out.push_back(MakeFamily(Spec("kubevip_lease_last_event_timestamp_seconds"),
                             status.last_event_time, {name, ns}));
  return out;
}

}  // namespace kvip
