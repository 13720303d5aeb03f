#include "ops/prometheus_api.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "common/json_member.h"
#include "http/http_client.h"

namespace kvip::ops {
namespace {

using rapidjson::Value;

constexpr size_t kMaxAnswerBytes = 32 << 20;

// data.<member> of a success envelope, an array; null with `error` set otherwise.
const Value* DataArray(rapidjson::Document& doc, std::string_view json, const char* member,
                       std::string& error) {
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    error = std::string("not JSON (") + rapidjson::GetParseError_En(doc.GetParseError()) +
            " at offset " + std::to_string(doc.GetErrorOffset()) + ")";
    return nullptr;
  }
  if (!doc.IsObject()) {
    error = "not a Prometheus API answer (not a JSON object)";
    return nullptr;
  }
  const std::string status = json::String(doc, "status");
  if (status != "success") {
    const std::string detail = json::String(doc, "error");
    error = status.empty() ? "not a Prometheus API answer (no \"status\")"
                           : "Prometheus answered status \"" + status + "\"" +
                                 (detail.empty() ? "" : ": " + detail);
    return nullptr;
  }
  const Value* data = json::Member(doc, "data");
  const Value* array = data ? json::Member(*data, member) : nullptr;
  if (!array || !array->IsArray()) {
    error = std::string("not a Prometheus API answer (no data.") + member + " array)";
    return nullptr;
  }
  return array;
}

std::string Label(const Value& object, const char* labels, const char* name) {
  const Value* map = json::Member(object, labels);
  return map ? json::String(*map, name) : "";
}

// Each element of data.<member> read by `read_item`, or nullopt with `error` set.
template <typename T, typename ReadItem>
std::optional<std::vector<T>> ParseData(std::string_view json, const char* member,
                                        std::string& error, ReadItem read_item) {
  rapidjson::Document doc;
  const Value* array = DataArray(doc, json, member, error);
  if (!array) return std::nullopt;
  std::vector<T> out;
  for (const Value& item : array->GetArray()) out.push_back(read_item(item));
  return out;
}

}  // namespace

std::optional<std::vector<PromTarget>> ParsePromTargets(std::string_view json, std::string& error) {
  return ParseData<PromTarget>(json, "activeTargets", error, [](const Value& t) -> PromTarget {
    return {Label(t, "labels", "job"), Label(t, "labels", "instance"), json::String(t, "scrapeUrl"),
            json::String(t, "health"), json::String(t, "lastError")};
  });
}

std::optional<std::vector<PromRuleGroup>> ParsePromRules(std::string_view json,
                                                         std::string& error) {
  return ParseData<PromRuleGroup>(json, "groups", error, [](const Value& g) {
    PromRuleGroup group{json::String(g, "name"), json::String(g, "file"), {}};
    if (const Value* rules = json::Member(g, "rules"); rules && rules->IsArray()) {
      for (const Value& r : rules->GetArray())
        group.rules.push_back({json::String(r, "name"), json::String(r, "type"),
                               json::String(r, "health"), json::String(r, "lastError")});
    }
    return group;
  });
}

std::optional<std::vector<PromAlert>> ParsePromAlerts(std::string_view json, std::string& error) {
  return ParseData<PromAlert>(json, "alerts", error, [](const Value& a) -> PromAlert {
    return {Label(a, "labels", "alertname"), Label(a, "labels", "component"),
            json::String(a, "state"), Label(a, "labels", "instance"), Label(a, "labels", "node")};
  });
}

Result<std::string> FetchPrometheusApi(const std::string& base_url, const std::string& path,
                                       std::chrono::milliseconds timeout) {
  std::string url = base_url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  HttpRequest request;
  request.url = url;
  request.timeout = timeout;
  request.max_body_bytes = kMaxAnswerBytes;
  HttpResponse r = HttpFetch(request);
  if (!r.ok) return Error{"Prometheus unreachable: " + r.error};
  // Prometheus answers API errors (400, 422, 503) in the same JSON envelope: let the
  // parser quote its "error"; anything else is not Prometheus's API.
  if (r.status != 200 && r.content_type.find("json") == std::string::npos)
    return Error{url + ": HTTP " + std::to_string(r.status) + " (not a Prometheus API answer)"};
  return std::move(r.body);
}

}  // namespace kvip::ops
