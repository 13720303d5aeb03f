#include "verify.h"

#include <iostream>

#include "exit_codes.h"
#include "ops/verify_baseline.h"
#include "ops/verify_checklist.h"
#include "report.h"

namespace kvip {
namespace {

int RecordBaseline(const ops::ClusterAccess& access, const std::string& path, OutputFormat format) {
  Report report;
  report.title = "kube-vip verification baseline:";
  auto baseline = ops::CaptureBaseline(access);
  std::string error = baseline ? "" : baseline.error();
  if (baseline && !ops::WriteBaselineFile(path, *baseline, error)) baseline = Error{error};
  std::vector<Check> checks;
  if (baseline) {
    for (const ops::BaselinePod& pod : baseline->pods)
      checks.push_back(
          {"pod " + pod.node, true,
           "uid " + pod.pod_uid + ", " + std::to_string(pod.restart_count) + " restart(s)"});
  } else {
    checks.push_back({"baseline", false, error});
  }
  const int code = baseline ? kVerifyOk.code : kVerifyBaselineUnavailable.code;
  report.fields = {{"command", std::string("verify")},
                   {"ok", baseline.ok()},
                   {"baseline_file", path},
                   {"exit_code", code}};
  report.sections.push_back(Report::Section::Checks("checks", "", std::move(checks)));
  report.last_line = baseline ? "baseline written to " + path : "no baseline written";
  RenderReport(std::cout, format, report);
  return code;
}

}  // namespace

int Verify(const VerifyOptions& options) {
  OutputFormat format;
  if (!ParseOutputFlag(options.output, format)) return kVerifyUsage;
  if (!options.baseline.empty() && !options.record_baseline.empty()) {
    std::cerr << "--baseline and --record-baseline: one or the other\n";
    return kVerifyUsage;
  }
  ops::ClusterAccess access = ops::OpenClusterAccess(options.cluster);
  if (!options.record_baseline.empty())
    return RecordBaseline(access, options.record_baseline, format);

  std::optional<ops::VerifyBaseline> baseline;
  if (!options.baseline.empty()) {
    auto read = ops::ReadBaselineFile(options.baseline);
    if (!read) {
      std::cerr << "--baseline: " << read.error() << "\n";
      return kVerifyUsage;
    }
    baseline = std::move(*read);
  }
  ops::VerifyInputs inputs;
  inputs.expect_version = options.expect_version;
  if (inputs.expect_version.empty() && access.manifest)
    inputs.expect_version = access.manifest->image_ref.tag;
  inputs.control_plane_selector = options.control_plane_selector;
  inputs.baseline = baseline ? &*baseline : nullptr;
  inputs.prometheus_url = options.prometheus_url;
  inputs.exporter_job = options.prometheus_exporter_job;
  inputs.kubevip_job = options.prometheus_kubevip_job;

  const ops::VerifyOutcome outcome = ops::RunVerifyChecklist(access, inputs);
  const std::string& expect = inputs.expect_version;
  Report report;
  report.title =
      "kube-vip verification (expected version " + (expect.empty() ? "any" : expect) + "):";
  report.fields = {{"command", std::string("verify")},
                   {"ok", outcome.ok()},
                   {"expected_version", expect},
                   {"exit_code", outcome.exit_code},
                   {"failed_item", outcome.FirstFailure()},
                   {"restarts_judged", baseline.has_value()}};
  report.sections.push_back(Report::Section::Checks("checks", "", outcome.Checks()));
  report.last_line = outcome.ok() ? "all checks passed"
                                  : "FAILED: " + outcome.FirstFailure() + " (exit " +
                                        std::to_string(outcome.exit_code) + ")";
  RenderReport(std::cout, format, report);
  return outcome.exit_code;
}

}  // namespace kvip
