// lib/ops: Prometheus's API answers (captured from Debian's Prometheus 2.42 scraping the
// testbed, fixtures/prometheus) parsed, and verify's Prometheus items judged on them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fixture_files.h"
#include "ops/prometheus_api.h"
#include "ops/verify_checklist.h"

namespace kvip::ops {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Answer(const std::string& name) { return testing::ReadFixture("prometheus/" + name); }

Result<std::string> Ok(const std::string& fixture) { return Answer(fixture); }

TEST(PrometheusApi, ParsesTargets) {
  std::string error;
  auto targets = ParsePromTargets(Answer("targets_exporter_down.json"), error);
  ASSERT_TRUE(targets) << error;
  ASSERT_EQ(targets->size(), 6u);
  int down = 0;
  for (const PromTarget& t : *targets) {
    if (t.health != "down") continue;
    ++down;
    EXPECT_EQ(t.job, "kvip-exporter");
    EXPECT_EQ(t.instance, "10.10.30.12:9112");
    EXPECT_EQ(t.scrape_url, "http://10.10.30.12:9112/metrics");
    EXPECT_THAT(t.last_error, HasSubstr("context deadline exceeded"));
  }
  EXPECT_EQ(down, 1);
}

TEST(PrometheusApi, ParsesRulesAndAlerts) {
  std::string error;
  auto groups = ParsePromRules(Answer("rules_with_error.json"), error);
  ASSERT_TRUE(groups) << error;
  ASSERT_FALSE(groups->empty());
  EXPECT_EQ(groups->front().name, "kube-vip.verify-test");
  ASSERT_EQ(groups->front().rules.size(), 2u);
  EXPECT_EQ(groups->front().rules[1].type, "alerting");
  EXPECT_EQ(groups->front().rules[1].health, "err");

  auto alerts = ParsePromAlerts(Answer("alerts_firing_and_pending.json"), error);
  ASSERT_TRUE(alerts) << error;
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ((*alerts)[0].alertname, "KubeVipVerifyTestPending");
  EXPECT_EQ((*alerts)[0].state, "pending");
  EXPECT_EQ((*alerts)[1].state, "firing");
  EXPECT_EQ((*alerts)[1].component, "kube-vip");
}

TEST(PrometheusApi, RejectsWhatIsNotItsAnswer) {
  std::string error;
  EXPECT_FALSE(ParsePromTargets("<html>proxy error</html>", error));
  EXPECT_THAT(error, HasSubstr("not JSON"));
  EXPECT_FALSE(ParsePromTargets("[1,2]", error));
  EXPECT_THAT(error, HasSubstr("not a JSON object"));
  EXPECT_FALSE(ParsePromRules(R"({"groups":[]})", error));
  EXPECT_THAT(error, HasSubstr("no \"status\""));
  EXPECT_FALSE(ParsePromAlerts(R"({"status":"success","data":{}})", error));
  EXPECT_THAT(error, HasSubstr("no data.alerts array"));
  // A real error answer: its errorType and message are quoted.
  EXPECT_FALSE(ParsePromAlerts(Answer("error_bad_data.json"), error));
  EXPECT_THAT(error, AllOf(HasSubstr("status \"error\""), HasSubstr("no expression found")));
}

TEST(VerifyPrometheus, TargetsAllUp) {
  auto lines = JudgePromTargets(Ok("targets_all_up.json"), "kvip-exporter", "kube-vip");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].item, VerifyItem::kTargets);
  EXPECT_TRUE(lines[0].check.ok);
  EXPECT_EQ(lines[0].check.name, "prometheus-targets kvip-exporter");
  EXPECT_EQ(lines[0].check.detail, "3 target(s) up");
  EXPECT_TRUE(lines[1].check.ok);
  EXPECT_EQ(lines[1].check.name, "prometheus-targets kube-vip");
}

TEST(VerifyPrometheus, AnExporterDownFails) {
  auto lines = JudgePromTargets(Ok("targets_exporter_down.json"), "kvip-exporter", "kube-vip");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].check.ok);
  EXPECT_EQ(lines[0].item, VerifyItem::kTargets);
  EXPECT_THAT(lines[0].check.detail,
              AllOf(HasSubstr("10.10.30.12:9112 down"), HasSubstr("context deadline exceeded")));
  EXPECT_TRUE(lines[1].check.ok);  // kube-vip's own :2112 targets are up
}

TEST(VerifyPrometheus, ExporterJobMissingFailsKubeVipJobMissingIsNotJudged) {
  auto lines = JudgePromTargets(Ok("targets_all_up.json"), "kvip", "kube-vip-metrics");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[0].check.ok);
  EXPECT_THAT(lines[0].check.detail, HasSubstr("no target of job=\"kvip\""));
  EXPECT_TRUE(lines[1].check.ok);
  EXPECT_THAT(lines[1].check.detail, HasSubstr("not judged"));
  // An empty kube-vip job name: no such line at all.
  EXPECT_EQ(JudgePromTargets(Ok("targets_all_up.json"), "kvip-exporter", "").size(), 1u);
}

