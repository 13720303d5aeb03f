#include "kube/pod.h"

#include "kube/lease.h"
#include "kube/watch_json.h"

namespace kvip::kube {
namespace {

using rapidjson::Value;

double Time(const Value& object, const char* name) {
  return ParseRfc3339(json::String(object, name)).value_or(0);
}

ContainerTermination TerminationFromValue(const Value& terminated) {
  return ContainerTermination{.reason = json::String(terminated, "reason"),
                              .exit_code = json::Int(terminated, "exitCode"),
                              .signal = json::Int(terminated, "signal"),
                              .started_at = Time(terminated, "startedAt"),
                              .finished_at = Time(terminated, "finishedAt")};
}

ContainerStatus ContainerFromValue(const Value& c) {
  ContainerStatus status;
  status.name = json::String(c, "name");
  status.image = json::String(c, "image");
  status.image_id = json::String(c, "imageID");
  status.restart_count = json::Int(c, "restartCount");
  status.ready = json::Bool(c, "ready");
  if (const Value* state = json::Member(c, "state")) {
    if (const Value* running = json::Member(*state, "running")) {
      status.running = true;
      status.started_at = Time(*running, "startedAt");
    }
    if (const Value* waiting = json::Member(*state, "waiting")) {
      status.waiting_reason = json::String(*waiting, "reason");
      status.waiting_message = json::String(*waiting, "message");
    }
    if (const Value* terminated = json::Member(*state, "terminated"))
      status.terminated = TerminationFromValue(*terminated);
  }
  if (const Value* last = json::Member(c, "lastState")) {
    if (const Value* terminated = json::Member(*last, "terminated"))
      status.last_terminated = TerminationFromValue(*terminated);
  }
  return status;
}

bool PodFromValue(const Value& object, Pod& pod, std::string& error) {
  if (!object.IsObject()) {
    error = "the Pod is not a JSON object";
    return false;
  }
  if (const Value* metadata = detail::ReadMetadata(object, pod)) {
    pod.uid = json::String(*metadata, "uid");
    if (const Value* annotations = json::Member(*metadata, "annotations"))
      pod.config_hash = json::String(*annotations, "kubernetes.io/config.hash");
  }
  if (const Value* spec = json::Member(object, "spec")) {
    pod.node = json::String(*spec, "nodeName");
    if (const Value* containers = json::Member(*spec, "containers");
        containers && containers->IsArray()) {
      for (const Value& c : containers->GetArray())
        pod.spec_containers.push_back({json::String(c, "name"), json::String(c, "image")});
    }
  }
  const Value* status = json::Member(object, "status");
  if (!status) return true;  // a BOOKMARK carries metadata only
  pod.phase = json::String(*status, "phase");
  pod.reason = json::String(*status, "reason");
  pod.message = json::String(*status, "message");
  pod.host_ip = json::String(*status, "hostIP");
  const Value* statuses = json::Member(*status, "containerStatuses");
  if (statuses && !statuses->IsArray()) {
    error = "status.containerStatuses is not an array";
    return false;
  }
  for (rapidjson::SizeType i = 0; statuses && i < statuses->Size(); ++i) {
    if (!(*statuses)[i].IsObject()) {
      error = "status.containerStatuses[" + std::to_string(i) + "] is not an object";
      return false;
    }
    pod.containers.push_back(ContainerFromValue((*statuses)[i]));
  }
  return true;
}

}  // namespace

const ContainerSpec* Pod::SpecContainer(std::string_view container) const {
  for (const ContainerSpec& c : spec_containers)
    if (c.name == container) return &c;
  return nullptr;
}

const ContainerStatus* Pod::Container(std::string_view container) const {
  for (const ContainerStatus& c : containers)
    if (c.name == container) return &c;
  return nullptr;
}

std::optional<Pod> ParsePod(std::string_view json, std::string& error) {
  rapidjson::Document doc;
  Pod pod;
  if (!detail::ParseDocument(json, doc, error) || !PodFromValue(doc, pod, error))
    return std::nullopt;
  return pod;
}

std::optional<PodList> ParsePodList(std::string_view json, std::string& error) {
  return detail::ParseObjectList<Pod>(json, &PodFromValue, error);
}

std::optional<std::vector<Pod>> ParsePodItems(std::string_view json, std::string& error) {
  rapidjson::Document doc;
  if (!detail::ParseDocument(json, doc, error)) return std::nullopt;
  std::vector<Pod> pods;
  if (!detail::ReadItems<Pod>(doc, &PodFromValue, pods, error)) return std::nullopt;
  return pods;
}

std::optional<PodWatchEvent> ParsePodWatchEvent(std::string_view json, std::string& error) {
  return detail::ParseObjectEvent<Pod>(json, &PodFromValue, error);
}

}  // namespace kvip::kube
