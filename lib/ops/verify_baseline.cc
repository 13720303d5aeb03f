#include "ops/verify_baseline.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cmath>

#include "common/json_member.h"
#include "common/metric_family.h"
#include "common/read_file.h"
#include "manifest/durable_file.h"

namespace kvip::ops {
namespace {

constexpr size_t kMaxBaselineBytes = 1 << 20;
constexpr int kBaselineFormat = 1;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(JsonWriter& w, const std::string& value) {  // with its length: NULs kept
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

// Which static pod `pod` is: its config hash, else (an API server not showing it) its uid.
std::string Identity(const std::string& config_hash, const std::string& uid) {
  return config_hash.empty() ? uid : config_hash;
}

}  // namespace

const BaselinePod* VerifyBaseline::Find(const std::string& node) const {
  for (const BaselinePod& pod : pods)
    if (pod.node == node) return &pod;
  return nullptr;
}

VerifyBaseline BaselineOf(const std::vector<KubeVipPod>& pods, double now) {
  VerifyBaseline baseline;
  baseline.taken_at = now;
  for (const KubeVipPod& pod : pods)
    baseline.pods.push_back(
        {pod.node, pod.uid, pod.config_hash, pod.restart_count, pod.running ? pod.started_at : 0});
  return baseline;
}

Result<VerifyBaseline> CaptureBaseline(const ClusterAccess& access) {
  auto pods = FetchKubeVipPods(access);
  if (!pods) return Error{"cannot capture the baseline: " + pods.error()};
  if (pods->empty()) return Error{"cannot capture the baseline: no kube-vip mirror pods found"};
  return BaselineOf(*pods, UnixNow());
}

std::string BaselineJson(const VerifyBaseline& baseline) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("version");
  w.Int(kBaselineFormat);
  w.Key("taken_at");
  w.Double(baseline.taken_at);
  w.Key("pods");
  w.StartArray();
  for (const BaselinePod& pod : baseline.pods) {
    w.StartObject();
    w.Key("node");
    WriteString(w, pod.node);
    w.Key("pod_uid");
    WriteString(w, pod.pod_uid);
    w.Key("config_hash");
    WriteString(w, pod.config_hash);
    w.Key("restart_count");
    w.Int(pod.restart_count);
    w.Key("started_at");
    w.Double(pod.started_at);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString()) + "\n";
}

std::optional<VerifyBaseline> ParseBaseline(std::string_view json, std::string& error) {
  rapidjson::Document doc;
  // Full precision: the times must read back exactly as they were written.
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  if (json::Int(doc, "version", -1) != kBaselineFormat) {
    error = "not a verify baseline (\"version\" is not " + std::to_string(kBaselineFormat) + ")";
    return std::nullopt;
  }
  const rapidjson::Value* pods = json::Member(doc, "pods");
  if (!pods || !pods->IsArray()) {
    error = "no \"pods\" array";
    return std::nullopt;
  }
  VerifyBaseline baseline;
  baseline.taken_at = json::Number(doc, "taken_at").value_or(0);
  for (const rapidjson::Value& p : pods->GetArray()) {
    BaselinePod pod{json::String(p, "node"), json::String(p, "pod_uid"),
                    json::String(p, "config_hash"), json::Int(p, "restart_count", -1),
                    json::Number(p, "started_at").value_or(0)};
    if (pod.node.empty() || pod.restart_count < 0 ||
        (pod.pod_uid.empty() && pod.config_hash.empty())) {
      error = "pods[" + std::to_string(baseline.pods.size()) +
              "]: needs a node, a pod_uid or config_hash, and a restart_count >= 0";
      return std::nullopt;
    }
    baseline.pods.push_back(std::move(pod));
  }
  return baseline;
}

Result<VerifyBaseline> ReadBaselineFile(const std::string& path) {
  std::string text;
  std::string error;
  if (!ReadFileBounded(path, text, kMaxBaselineBytes, error)) return Error{error};
  auto baseline = ParseBaseline(text, error);
  if (!baseline) return Error{path + ": " + error};
  return std::move(*baseline);
}

bool WriteBaselineFile(const std::string& path, const VerifyBaseline& baseline,
                       std::string& error) {
  manifest::FileOwnership ownership{0644, getuid(), getgid()};
  return manifest::WriteFileAtomically(path, BaselineJson(baseline), ownership, error);
}

Check JudgeRestarts(const std::vector<KubeVipPod>& pods, const VerifyBaseline* baseline,
                    double now) {
  Check check{"restarts", true, ""};
  std::string counts;
  std::string failures;
  for (const KubeVipPod& pod : pods) {
    counts += (counts.empty() ? "" : ", ") + pod.node + "=" + std::to_string(pod.restart_count);
    if (!baseline) continue;
    const BaselinePod* before = baseline->Find(pod.node);
    const bool same_pod = before && Identity(before->config_hash, before->pod_uid) ==
                                        Identity(pod.config_hash, pod.uid);
    const int allowed = same_pod ? before->restart_count : 0;
    if (pod.restart_count <= allowed) continue;
    failures += (failures.empty() ? "" : "; ") + pod.node + ": " +
                std::to_string(pod.restart_count - allowed) + " restart(s) since " +
                (same_pod ? "the baseline (" + std::to_string(allowed) + " then, " +
                                std::to_string(pod.restart_count) + " now)"
                          : std::string(before ? "its pod was recreated" : "it appeared") +
                                ", after the baseline");
  }
  if (!baseline) {
    check.detail = counts + " (not judged: no baseline; record one with --record-baseline)";
  } else if (!failures.empty()) {
    check.ok = false;
    check.detail = failures;
  } else {
    const long age = std::lround(now - baseline->taken_at);
    check.detail = counts + ": none since the baseline (" + std::to_string(age) + " s ago)";
  }
  return check;
}

}  // namespace kvip::ops
