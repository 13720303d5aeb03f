#include "manifest/cluster_state.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace kvip::manifest {
namespace {

using rapidjson::Value;

const Value* Member(const Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string String(const Value& object, const char* name) {
  const Value* v = Member(object, name);
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

int Int(const Value& object, const char* name) {
  const Value* v = Member(object, name);
  return v && v->IsInt() ? v->GetInt() : 0;
}

bool ParseDigits(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::optional<double> ParseRfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
      text[13] != ':' || text[16] != ':')
    return std::nullopt;
  std::tm tm{};
  int year, month, day, hour, minute, second;
  if (!ParseDigits(text.substr(0, 4), year) || !ParseDigits(text.substr(5, 2), month) ||
      !ParseDigits(text.substr(8, 2), day) || !ParseDigits(text.substr(11, 2), hour) ||
      !ParseDigits(text.substr(14, 2), minute) || !ParseDigits(text.substr(17, 2), second))
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  double fraction = 0;
  size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    double scale = 0.1;
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10)
      fraction += (text[at] - '0') * scale;
  }
  long offset = 0;
  std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
    offset = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int hours, minutes;
    if (!ParseDigits(zone.substr(1, 2), hours) || !ParseDigits(zone.substr(4, 2), minutes))
      return std::nullopt;
    offset = (hours * 3600L + minutes * 60L) * (zone[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  time_t utc = timegm(&tm);
  return static_cast<double>(utc - offset) + fraction;
}

std::optional<std::vector<KubeVipPod>> ParseKubeVipPods(std::string_view pod_list_json,
                                                        const std::string& pod_name,
                                                        const std::string& container,
                                                        std::string& error) {
  rapidjson::Document doc;
  doc.Parse(pod_list_json.data(), pod_list_json.size());
  const Value* items = doc.HasParseError() ? nullptr : Member(doc, "items");
  if (!items || !items->IsArray()) {
    error = "the pod list is not a Kubernetes PodList (no items array)";
    return std::nullopt;
  }
  std::vector<KubeVipPod> pods;
  for (const Value& item : items->GetArray()) {
    const Value* metadata = Member(item, "metadata");
    const Value* spec = Member(item, "spec");
    if (!metadata || !spec) continue;
    KubeVipPod pod;
    pod.name = String(*metadata, "name");
    pod.node = String(*spec, "nodeName");
    if (pod.node.empty() || pod.name != pod_name + "-" + pod.node) continue;
    pod.uid = String(*metadata, "uid");
    if (const Value* annotations = Member(*metadata, "annotations"))
      pod.config_hash = String(*annotations, "kubernetes.io/config.hash");
    if (const Value* containers = Member(*spec, "containers"); containers && containers->IsArray()) {
      for (const Value& c : containers->GetArray()) {
        if (String(c, "name") == container) pod.image = String(c, "image");
      }
    }
    if (const Value* status = Member(item, "status")) {
      pod.phase = String(*status, "phase");
      pod.host_ip = String(*status, "hostIP");
      const Value* statuses = Member(*status, "containerStatuses");
      for (rapidjson::SizeType i = 0; statuses && statuses->IsArray() && i < statuses->Size(); ++i) {
        const Value& c = (*statuses)[i];
        if (String(c, "name") != container) continue;
        pod.status_image = String(c, "image");
        pod.image_id = String(c, "imageID");
        pod.restart_count = Int(c, "restartCount");
        const Value* ready = Member(c, "ready");
        pod.ready = ready && ready->IsBool() && ready->GetBool();
        if (const Value* last = Member(c, "lastState")) {
          if (const Value* terminated = Member(*last, "terminated")) {
            pod.last_run_started_at = ParseRfc3339(String(*terminated, "startedAt")).value_or(0);
            pod.last_exit_code = Int(*terminated, "exitCode");
          }
        }
        if (const Value* state = Member(c, "state")) {
          if (const Value* running = Member(*state, "running")) {
            pod.running = true;
            pod.started_at = ParseRfc3339(String(*running, "startedAt")).value_or(0);
          }
          if (const Value* waiting = Member(*state, "waiting"))
            pod.waiting_reason = String(*waiting, "reason");
          if (const Value* terminated = Member(*state, "terminated")) {
            pod.waiting_reason = "Terminated: " + String(*terminated, "reason");
            pod.last_run_started_at = ParseRfc3339(String(*terminated, "startedAt")).value_or(0);
            pod.last_exit_code = Int(*terminated, "exitCode");
          }
        }
      }
    }
    pods.push_back(std::move(pod));
  }
  std::sort(pods.begin(), pods.end(),
            [](const KubeVipPod& a, const KubeVipPod& b) { return a.node < b.node; });
  return pods;
}

std::optional<LeaseInfo> ParseLease(std::string_view lease_json, std::string& error) {
  rapidjson::Document doc;
  doc.Parse(lease_json.data(), lease_json.size());
  const Value* spec = doc.HasParseError() ? nullptr : Member(doc, "spec");
  const Value* metadata = doc.HasParseError() ? nullptr : Member(doc, "metadata");
  if (!spec || !metadata || String(doc, "kind") != "Lease") {
    error = "the response is not a Kubernetes Lease";
    return std::nullopt;
  }
  LeaseInfo lease;
  lease.holder = String(*spec, "holderIdentity");
  lease.renew_time = ParseRfc3339(String(*spec, "renewTime")).value_or(0);
  lease.acquire_time = ParseRfc3339(String(*spec, "acquireTime")).value_or(0);
  lease.duration_seconds = Int(*spec, "leaseDurationSeconds");
  lease.transitions = Int(*spec, "leaseTransitions");
  lease.resource_version = String(*metadata, "resourceVersion");
  lease.uid = String(*metadata, "uid");
  return lease;
}

bool IsLockConflictLine(std::string_view line) {
  return line.find("Failed to update lock optimistically") != std::string_view::npos ||
         line.find("Failed to update lease optimistically") != std::string_view::npos;
}

int CountLockConflictLines(std::string_view text) {
  int count = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (IsLockConflictLine(line)) ++count;
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return count;
}

}  // namespace kvip::manifest
