// The checklist's Prometheus items: pure verdicts on /api/v1/{targets,rules,alerts} answers.
#include <string>
#include <vector>

#include "ops/prometheus_api.h"
#include "ops/verify_checklist.h"

namespace kvip::ops {
namespace {

bool StartsWith(const std::string& text, std::string_view prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// The mixin's alerts are named KubeVip* and carry component="kube-vip".
bool IsKubeVipAlert(const std::string& alertname, const std::string& component) {
  return StartsWith(alertname, "KubeVip") || component == "kube-vip";
}

bool IsKubeVipGroup(const PromRuleGroup& group) {
  if (StartsWith(group.name, "kube-vip") || StartsWith(group.name, "kubevip")) return true;
  for (const PromRule& rule : group.rules)
    if (rule.type == "alerting" && IsKubeVipAlert(rule.name, "")) return true;
  return false;
}

void Append(std::string& list, const std::string& item) {
  list += (list.empty() ? "" : ", ") + item;
}

// The line for a job's targets: some, all up.
VerifyLine JudgeJob(const std::vector<PromTarget>& targets, const std::string& job, bool required) {
  const std::string name = "prometheus-targets " + job;
  int total = 0;
  std::string down;
  for (const PromTarget& t : targets) {
    if (t.job != job) continue;
    ++total;
    if (t.health != "up")
      Append(down, t.instance + " " + (t.health.empty() ? "unknown" : t.health) +
                       (t.last_error.empty() ? "" : " (" + t.last_error + ")"));
  }
  if (total == 0)
    return {VerifyItem::kTargets,
            {name, !required,
             required ? "no target of job=\"" + job + "\" in Prometheus"
                      : "no job=\"" + job + "\" in Prometheus (not judged)"}};
  if (!down.empty()) return {VerifyItem::kTargets, {name, false, "not up: " + down}};
  return {VerifyItem::kTargets, {name, true, std::to_string(total) + " target(s) up"}};
}

// The answer to `path` parsed, or why there is none: the request failed, or the answer
// did not parse (the error then names the path).
template <typename T>
Result<T> ParsedAnswer(const Result<std::string>& answer, const char* path,
                       std::optional<T> (*parse)(std::string_view, std::string&)) {
  if (!answer) return Error{answer.error()};
  std::string error;
  std::optional<T> parsed = parse(*answer, error);
  if (!parsed) return Error{std::string(path) + ": " + error};
  return std::move(*parsed);
}

}  // namespace

std::vector<VerifyLine> JudgePromTargets(const Result<std::string>& answer,
                                         const std::string& exporter_job,
                                         const std::string& kubevip_job) {
  auto targets = ParsedAnswer(answer, "/api/v1/targets", &ParsePromTargets);
  if (!targets)
    return {{VerifyItem::kPrometheusApi, {"prometheus-targets", false, targets.error()}}};
  std::vector<VerifyLine> lines{JudgeJob(*targets, exporter_job, true)};
  if (!kubevip_job.empty()) lines.push_back(JudgeJob(*targets, kubevip_job, false));
  return lines;
}

VerifyLine JudgePromRules(const Result<std::string>& answer) {
  const std::string name = "prometheus-rules";
  auto groups = ParsedAnswer(answer, "/api/v1/rules", &ParsePromRules);
  if (!groups) return {VerifyItem::kPrometheusApi, {name, false, groups.error()}};
  int group_count = 0;
  int alerting = 0;
  std::string broken;
  for (const PromRuleGroup& group : *groups) {
    if (!IsKubeVipGroup(group)) continue;
    ++group_count;
    for (const PromRule& rule : group.rules) {
      if (rule.type == "alerting") ++alerting;
      if (rule.health == "err")
        Append(broken, group.name + "/" + rule.name + ": " + rule.last_error);
    }
  }
  if (group_count == 0)
    return {
        VerifyItem::kRules,
        {name, false, "no kube-vip rule group loaded (none named kube-vip*, no KubeVip* alert)"}};
  if (!broken.empty()) return {VerifyItem::kRules, {name, false, "rules in error: " + broken}};
  return {VerifyItem::kRules,
          {name, true,
           std::to_string(group_count) + " kube-vip group(s), " + std::to_string(alerting) +
               " alerting rules loaded"}};
}

VerifyLine JudgePromAlerts(const Result<std::string>& answer) {
  const std::string name = "prometheus-alerts";
  auto alerts = ParsedAnswer(answer, "/api/v1/alerts", &ParsePromAlerts);
  if (!alerts) return {VerifyItem::kPrometheusApi, {name, false, alerts.error()}};
  std::string firing;
  std::string pending;
  for (const PromAlert& alert : *alerts) {
    if (!IsKubeVipAlert(alert.alertname, alert.component)) continue;
    const std::string where = !alert.node.empty() ? alert.node : alert.instance;
    const std::string text = alert.alertname + (where.empty() ? "" : " (" + where + ")");
    if (alert.state == "firing")
      Append(firing, text);
    else
      Append(pending, text);
  }
  const std::string also = pending.empty() ? "" : "; pending, not judged: " + pending;
  if (!firing.empty()) return {VerifyItem::kAlerts, {name, false, "firing: " + firing + also}};
  return {VerifyItem::kAlerts, {name, true, "no kube-vip alert firing" + also}};
}

}  // namespace kvip::ops