TEST(VerifyPrometheus, UnreachableOrGarbageIsThePrometheusItem) {
  auto unreachable = JudgePromTargets(Error{"Prometheus unreachable: connection refused"},
                                      "kvip-exporter", "kube-vip");
  ASSERT_EQ(unreachable.size(), 1u);
  EXPECT_EQ(unreachable[0].item, VerifyItem::kPrometheusApi);
  EXPECT_FALSE(unreachable[0].check.ok);
  EXPECT_THAT(unreachable[0].check.detail, HasSubstr("connection refused"));

  auto garbage = JudgePromTargets(Result<std::string>("not json"), "kvip-exporter", "kube-vip");
  EXPECT_EQ(garbage[0].item, VerifyItem::kPrometheusApi);
  EXPECT_THAT(garbage[0].check.detail, HasSubstr("/api/v1/targets: not JSON"));

  VerifyLine rules = JudgePromRules(Ok("error_bad_data.json"));
  EXPECT_EQ(rules.item, VerifyItem::kPrometheusApi);
  EXPECT_THAT(rules.check.detail, HasSubstr("/api/v1/rules: Prometheus answered status"));
  VerifyLine alerts = JudgePromAlerts(Error{"Prometheus unreachable: timeout"});
  EXPECT_EQ(alerts.item, VerifyItem::kPrometheusApi);
  EXPECT_FALSE(alerts.check.ok);
}

TEST(VerifyPrometheus, Rules) {
  VerifyLine loaded = JudgePromRules(Ok("rules_loaded.json"));
  EXPECT_TRUE(loaded.check.ok) << loaded.check.detail;
  EXPECT_EQ(loaded.item, VerifyItem::kRules);
  EXPECT_THAT(loaded.check.detail, HasSubstr("6 kube-vip group(s)"));

  VerifyLine broken = JudgePromRules(Ok("rules_with_error.json"));
  EXPECT_FALSE(broken.check.ok);
  EXPECT_EQ(broken.item, VerifyItem::kRules);
  EXPECT_THAT(broken.check.detail,
              HasSubstr("kube-vip.verify-test/KubeVipVerifyTestBroken: vector cannot contain"));

  VerifyLine none = JudgePromRules(Ok("rules_none.json"));
  EXPECT_FALSE(none.check.ok);
  EXPECT_THAT(none.check.detail, HasSubstr("no kube-vip rule group loaded"));

  // Groups of other names count when they hold a KubeVip* alert; others do not.
  VerifyLine renamed = JudgePromRules(Result<std::string>(
      R"({"status":"success","data":{"groups":[{"name":"homelab","rules":[)"
      R"({"name":"KubeVipAllDown","type":"alerting","health":"ok"}]},)"
      R"({"name":"node","rules":[{"name":"NodeDown","type":"alerting","health":"err"}]}]}})"));
  EXPECT_TRUE(renamed.check.ok) << renamed.check.detail;
  EXPECT_THAT(renamed.check.detail, HasSubstr("1 kube-vip group(s), 1 alerting"));
}

TEST(VerifyPrometheus, Alerts) {
  VerifyLine firing = JudgePromAlerts(Ok("alerts_firing_and_pending.json"));
  EXPECT_FALSE(firing.check.ok);
  EXPECT_EQ(firing.item, VerifyItem::kAlerts);
  EXPECT_THAT(firing.check.detail,
              AllOf(HasSubstr("firing: KubeVipVerifyTestFiring"),
                    HasSubstr("pending, not judged: KubeVipVerifyTestPending")));

  VerifyLine pending = JudgePromAlerts(Ok("alerts_pending_only.json"));
  EXPECT_TRUE(pending.check.ok);
  EXPECT_THAT(pending.check.detail, HasSubstr("pending, not judged: KubeVipVerifyTestPending"));

  VerifyLine none = JudgePromAlerts(Ok("alerts_none.json"));
  EXPECT_TRUE(none.check.ok);
  EXPECT_EQ(none.check.detail, "no kube-vip alert firing");

  // Another component's alert firing is not kube-vip's; a component="kube-vip" one is.
  VerifyLine others = JudgePromAlerts(Result<std::string>(
      R"({"status":"success","data":{"alerts":[{"labels":{"alertname":"Watchdog"},)"
      R"("state":"firing"},{"labels":{"alertname":"VIPGone","component":"kube-vip",)"
      R"("node":"k8s-cp2"},"state":"firing"}]}})"));
  EXPECT_FALSE(others.check.ok);
  EXPECT_THAT(others.check.detail,
              AllOf(HasSubstr("VIPGone (k8s-cp2)"), Not(HasSubstr("Watchdog"))));
}

}  // namespace
}  // namespace kvip::ops
