#pragma once
// What `verify` asks Prometheus's HTTP API (/api/v1/targets, /api/v1/rules, /api/v1/alerts):
// the answers parsed by pure functions (unit-tested on captured answers), and one thin GET.
// Every parser rejects an answer that is not the documented envelope
// ({"status":"success","data":...}) with a message naming what was wrong.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kvip::ops {

struct PromTarget {
  std::string job;
  std::string instance;
  std::string scrape_url;
  std::string health;  // up | down | unknown
  std::string last_error;
};

struct PromRule {
  std::string name;
  std::string type;    // alerting | recording
  std::string health;  // ok | err | unknown
  std::string last_error;
};

struct PromRuleGroup {
  std::string name;
  std::string file;
  std::vector<PromRule> rules;
};

struct PromAlert {
  std::string alertname;
  std::string component;  // the `component` label, "" when absent
  std::string state;      // firing | pending
  std::string instance;
  std::string node;
};

// /api/v1/targets: data.activeTargets.
std::optional<std::vector<PromTarget>> ParsePromTargets(std::string_view json, std::string& error);
// /api/v1/rules: data.groups.
std::optional<std::vector<PromRuleGroup>> ParsePromRules(std::string_view json, std::string& error);
// /api/v1/alerts: data.alerts.
std::optional<std::vector<PromAlert>> ParsePromAlerts(std::string_view json, std::string& error);

// GET <base_url><path>: the body of a 200 answer, else why not (naming the URL).
Result<std::string> FetchPrometheusApi(const std::string& base_url, const std::string& path,
                                       std::chrono::milliseconds timeout);

}  // namespace kvip::ops
