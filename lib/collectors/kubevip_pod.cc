#include "collectors/kubevip_pod.h"

#include "common/metric_family.h"

namespace kvip {
namespace {

// Container families carry `namespace`, `pod` and `container`; the watch's own carry
// `namespace` and `pod`.
constexpr std::string_view kPodLabels[] = {"namespace", "pod"};
constexpr std::string_view kContainerLabels[] = {"namespace", "pod", "container"};
constexpr std::string_view kReasonLabels[] = {"namespace", "pod", "container", "reason"};
constexpr FamilySpec kFamilies[] = {
    {"kubevip_container_restarts_total", prometheus::MetricType::Counter,
     "Restarts of the container as the kubelet counts them "
     "(status.containerStatuses[].restartCount).",
     kContainerLabels},
    {"kubevip_container_ready", prometheus::MetricType::Gauge,
     "1 if the kubelet reports the container ready.", kContainerLabels},
    {"kubevip_container_waiting_reason", prometheus::MetricType::Gauge,
     "1 with the reason while the container is waiting (CrashLoopBackOff, ErrImagePull, ...).",
     kReasonLabels},
    {"kubevip_container_last_terminated_reason", prometheus::MetricType::Gauge,
     "1 with the reason the container's last run ended (Error, OOMKilled, Completed, ...).",
     kReasonLabels},
    {"kubevip_container_last_terminated_exit_code", prometheus::MetricType::Gauge,
     "Exit code of the container's last run.", kContainerLabels},
    {"kubevip_container_last_terminated_timestamp_seconds", prometheus::MetricType::Gauge,
     "When the container's last run ended, in Unix seconds.", kContainerLabels},
    {"kubevip_pod_present", prometheus::MetricType::Gauge, "1 if kube-vip's mirror pod exists.",
     kPodLabels},
    {"kubevip_pod_watch_up", prometheus::MetricType::Gauge,
     "1 while the watch stream on kube-vip's mirror pod is established.", kPodLabels},
};
constexpr const FamilySpec& kRestarts = FamilyIn(kFamilies, "kubevip_container_restarts_total");
constexpr const FamilySpec& kReady = FamilyIn(kFamilies, "kubevip_container_ready");
constexpr const FamilySpec& kWaiting = FamilyIn(kFamilies, "kubevip_container_waiting_reason");
constexpr const FamilySpec& kLastReason =
    FamilyIn(kFamilies, "kubevip_container_last_terminated_reason");
constexpr const FamilySpec& kLastExitCode =
    FamilyIn(kFamilies, "kubevip_container_last_terminated_exit_code");
constexpr const FamilySpec& kLastFinished =
    FamilyIn(kFamilies, "kubevip_container_last_terminated_timestamp_seconds");
constexpr const FamilySpec& kPresent = FamilyIn(kFamilies, "kubevip_pod_present");
constexpr const FamilySpec& kWatchUp = FamilyIn(kFamilies, "kubevip_pod_watch_up");

// The run that ended last: the current state when the container is terminated now (between
// a crash and its restart), else lastState.
const kube::ContainerTermination* LastTermination(const kube::ContainerStatus& c) {
  if (c.terminated) return &*c.terminated;
  if (c.last_terminated) return &*c.last_terminated;
  return nullptr;
}

}  // namespace

std::span<const FamilySpec> KubeVipPodCollector::Families() { return kFamilies; }

KubeVipPodCollector::KubeVipPodCollector(boost::asio::io_context& loop,
                                         std::shared_ptr<kube::Client> client,
                                         kube::WatchOptions options)
    : options_(std::move(options)) {
  if (!client) return;
  kube::WatchKind<kube::Pod> kind{
      .what = "pod",
      .collection_path = "/api/v1/namespaces/" + options_.namespace_name + "/pods",
      .parse_list = &kube::ParsePodList,
      .parse_event = &kube::ParsePodWatchEvent};
  watcher_ = std::make_unique<kube::ObjectWatcher<kube::Pod>>(loop, std::move(client),
                                                              std::move(kind), options_);
  watcher_->Start();
}

bool KubeVipPodCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  kube::WatchStatus<kube::Pod> status;
  if (watcher_) status = watcher_->Status();
  for (auto& family : KubeVipPodFamilies(status, options_.namespace_name, options_.name)) {
    out.push_back(std::move(family));
  }
  return status.watch_up;
}

std::vector<prometheus::MetricFamily> KubeVipPodFamilies(const kube::WatchStatus<kube::Pod>& status,
                                                         const std::string& pod_namespace,
                                                         const std::string& pod_name) {
  const std::string_view ns = pod_namespace, pod = pod_name;
  std::vector<prometheus::MetricFamily> out;
  if (status.listed) out.push_back(MakeFamily(kPresent, status.object ? 1 : 0, {ns, pod}));
  if (status.object && !status.object->containers.empty()) {
    auto restarts = MakeFamily(kRestarts), ready = MakeFamily(kReady),
         waiting = MakeFamily(kWaiting), last_reason = MakeFamily(kLastReason),
         last_exit = MakeFamily(kLastExitCode), last_finished = MakeFamily(kLastFinished);
    for (const auto& c : status.object->containers) {
      const std::string_view container = c.name;
      AddSample(restarts, kRestarts, c.restart_count, {ns, pod, container});
      AddSample(ready, kReady, c.ready ? 1 : 0, {ns, pod, container});
      if (!c.waiting_reason.empty())
        AddSample(waiting, kWaiting, 1, {ns, pod, container, c.waiting_reason});
      if (const auto* last = LastTermination(c)) {
        AddSample(last_reason, kLastReason, 1, {ns, pod, container, last->reason});
        AddSample(last_exit, kLastExitCode, last->exit_code, {ns, pod, container});
        if (last->finished_at > 0)
          AddSample(last_finished, kLastFinished, last->finished_at, {ns, pod, container});
      }
    }
    for (auto* family : {&restarts, &ready, &waiting, &last_reason, &last_exit, &last_finished}) {
      if (!family->metric.empty()) out.push_back(std::move(*family));
    }
  }
  out.push_back(MakeFamily(kWatchUp, status.watch_up ? 1 : 0, {ns, pod}));
  return out;
}

}  // namespace kvip
