#include "ops/verify_checklist.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "common/json_member.h"
#include "common/metric_family.h"
#include "kubevip/log_lines.h"
#include "manifest/image_ref.h"
#include "ops/prometheus_api.h"

namespace kvip::ops {
namespace {

// A label selector as a query parameter: everything but unreserved characters and the
// selector's own punctuation percent-encoded.
std::string EncodeSelector(const std::string& selector) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : selector) {
    if (std::isalnum(c) ||
        std::string_view("-._~/=,!").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::vector<std::string>> FetchNodeNames(const ClusterAccess& access,
                                                const std::string& selector) {
  if (!access.api) return Error{"no API access: " + access.api_error};
  const std::string path = "/api/v1/nodes?labelSelector=" + EncodeSelector(selector);
  HttpResponse r = access.api->Request("GET", path, "", access.options.request_timeout);
  if (!r.ok || r.status != 200) return Error{access.api->DescribeFailure("list", path, r)};
  std::string error;
  auto names = ParseNodeNames(r.body, error);
  if (!names) return Error{path + ": " + error};
  return std::move(*names);
}

}  // namespace

const char* VerifyItemName(VerifyItem item) {
  for (const VerifyItemInfo& info : kVerifyItems)
    if (info.item == item) return info.name;
  return "?";
}

int VerifyExitCode(const std::vector<VerifyLine>& lines) {
  int code = 0;
  for (const VerifyLine& line : lines) {
    const int item = static_cast<int>(line.item);
    if (!line.check.ok && (code == 0 || item < code)) code = item;
  }
  return code;
}

std::vector<Check> VerifyOutcome::Checks() const {
  std::vector<Check> checks;
  for (const VerifyLine& line : lines) checks.push_back(line.check);
  return checks;
}

std::string VerifyOutcome::FirstFailure() const {
  return exit_code == 0 ? "" : VerifyItemName(static_cast<VerifyItem>(exit_code));
}

std::optional<std::vector<std::string>> ParseNodeNames(std::string_view node_list_json,
                                                       std::string& error) {
  rapidjson::Document doc;
  doc.Parse(node_list_json.data(), node_list_json.size());
  const rapidjson::Value* items = doc.HasParseError() ? nullptr : json::Member(doc, "items");
  if (!items || !items->IsArray()) {
    error = "the node list is not a Kubernetes NodeList (no items array)";
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const rapidjson::Value& item : items->GetArray()) {
    const rapidjson::Value* metadata = json::Member(item, "metadata");
    std::string name = metadata ? json::String(*metadata, "name") : "";
    if (!name.empty()) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<Check> JudgeMirrorPods(const std::vector<std::string>& control_plane_nodes,
                                   const std::vector<KubeVipPod>& pods, const std::string& expect,
                                   const std::string& selector) {
  std::vector<Check> checks;
  if (control_plane_nodes.empty())
    checks.push_back({"control-plane", false,
                      "no node carries the label " + selector +
                          " (set --control-plane-selector to what marks this cluster's control "
                          "plane)"});
  std::set<std::string> nodes(control_plane_nodes.begin(), control_plane_nodes.end());
  for (const KubeVipPod& pod : pods) nodes.insert(pod.node);
  for (const std::string& node : nodes) {
    auto pod = std::find_if(pods.begin(), pods.end(),
                            [&node](const KubeVipPod& p) { return p.node == node; });
    if (pod == pods.end()) {
      checks.push_back({"pod " + node, false, "control-plane node without a kube-vip mirror pod"});
      continue;
    }
    const std::string& image = pod->status_image.empty() ? pod->image : pod->status_image;
    std::string version = manifest::TagOf(image);
    if (version.empty()) version = image;  // an untagged reference is shown whole
    const bool on_version = expect.empty() || version == expect;
    checks.push_back({"pod " + node, pod->running && pod->ready && on_version,
                      pod->name + " " + version + " " + pod->RunningReadyText() +
                          (pod->waiting_reason.empty() ? "" : " (" + pod->waiting_reason + ")") +
                          (on_version ? "" : "; expected " + expect)});
  }
  return checks;
}

Check JudgeLockConflicts(const std::string& node, const Result<std::string>& log) {
  if (!log) return {"lock-conflicts " + node, false, log.error()};
  const int conflicts = kubevip::CountLockConflictLines(*log);
  return {"lock-conflicts " + node, conflicts == 0,
          std::to_string(conflicts) + " lock-conflict lines since the container started"};
}

Check JudgeLease(const LeaseLookup& lease, const std::string& lease_name,
                 const std::vector<std::string>& kubevip_nodes, double now) {
  Check check{"lease", false, ""};
  const auto age = [&] { return std::to_string(static_cast<int>(now - lease.lease.renew_time)); };
  if (!lease.ok) {
    check.detail = lease.error;
  } else if (!lease.present) {
    check.detail = lease_name + " does not exist";
  } else if (!lease.lease.FreshAt(now)) {
    check.detail = lease_name + " held by \"" + lease.lease.holder + "\" but not renewed for " +
                   age() + " s (duration " + std::to_string(lease.lease.duration_seconds) + " s)";
  } else if (!kubevip_nodes.empty() && std::find(kubevip_nodes.begin(), kubevip_nodes.end(),
                                                 lease.lease.holder) == kubevip_nodes.end()) {
    check.detail = lease_name + " held by \"" + lease.lease.holder +
                   "\", which is not a node running kube-vip";
  } else {
    check.ok = true;
    check.detail = lease_name + " held by " + lease.lease.holder + ", renewed " + age() + " s ago";
  }
  return check;
}

VerifyOutcome RunVerifyChecklist(const ClusterAccess& access, const VerifyInputs& inputs) {
  VerifyOutcome out;
  auto add = [&out](VerifyItem item, Check check) {
    out.lines.push_back({item, std::move(check)});
  };
  add(VerifyItem::kVip, ProbeVipHealthz(access));

  auto pods = FetchKubeVipPods(access);
  auto control_plane = FetchNodeNames(access, inputs.control_plane_selector);
  std::vector<std::string> kubevip_nodes;
  if (!pods) {
    add(VerifyItem::kPods, {"pods", false, pods.error()});
  } else if (!control_plane) {
    add(VerifyItem::kPods, {"control-plane", false, control_plane.error()});
  } else {
    for (Check& c : JudgeMirrorPods(*control_plane, *pods, inputs.expect_version,
                                    inputs.control_plane_selector))
      add(VerifyItem::kPods, std::move(c));
  }
  if (pods) {
    for (const KubeVipPod& pod : *pods) {
      kubevip_nodes.push_back(pod.node);
      const std::string url =
          "http://" + pod.host_ip + ":" + std::to_string(access.MetricsPort()) + "/metrics";
      MetricsProbe metrics = ProbeKubeVipMetrics(url, access.options.request_timeout);
      add(VerifyItem::kMetrics,
          {"metrics " + pod.node, metrics.up, metrics.up ? url + " up" : metrics.error});
    }
    add(VerifyItem::kRestarts, JudgeRestarts(*pods, inputs.baseline, UnixNow()));
    for (const KubeVipPod& pod : *pods)
      add(VerifyItem::kLockConflicts, JudgeLockConflicts(pod.node, FetchPodLog(access, pod.name)));
  } else {
    add(VerifyItem::kRestarts, {"restarts", false, "not judged: no pod list"});
    add(VerifyItem::kLockConflicts, {"lock-conflicts", false, "not judged: no pod list"});
  }
  add(VerifyItem::kLease,
      JudgeLease(FetchLease(access), access.LeaseNamespace() + "/" + access.LeaseName(),
                 kubevip_nodes, UnixNow()));

  if (!inputs.prometheus_url.empty()) {
    const auto timeout = access.options.request_timeout;
    for (VerifyLine& line : JudgePromTargets(
             FetchPrometheusApi(inputs.prometheus_url, "/api/v1/targets?state=active", timeout),
             inputs.exporter_job, inputs.kubevip_job))
      out.lines.push_back(std::move(line));
    out.lines.push_back(
        JudgePromRules(FetchPrometheusApi(inputs.prometheus_url, "/api/v1/rules", timeout)));
    out.lines.push_back(
        JudgePromAlerts(FetchPrometheusApi(inputs.prometheus_url, "/api/v1/alerts", timeout)));
  }
  out.exit_code = VerifyExitCode(out.lines);
  return out;
}

}  // namespace kvip::ops
