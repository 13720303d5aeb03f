#include "collectors/kubevip_pod.h"

#include "common/metric_family.h"

namespace kvip {
namespace {

using prometheus::MetricType;

// Every family this collector exposes, in one place. Container families carry `namespace`,
// `pod` and `container`; the watch's own carry `namespace` and `pod`.
constexpr FamilySpec kRestarts{"kubevip_container_restarts_total",
                               "Restarts of the container as the kubelet counts them "
                               "(status.containerStatuses[].restartCount).",
                               MetricType::Counter};
constexpr FamilySpec kReady{"kubevip_container_ready",
                            "1 if the kubelet reports the container ready.", MetricType::Gauge};
constexpr FamilySpec kWaiting{"kubevip_container_waiting_reason",
                              "1 with the reason while the container is waiting "
                              "(CrashLoopBackOff, ErrImagePull, ...).",
                              MetricType::Gauge};
constexpr FamilySpec kLastReason{"kubevip_container_last_terminated_reason",
                                 "1 with the reason the container's last run ended "
                                 "(Error, OOMKilled, Completed, ...).",
                                 MetricType::Gauge};
constexpr FamilySpec kLastExitCode{"kubevip_container_last_terminated_exit_code",
                                   "Exit code of the container's last run.", MetricType::Gauge};
constexpr FamilySpec kLastFinished{"kubevip_container_last_terminated_timestamp_seconds",
                                   "When the container's last run ended, in Unix seconds.",
                                   MetricType::Gauge};
constexpr FamilySpec kPresent{"kubevip_pod_present", "1 if kube-vip's mirror pod exists.",
                              MetricType::Gauge};
constexpr FamilySpec kWatchUp{"kubevip_pod_watch_up",
                              "1 while the watch stream on kube-vip's mirror pod is established.",
                              MetricType::Gauge};

// The run that ended last: the current state when the container is terminated now (between
// a crash and its restart), else lastState.
const kube::ContainerTermination* LastTermination(const kube::ContainerStatus& c) {
  if (c.terminated) return &*c.terminated;
  if (c.last_terminated) return &*c.last_terminated;
  return nullptr;
}

}  // namespace

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
  const Labels pod_labels{{"namespace", pod_namespace}, {"pod", pod_name}};
  std::vector<prometheus::MetricFamily> out;
  if (status.listed) {
    auto present = MakeFamily(kPresent);
    AddSample(present, status.object ? 1 : 0, pod_labels);
    out.push_back(std::move(present));
  }
  if (status.object && !status.object->containers.empty()) {
    auto restarts = MakeFamily(kRestarts), ready = MakeFamily(kReady),
         waiting = MakeFamily(kWaiting), last_reason = MakeFamily(kLastReason),
         last_exit = MakeFamily(kLastExitCode), last_finished = MakeFamily(kLastFinished);
    for (const auto& c : status.object->containers) {
      Labels labels = pod_labels;
      labels.emplace_back("container", c.name);
      AddSample(restarts, c.restart_count, labels);
      AddSample(ready, c.ready ? 1 : 0, labels);
      if (!c.waiting_reason.empty()) {
        Labels reason = labels;
        reason.emplace_back("reason", c.waiting_reason);
        AddSample(waiting, 1, reason);
      }
      if (const auto* last = LastTermination(c)) {
        Labels reason = labels;
        reason.emplace_back("reason", last->reason);
        AddSample(last_reason, 1, reason);
        AddSample(last_exit, last->exit_code, labels);
        if (last->finished_at > 0) AddSample(last_finished, last->finished_at, labels);
      }
    }
    for (auto* family : {&restarts, &ready, &waiting, &last_reason, &last_exit, &last_finished}) {
      if (!family->metric.empty()) out.push_back(std::move(*family));
    }
  }
  auto watch_up = MakeFamily(kWatchUp);
  AddSample(watch_up, status.watch_up ? 1 : 0, pod_labels);
  out.push_back(std::move(watch_up));
  return out;
}

}  // namespace kvip
