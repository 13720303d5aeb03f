#include "collectors/lease_watch.h"

#include "common/metric_family.h"

namespace kvip {

namespace {

using prometheus::MetricType;

constexpr std::string_view kLeaseLabels[] = {"lease", "namespace"};
constexpr std::string_view kHolderLabels[] = {"lease", "namespace", "holder"};
constexpr std::string_view kEventLabels[] = {"lease", "namespace", "type"};
constexpr FamilySpec kFamilies[] = {
    {"kubevip_is_leader", MetricType::Gauge,
     "1 if this node is the holder of the lease and it has not expired.", kLeaseLabels},
    {"kubevip_lease_holder_info", MetricType::Gauge,
     "Current holder identity of the lease (spec.holderIdentity).", kHolderLabels},
    {"kubevip_lease_age_seconds", MetricType::Gauge,
     "Seconds since the holder last renewed the lease.", kLeaseLabels},
    {"kubevip_lease_renew_timestamp_seconds", MetricType::Gauge,
     "spec.renewTime of the lease, in Unix seconds.", kLeaseLabels},
    {"kubevip_lease_acquire_timestamp_seconds", MetricType::Gauge,
     "spec.acquireTime of the lease, in Unix seconds.", kLeaseLabels},
    {"kubevip_lease_duration_seconds", MetricType::Gauge, "spec.leaseDurationSeconds of the lease.",
     kLeaseLabels},
    {"kubevip_lease_transitions", MetricType::Gauge,
     "spec.leaseTransitions: how often the lease changed holder.", kLeaseLabels},
    {"kubevip_lease_expired", MetricType::Gauge,
     "1 if renewTime + leaseDurationSeconds is in the past.", kLeaseLabels},
    {"kubevip_lease_present", MetricType::Gauge, "1 if the Lease object exists.", kLeaseLabels},
    {"kubevip_lease_watch_up", MetricType::Gauge,
     "1 while the watch stream on the lease is established.", kLeaseLabels},
    {"kubevip_lease_watch_reconnects_total", MetricType::Counter,
     "Watch streams re-established after a failure.", kLeaseLabels},
    {"kubevip_lease_events_total", MetricType::Counter, "Watch events received, by type.",
     kEventLabels},
    {"kubevip_lease_last_event_timestamp_seconds", MetricType::Gauge,
     "Time of the last watch event, in Unix seconds.", kLeaseLabels},
};
constexpr const FamilySpec& kIsLeader = FamilyIn(kFamilies, "kubevip_is_leader");
constexpr const FamilySpec& kHolderInfo = FamilyIn(kFamilies, "kubevip_lease_holder_info");
constexpr const FamilySpec& kAge = FamilyIn(kFamilies, "kubevip_lease_age_seconds");
constexpr const FamilySpec& kRenew = FamilyIn(kFamilies, "kubevip_lease_renew_timestamp_seconds");
constexpr const FamilySpec& kAcquire =
    FamilyIn(kFamilies, "kubevip_lease_acquire_timestamp_seconds");
constexpr const FamilySpec& kDuration = FamilyIn(kFamilies, "kubevip_lease_duration_seconds");
constexpr const FamilySpec& kTransitions = FamilyIn(kFamilies, "kubevip_lease_transitions");
constexpr const FamilySpec& kExpired = FamilyIn(kFamilies, "kubevip_lease_expired");
constexpr const FamilySpec& kPresent = FamilyIn(kFamilies, "kubevip_lease_present");
constexpr const FamilySpec& kWatchUp = FamilyIn(kFamilies, "kubevip_lease_watch_up");
constexpr const FamilySpec& kReconnects =
    FamilyIn(kFamilies, "kubevip_lease_watch_reconnects_total");
constexpr const FamilySpec& kEvents = FamilyIn(kFamilies, "kubevip_lease_events_total");
constexpr const FamilySpec& kLastEvent =
    FamilyIn(kFamilies, "kubevip_lease_last_event_timestamp_seconds");

}  // namespace

std::span<const FamilySpec> LeaseWatchCollector::Families() { return kFamilies; }

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
    out.push_back(MakeFamily(kIsLeader, leader ? 1 : 0, {name, ns}));
    out.push_back(MakeFamily(kPresent, lease ? 1 : 0, {name, ns}));
    if (lease) {
      out.push_back(MakeFamily(kHolderInfo, 1, {name, ns, lease->holder}));
      out.push_back(MakeFamily(kExpired, expired ? 1 : 0, {name, ns}));
      if (lease->renew_time) {
        out.push_back(MakeFamily(kAge, now - *lease->renew_time, {name, ns}));
        out.push_back(MakeFamily(kRenew, *lease->renew_time, {name, ns}));
      }
      if (lease->acquire_time)
        out.push_back(MakeFamily(kAcquire, *lease->acquire_time, {name, ns}));
      if (lease->duration_seconds)
        out.push_back(MakeFamily(kDuration, *lease->duration_seconds, {name, ns}));
      if (lease->transitions)
        out.push_back(MakeFamily(kTransitions, *lease->transitions, {name, ns}));
    }
  }
  out.push_back(MakeFamily(kWatchUp, status.watch_up ? 1 : 0, {name, ns}));
  out.push_back(MakeFamily(kReconnects, static_cast<double>(status.reconnects), {name, ns}));
  auto events = MakeFamily(kEvents);
  for (const auto& [type, count] : status.events)
    AddSample(events, kEvents, static_cast<double>(count), {name, ns, type});
  out.push_back(std::move(events));
  if (status.last_event_time > 0)
    out.push_back(MakeFamily(kLastEvent, status.last_event_time, {name, ns}));
  return out;
}

}  // namespace kvip
