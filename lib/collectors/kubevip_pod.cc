#include "collectors/kubevip_pod.h"

#include "common/metric_catalog.h"

namespace kvip {

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
  if (status.listed)
    out.push_back(MakeFamily(Spec("kubevip_pod_present"), status.object ? 1 : 0, {ns, pod}));
  if (status.object && !status.object->containers.empty()) {
    FamilyBuilder restarts(Spec("kubevip_container_restarts_total"));
    FamilyBuilder ready(Spec("kubevip_container_ready"));
    FamilyBuilder waiting(Spec("kubevip_container_waiting_reason"));
    FamilyBuilder last_reason(Spec("kubevip_container_last_terminated_reason"));
    FamilyBuilder last_exit(Spec("kubevip_container_last_terminated_exit_code"));
    FamilyBuilder last_finished(Spec("kubevip_container_last_terminated_timestamp_seconds"));
    for (const auto& c : status.object->containers) {
      const std::string_view container = c.name;
      restarts.Add(c.restart_count, {ns, pod, container});
      ready.Add(c.ready ? 1 : 0, {ns, pod, container});
      if (!c.waiting_reason.empty()) waiting.Add(1, {ns, pod, container, c.waiting_reason});
      if (const auto* last = c.LastEnded()) {
        last_reason.Add(1, {ns, pod, container, last->reason});
        last_exit.Add(last->exit_code, {ns, pod, container});
        if (last->finished_at > 0) last_finished.Add(last->finished_at, {ns, pod, container});
      }
    }
    for (auto* family : {&restarts, &ready, &waiting, &last_reason, &last_exit, &last_finished}) {
      if (!family->empty()) out.push_back(std::move(*family).Take());
    }
  }
  out.push_back(MakeFamily(Spec("kubevip_pod_watch_up"), status.watch_up ? 1 : 0, {ns, pod}));
  return out;
}

}  // namespace kvip
