#pragma once
// Every metric family the exporter declares, in one table: name, the collector that exposes
// it (its Name(); "exporter" and "web" for the daemon's own), type, label names and HELP.
// Collectors build their families from these rows by name (Spec below, checked at compile
// time), so a family's name, type, help and labels are written once. docs/metrics.md, the
// README's copy and kube-vip's clash list are tested against this table in both directions.
// process_* (collectors/process.cc) are not here: they are the client libraries' standard
// names and are not ours to document.
//
// To add a family: add a row here, document it in docs/metrics.md under its collector, then
// build it in the collector with MakeFamily(Spec("kubevip_...")).

#include <span>
#include <string_view>

#include "common/metric_family.h"

namespace kvip::metric_catalog {

inline constexpr prometheus::MetricType kGauge = prometheus::MetricType::Gauge;
inline constexpr prometheus::MetricType kCounter = prometheus::MetricType::Counter;

// Label names, in the order a collector gives the values.
inline constexpr std::span<const std::string_view> kNoLabels{};
inline constexpr std::string_view kImageVersion[] = {"image", "version"};
inline constexpr std::string_view kVipInterface[] = {"vip", "interface"};
inline constexpr std::string_view kInterface[] = {"interface"};
inline constexpr std::string_view kInterfaceMac[] = {"interface", "mac"};
inline constexpr std::string_view kVipInterfaceMacState[] = {"vip", "interface", "mac", "state"};
inline constexpr std::string_view kVipInterfaceMac[] = {"vip", "interface", "mac"};
inline constexpr std::string_view kLease[] = {"lease", "namespace"};
inline constexpr std::string_view kLeaseHolder[] = {"lease", "namespace", "holder"};
inline constexpr std::string_view kLeaseEventType[] = {"lease", "namespace", "type"};
inline constexpr std::string_view kContainer[] = {"namespace", "pod", "container"};
inline constexpr std::string_view kContainerReason[] = {"namespace", "pod", "container", "reason"};
inline constexpr std::string_view kPod[] = {"namespace", "pod"};
inline constexpr std::string_view kVip[] = {"vip"};
inline constexpr std::string_view kBuild[] = {"version", "revision", "compiler"};
inline constexpr std::string_view kNode[] = {"node"};
inline constexpr std::string_view kCollector[] = {"collector"};
inline constexpr std::string_view kCode[] = {"code"};
inline constexpr std::string_view kReason[] = {"reason"};

// One row a family; one line a row, so the table reads as a table.
// clang-format off
inline constexpr FamilySpec kFamilies[] = {
    // kubevip_scrape
    {"kubevip_up", "kubevip_scrape", kGauge, kNoLabels, "1 if kube-vip's /metrics answered with valid text format within the deadline."},
    {"kubevip_scrape_duration_seconds", "kubevip_scrape", kGauge, kNoLabels, "Time the scrape of kube-vip's /metrics took."},
    {"kubevip_process_start_time_seconds", "kubevip_scrape", kGauge, kNoLabels, "kube-vip's own process_start_time_seconds."},
    {"kubevip_process_restarts_total", "kubevip_scrape", kCounter, kNoLabels, "kube-vip restarts observed by this exporter (its start time changed)."},
    // manifest
    {"kubevip_manifest_info", "manifest", kGauge, kImageVersion, "The image and tag the node's kube-vip static pod manifest runs."},
    // vip_netlink
    {"kubevip_vip_bound", "vip_netlink", kGauge, kVipInterface, "1 if the VIP is assigned to the interface (kernel truth)."},
    {"kubevip_interface_up", "vip_netlink", kGauge, kInterface, "1 if the interface exists and is up."},
    {"kubevip_vip_last_change_timestamp_seconds", "vip_netlink", kGauge, kVipInterface, "When kubevip_vip_bound last changed (or the exporter started)."},
    // vip_neighbor
    {"kubevip_interface_info", "vip_neighbor", kGauge, kInterfaceMac, "1; this node's MAC address on the VIP's interface."},
    {"kubevip_vip_neighbor_info", "vip_neighbor", kGauge, kVipInterfaceMacState, "1; the MAC this node's kernel uses to reach the VIP (its ARP/NDP neighbour entry) and the entry's state; absent while this node holds the VIP."},
    {"kubevip_vip_neighbor_last_change_timestamp_seconds", "vip_neighbor", kGauge, kVipInterface, "When the MAC of the VIP's neighbour entry last changed (or the exporter started)."},
    // vip_arp_probe
    {"kubevip_vip_arp_probe_up", "vip_arp_probe", kGauge, kVipInterface, "1 while the ARP/NDP probe runs; 0 when it cannot (no CAP_NET_RAW, no interface)."},
    {"kubevip_vip_arp_probes_total", "vip_arp_probe", kCounter, kVipInterface, "ARP probes / neighbour solicitations sent for the VIP."},
    {"kubevip_vip_arp_responders", "vip_arp_probe", kGauge, kVipInterface, "Distinct MACs that answered the last complete probe window (0 on the VIP holder unless another host also answers)."},
    {"kubevip_vip_arp_responder_info", "vip_arp_probe", kGauge, kVipInterfaceMac, "1 per MAC that answered the last complete probe window."},
    {"kubevip_vip_gratuitous_arps_total", "vip_arp_probe", kCounter, kVipInterfaceMac, "Gratuitous ARPs / unsolicited neighbour advertisements for the VIP received, by sender."},
    {"kubevip_vip_gratuitous_arp_last_timestamp_seconds", "vip_arp_probe", kGauge, kVipInterfaceMac, "When the last gratuitous ARP / unsolicited neighbour advertisement for the VIP was received, by sender."},
    {"kubevip_vip_arp_malformed_frames_total", "vip_arp_probe", kCounter, kVipInterface, "ARP/NDP frames about the VIP that did not parse; dropped."},
    // lease_watch
    {"kubevip_is_leader", "lease_watch", kGauge, kLease, "1 if this node is the holder of the lease and it has not expired."},
    {"kubevip_lease_holder_info", "lease_watch", kGauge, kLeaseHolder, "Current holder identity of the lease (spec.holderIdentity)."},
    {"kubevip_lease_age_seconds", "lease_watch", kGauge, kLease, "Seconds since the holder last renewed the lease."},
    {"kubevip_lease_renew_timestamp_seconds", "lease_watch", kGauge, kLease, "spec.renewTime of the lease, in Unix seconds."},
    {"kubevip_lease_acquire_timestamp_seconds", "lease_watch", kGauge, kLease, "spec.acquireTime of the lease, in Unix seconds."},
    {"kubevip_lease_duration_seconds", "lease_watch", kGauge, kLease, "spec.leaseDurationSeconds of the lease."},
    {"kubevip_lease_transitions", "lease_watch", kGauge, kLease, "spec.leaseTransitions: how often the lease changed holder."},
    {"kubevip_lease_expired", "lease_watch", kGauge, kLease, "1 if renewTime + leaseDurationSeconds is in the past."},
    {"kubevip_lease_present", "lease_watch", kGauge, kLease, "1 if the Lease object exists."},
    {"kubevip_lease_watch_up", "lease_watch", kGauge, kLease, "1 while the watch stream on the lease is established."},
    {"kubevip_lease_watch_reconnects_total", "lease_watch", kCounter, kLease, "Watch streams re-established after a failure."},
    {"kubevip_lease_events_total", "lease_watch", kCounter, kLeaseEventType, "Watch events received, by type."},
    {"kubevip_lease_last_event_timestamp_seconds", "lease_watch", kGauge, kLease, "Time of the last watch event, in Unix seconds."},
    // kubevip_pod
    {"kubevip_container_restarts_total", "kubevip_pod", kCounter, kContainer, "Restarts of the container as the kubelet counts them (status.containerStatuses[].restartCount)."},
    {"kubevip_container_ready", "kubevip_pod", kGauge, kContainer, "1 if the kubelet reports the container ready."},
    {"kubevip_container_waiting_reason", "kubevip_pod", kGauge, kContainerReason, "1 with the reason while the container is waiting (CrashLoopBackOff, ErrImagePull, ...)."},
    {"kubevip_container_last_terminated_reason", "kubevip_pod", kGauge, kContainerReason, "1 with the reason the container's last run ended (Error, OOMKilled, Completed, ...)."},
    {"kubevip_container_last_terminated_exit_code", "kubevip_pod", kGauge, kContainer, "Exit code of the container's last run."},
    {"kubevip_container_last_terminated_timestamp_seconds", "kubevip_pod", kGauge, kContainer, "When the container's last run ended, in Unix seconds."},
    {"kubevip_pod_present", "kubevip_pod", kGauge, kPod, "1 if kube-vip's mirror pod exists."},
    {"kubevip_pod_watch_up", "kubevip_pod", kGauge, kPod, "1 while the watch stream on kube-vip's mirror pod is established."},
    // vip_healthz
    {"kubevip_vip_healthz_up", "vip_healthz", kGauge, kVip, "1 if https://<vip>:<port>/healthz answered ok within the deadline in the last probe."},
    {"kubevip_vip_healthz_duration_seconds", "vip_healthz", kGauge, kVip, "Duration of the last VIP healthz probe."},
    {"kubevip_vip_healthz_last_probe_timestamp_seconds", "vip_healthz", kGauge, kVip, "When the last VIP healthz probe ended, in Unix seconds."},
    // apiserver_livez
    {"kubevip_apiserver_livez_up", "apiserver_livez", kGauge, kNoLabels, "1 if the node's local API server answered ok on /livez within the deadline in the last probe."},
    {"kubevip_apiserver_livez_duration_seconds", "apiserver_livez", kGauge, kNoLabels, "Duration of the last local API server /livez probe."},
    {"kubevip_apiserver_livez_last_probe_timestamp_seconds", "apiserver_livez", kGauge, kNoLabels, "When the last local API server /livez probe ended, in Unix seconds."},
    // kubevip_log
    {"kubevip_log_lock_conflicts_total", "kubevip_log", kCounter, kNoLabels, "kube-vip log lines reporting a failed optimistic lease update (lock conflict), since the exporter started."},
    {"kubevip_log_errors_total", "kubevip_log", kCounter, kNoLabels, "Error-level kube-vip log lines since the exporter started."},
    // exporter
    {"kvip_exporter_build_info", "exporter", kGauge, kBuild, "A metric with a constant '1' value labeled by version, revision and compiler from which kvip-exporter was built."},
    {"kvip_exporter_node_info", "exporter", kGauge, kNode, "The node identity matched against the lease holder."},
    {"kvip_exporter_collector_success", "exporter", kGauge, kCollector, "1 if the collector succeeded in this scrape."},
    {"kvip_exporter_collector_duration_seconds", "exporter", kGauge, kCollector, "Time the collector took in this scrape."},
    // web
    {"kvip_exporter_web_requests_total", "web", kCounter, kCode, "HTTP requests answered, by status code."},
    {"kvip_exporter_web_connections", "web", kGauge, kNoLabels, "Open HTTP connections."},
    {"kvip_exporter_web_connections_dropped_total", "web", kCounter, kReason, "Connections the server closed before answering, by reason."},
    {"kvip_exporter_web_config_last_reload_successful", "web", kGauge, kNoLabels, "1 if the last (re)load of --web.config.file succeeded."},
    {"kvip_exporter_web_config_last_reload_success_timestamp_seconds", "web", kGauge, kNoLabels, "When --web.config.file was last loaded successfully."},
};
// clang-format on

}  // namespace kvip::metric_catalog

namespace kvip {

inline constexpr std::span<const FamilySpec> kMetricCatalog = metric_catalog::kFamilies;

// The catalogue's row named `name`, found at compile time: a name not in the table fails the
// build. MakeFamily(Spec("kubevip_up"), up ? 1 : 0)
consteval const FamilySpec& Spec(std::string_view name) {
  for (const FamilySpec& spec : metric_catalog::kFamilies)
    if (spec.name == name) return spec;
  throw "no such family in the metric catalogue";
}

}  // namespace kvip
