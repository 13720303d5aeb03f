#include "verify.h"

#include <algorithm>
#include <iostream>

#include "common/metric_family.h"
#include "kubevip/log_lines.h"
#include "manifest/image_ref.h"
#include "ops/cluster_state.h"
#include "report.h"

namespace kvip {
namespace {

// "v1.0.4" from a pod's image, or the whole image when it has no tag.
std::string VersionOf(const std::string& image) {
  std::string error;
  auto ref = manifest::ParseImageRef(image, error);
  return ref && !ref->tag.empty() ? ref->tag : image;
}

Check LeaseCheck(const ops::ClusterAccess& access, const ops::LeaseLookup& lease, double now) {
  Check check{"lease", false, ""};
  const std::string lease_name = access.LeaseNamespace() + "/" + access.LeaseName();
  if (!lease.ok) {
    check.detail = lease.error;
  } else if (!lease.present) {
    check.detail = lease_name + " does not exist";
  } else if (!lease.lease.FreshAt(now)) {
    check.detail = lease_name + " held by \"" + lease.lease.holder + "\" but not renewed for " +
                   std::to_string(static_cast<int>(now - lease.lease.renew_time)) +
                   " s (duration " + std::to_string(lease.lease.duration_seconds) + " s)";
  } else {
    check.ok = true;
    check.detail = lease_name + " held by " + lease.lease.holder + ", renewed " +
                   std::to_string(static_cast<int>(now - lease.lease.renew_time)) + " s ago";
  }
  return check;
}

}  // namespace

int Verify(const VerifyOptions& options) {
  OutputFormat format;
  if (!ParseOutputFlag(options.output, format)) return 2;
  ops::ClusterAccess access = ops::OpenClusterAccess(options.cluster);
  std::vector<Check> checks;
  std::string expect = options.expect_version;
  if (expect.empty() && access.manifest) expect = access.manifest->image_ref.tag;

  checks.push_back(ops::ProbeVipHealthz(access));
  checks.push_back(LeaseCheck(access, ops::FetchLease(access), UnixNow()));

  auto pods = ops::FetchKubeVipPods(access);
  if (!pods || pods->empty()) {
    checks.push_back({"pods", false, pods ? "no kube-vip mirror pods found" : pods.error()});
  } else {
    std::string restarts;
    for (const auto& pod : *pods) {
      std::string version = VersionOf(pod.status_image.empty() ? pod.image : pod.status_image);
      bool on_version = expect.empty() || version == expect;
      Check pod_check{"pod " + pod.node, pod.running && pod.ready && on_version, ""};
      pod_check.detail = pod.name + " " + version + (pod.running ? " running" : " not running") +
                         (pod.ready ? ", ready" : ", not ready") +
                         (pod.waiting_reason.empty() ? "" : " (" + pod.waiting_reason + ")") +
                         (on_version ? "" : "; expected " + expect);
      checks.push_back(pod_check);

      const std::string url =
          "http://" + pod.host_ip + ":" + std::to_string(access.MetricsPort()) + "/metrics";
      ops::MetricsProbe metrics = ops::ProbeKubeVipMetrics(url, access.options.request_timeout);
      checks.push_back(
          {"metrics " + pod.node, metrics.up, metrics.up ? url + " up" : metrics.error});

      auto log = ops::FetchPodLog(access, pod.name);
      int conflicts = log ? kubevip::CountLockConflictLines(*log) : -1;
      checks.push_back(
          {"lock-conflicts " + pod.node, conflicts == 0,
           log ? std::to_string(conflicts) + " lock-conflict lines since the last restart"
               : log.error()});
      restarts +=
          (restarts.empty() ? "" : ", ") + pod.node + "=" + std::to_string(pod.restart_count);
    }
    // Reported, not judged: restarts before an upgrade are history, not a failure.
    checks.push_back({"restarts", true, restarts});
  }

  bool all_ok = std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
  Report report;
  report.title =
      "kube-vip verification (expected version " + (expect.empty() ? "any" : expect) + "):";
  report.fields = {
      {"command", std::string("verify")}, {"ok", all_ok}, {"expected_version", expect}};
  report.sections.push_back(Report::Section::Checks("checks", "", std::move(checks)));
  report.last_line = all_ok ? "all checks passed" : "some checks FAILED";
  RenderReport(std::cout, format, report);
  return all_ok ? 0 : 1;
}

}  // namespace kvip
