// JSON that `verify` reads: Prometheus's /api/v1/{targets,rules,alerts} answers, the
// API server's NodeList, and verify's own baseline file (which must survive a write and a
// re-read unchanged). Every rejection says why; every line of a verdict is either the
// Prometheus-API item (answer not understood) or the item it judges.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "ops/prometheus_api.h"
#include "ops/verify_baseline.h"
#include "ops/verify_checklist.h"

namespace {

using kvip::ops::VerifyItem;

void CheckPrometheus(std::string_view json) {
  std::string error;
  const bool targets = kvip::ops::ParsePromTargets(json, error).has_value();
  KVIP_FUZZ_CHECK(targets || !error.empty(), "targets rejected without saying why");
  error.clear();
  const bool rules = kvip::ops::ParsePromRules(json, error).has_value();
  KVIP_FUZZ_CHECK(rules || !error.empty(), "rules rejected without saying why");
  error.clear();
  const bool alerts = kvip::ops::ParsePromAlerts(json, error).has_value();
  KVIP_FUZZ_CHECK(alerts || !error.empty(), "alerts rejected without saying why");

  const kvip::Result<std::string> answer{std::string(json)};
  auto lines = kvip::ops::JudgePromTargets(answer, "kvip-exporter", "kube-vip");
  KVIP_FUZZ_CHECK(lines.size() == (targets ? 2u : 1u), "targets: wrong number of lines");
  for (const auto& line : lines) {
    KVIP_FUZZ_CHECK((line.item == VerifyItem::kPrometheusApi) == !targets,
                    "targets: item does not match the parse", line.check.detail);
    KVIP_FUZZ_CHECK(!line.check.detail.empty(), "targets: a line without a detail");
  }
  auto rules_line = kvip::ops::JudgePromRules(answer);
  KVIP_FUZZ_CHECK((rules_line.item == VerifyItem::kPrometheusApi) == !rules,
                  "rules: item does not match the parse", rules_line.check.detail);
  auto alerts_line = kvip::ops::JudgePromAlerts(answer);
  KVIP_FUZZ_CHECK((alerts_line.item == VerifyItem::kPrometheusApi) == !alerts,
                  "alerts: item does not match the parse", alerts_line.check.detail);
  KVIP_FUZZ_CHECK(rules || !rules_line.check.ok, "an unparsed rules answer passed");
  KVIP_FUZZ_CHECK(alerts || !alerts_line.check.ok, "an unparsed alerts answer passed");
}

void CheckBaseline(std::string_view json) {
  std::string error;
  auto baseline = kvip::ops::ParseBaseline(json, error);
  if (!baseline) {
    KVIP_FUZZ_CHECK(!error.empty(), "baseline rejected without saying why");
    return;
  }
  const std::string written = kvip::ops::BaselineJson(*baseline);
  std::string reread_error;
  auto reread = kvip::ops::ParseBaseline(written, reread_error);
  KVIP_FUZZ_CHECK(reread.has_value(), "a written baseline does not read back", reread_error);
  KVIP_FUZZ_CHECK(reread->taken_at == baseline->taken_at, "taken_at changed", written);
  KVIP_FUZZ_CHECK(reread->pods.size() == baseline->pods.size(), "pods lost", written);
  for (size_t i = 0; i < baseline->pods.size(); ++i) {
    const auto& a = baseline->pods[i];
    const auto& b = reread->pods[i];
    KVIP_FUZZ_CHECK(a.node == b.node && a.pod_uid == b.pod_uid && a.config_hash == b.config_hash &&
                        a.restart_count == b.restart_count && a.started_at == b.started_at,
                    "a pod does not survive a write and re-read", written);
  }
  kvip::ops::KubeVipPod pod;
  pod.node = baseline->pods.empty() ? "cp1" : baseline->pods.front().node;
  pod.restart_count = 1;
  (void)kvip::ops::JudgeRestarts({pod}, &*baseline, 1.8e9);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  CheckPrometheus(json);
  CheckBaseline(json);
  std::string error;
  auto nodes = kvip::ops::ParseNodeNames(json, error);
  KVIP_FUZZ_CHECK(nodes || !error.empty(), "node list rejected without saying why");
  for (size_t i = 1; nodes && i < nodes->size(); ++i)
    KVIP_FUZZ_CHECK((*nodes)[i - 1] <= (*nodes)[i], "node names not sorted");
  return 0;
}
