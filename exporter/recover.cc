#include "recover.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "common/logging.h"
#include "common/metric_family.h"
#include "common/poll.h"
#include "common/read_file.h"
#include "http/http_client.h"
#include "kubevip/metrics_page.h"
#include "manifest/durable_file.h"
#include "ops/cluster_access.h"
#include "ops/recover_plan.h"
#include "ops/upgrade_plan.h"
#include "report.h"

namespace kvip {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxManifestBytes = 1 << 20;
constexpr auto kPollInterval = std::chrono::milliseconds(500);

std::string Label(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& label : metric.label)
    if (label.name == name) return label.value;
  return "";
}

// A sample's value whatever the family's type (the exporter's families are gauges).
double ValueOf(const prometheus::MetricFamily& family, const prometheus::ClientMetric& metric) {
  switch (family.type) {
    case prometheus::MetricType::Counter:
      return metric.counter.value;
    case prometheus::MetricType::Untyped:
      return metric.untyped.value;
    default:
      return metric.gauge.value;
  }
}

// What one node's kvip-exporter says about the VIP: its /metrics, asked for and read as
// kube-vip's own page is (lib/kubevip).
ops::ExporterView AskExporter(const std::string& url, const std::string& vip,
                              std::chrono::milliseconds timeout) {
  ops::ExporterView view;
  view.url = url;
  const promtext::Limits limits;
  kubevip::MetricsPage page = kubevip::ReadMetricsPage(
      url, HttpFetch(kubevip::MetricsRequest(url, timeout, limits.max_body_bytes)), limits);
  if (!page.ok()) {
    view.error = page.reason;
    return view;
  }
  view.up = true;
  for (const auto& family : page.families) {
    for (const auto& metric : family.metric) {
      if (family.name == "kvip_exporter_node_info") view.node = Label(metric, "node");
      if (Label(metric, "vip") != vip) continue;
      if (family.name == "kubevip_vip_bound") view.vip_bound = ValueOf(family, metric) == 1;
      if (family.name == "kubevip_vip_last_change_timestamp_seconds")
        view.vip_last_change = ValueOf(family, metric);
    }
  }
  return view;
}

void Print(OutputFormat format, const char* mode, const std::vector<Check>& checks,
           const std::string& result, int exit_code, const std::string& message) {
  Report report;
  report.title = std::string("kube-vip recover (") + mode + "):";
  report.fields = {{"command", std::string("recover")},
                   {"mode", std::string(mode)},
                   {"result", result},
                   {"exit_code", exit_code},
                   {"message", message}};
  report.sections.push_back(Report::Section::Checks("checks", "", checks));
  PrintFinalReport(report, format, result, exit_code, message);
}

int RecoverStaleLease(const RecoverOptions& options, OutputFormat format) {
  constexpr const char* kMode = "stale-lease";
  ops::ClusterAccess access = ops::OpenClusterAccess(options.cluster);
  std::vector<Check> checks;
  if (!access.manifest)
    checks.push_back(
        {"manifest", false, access.manifest_error + " (using defaults for lease and VIP)"});
  if (access.vip.empty()) {
    checks.push_back({"vip", false, "no VIP: the manifest has none and --vip.address is not set"});
    Print(format, kMode, checks, "cannot-check", kRecoverUsage,
          "the VIP is needed to ask the exporters");
    return kRecoverUsage;
  }
  ops::LeaseLookup lease = ops::FetchLease(access);
  if (!lease.ok) {
    checks.push_back({"lease", false, lease.error});
    Print(
        format, kMode, checks, "cannot-check", kRecoverCannotCheck,
        "the API did not answer; with the VIP down, point --kubeconfig at a node's own API server "
        "(e.g. /etc/kubernetes/admin.conf with its server set to https://<node-ip>:6443)");
    return kRecoverCannotCheck;
  }
  auto pods = ops::FetchKubeVipPods(access);
  if (!pods) {
    checks.push_back({"pods", false, pods.error()});
    Print(format, kMode, checks, "cannot-check", kRecoverCannotCheck,
          "cannot list kube-vip's pods");
    return kRecoverCannotCheck;
  }
  ops::StaleLeaseFacts facts;
  facts.lease_present = lease.present;
  facts.lease = lease.lease;
  if (access.manifest && access.manifest->LeaseDuration())
    facts.fallback_duration_seconds = static_cast<int>(access.manifest->LeaseDuration()->count());
  for (const auto& pod : *pods) facts.kube_vip_nodes.push_back(pod.node);
  for (const std::string& url : options.exporter_urls)
    facts.exporters.push_back(AskExporter(url, access.vip, options.cluster.request_timeout));
  Check healthz = ops::ProbeVipHealthz(access);
  facts.vip_answers = healthz.ok;
  facts.now = UnixNow();
  ops::StaleLeaseDecision decision = ops::DecideStaleLease(facts);
  for (const auto& finding : decision.findings)
    checks.push_back({"checked", !finding.blocks, finding.text});
  if (!decision.stale) {
    Print(format, kMode, checks, "nothing-to-do", kRecoverOk, decision.verdict);
    return kRecoverOk;
  }
  if (!decision.delete_lease) {
    Print(format, kMode, checks, "refused", kRecoverRefused, decision.verdict);
    return kRecoverRefused;
  }
  const std::string lease_path = access.LeasePath();
  if (options.dry_run) {
    checks.push_back(
        {"plan", true,
         "DELETE " + lease_path + " if resourceVersion is still " + lease.lease.resource_version});
    Print(format, kMode, checks, "planned", kRecoverOk, "dry run: " + decision.verdict);
    return kRecoverOk;
  }
  // Precondition: delete exactly the lease that was examined, not one renewed meanwhile.
  const std::string body =
      "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{"
      "\"resourceVersion\":\"" +
      lease.lease.resource_version + "\"}}";
  HttpResponse r = access.api->Request("DELETE", lease_path, body, options.cluster.request_timeout);
  if (!r.ok || (r.status != 200 && r.status != 202)) {
    checks.push_back({"delete", false, access.api->DescribeFailure("delete", lease_path, r)});
    Print(format, kMode, checks, "failed", kRecoverWriteFailed, "the lease was not deleted");
    return kRecoverWriteFailed;
  }
  LogInfo("deleted the stale lease",
          {{"lease", access.LeaseNamespace() + "/" + access.LeaseName()}});
  checks.push_back({"delete", true,
                    "deleted " + access.LeaseNamespace() + "/" + access.LeaseName() +
                        " (resourceVersion " + lease.lease.resource_version + ")"});
  const auto started = Clock::now();
  ops::LeaseLookup now;
  Check vip;
  bool elected = PollUntil(started + options.timeout, kPollInterval, [&] {
                   now = ops::FetchLease(access);
                   vip = ops::ProbeVipHealthz(access);
                   return now.present && now.lease.FreshAt(UnixNow()) && vip.ok
                              ? std::optional<bool>(true)
                              : std::nullopt;
                 }).has_value();
  const double took = std::chrono::duration<double>(Clock::now() - started).count();
  if (elected) {
    checks.push_back(
        {"re-elected", true, now.lease.holder + " holds the new lease; " + vip.detail, took});
    Print(format, kMode, checks, "recovered", kRecoverOk, "new leader " + now.lease.holder);
    return kRecoverOk;
  }
  checks.push_back(
      {"re-elected", false,
       (now.present ? "lease holder \"" + now.lease.holder + "\"" : std::string("no lease")) +
           "; " + vip.detail,
       took});
  Print(format, kMode, checks, "not-confirmed", kRecoverNotConfirmed,
        "no new leader with a working VIP within the timeout; next: `recover --restore-backup` "
        "on "
        "each node (scenario B step 3)");
  return kRecoverNotConfirmed;
}

// The backup to restore: --backup, else the one the upgrade state names, else the newest
// <manifest name>.*.bak next to the manifests directory.
std::string FindBackup(const RecoverOptions& options, std::optional<ops::UpgradeState>& state) {
  const std::string state_file = options.state_dir + "/upgrade-state.json";
  std::string text;
  std::string error;
  if (ReadFileBounded(state_file, text, kMaxManifestBytes, error))
    state = ops::ParseUpgradeState(text, state_file, error);
  if (!options.backup.empty()) return options.backup;
  if (state && state->manifest_path == options.cluster.kubevip_manifest) return state->backup_path;
  std::string pattern =
      ops::BackupPathFor(options.cluster.kubevip_manifest, "*", options.backup_dir);
  glob_t matches{};
  std::string newest;
  long long newest_mtime = -1;
  if (glob(pattern.c_str(), 0, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      struct stat st {};
      if (stat(matches.gl_pathv[i], &st) == 0 && st.st_mtim.tv_sec > newest_mtime) {
        newest_mtime = st.st_mtim.tv_sec;
        newest = matches.gl_pathv[i];
      }
    }
  }
  globfree(&matches);
  return newest.empty() ? pattern : newest;
}

int RestoreBackup(const RecoverOptions& options, OutputFormat format) {
  constexpr const char* kMode = "restore-backup";
  const std::string& manifest_path = options.cluster.kubevip_manifest;
  std::vector<Check> checks;
  std::optional<ops::UpgradeState> state;
  const std::string backup_path = FindBackup(options, state);
  std::string error;
  std::string backup;
  std::optional<manifest::KubeVipManifest> backed_up;
  if (ReadFileBounded(backup_path, backup, kMaxManifestBytes, error))
    backed_up = manifest::ParseManifest(backup, backup_path, error);
  checks.push_back({"backup", backed_up.has_value(),
                    backed_up ? backup_path + " runs " + backed_up->image : error});
  if (!backed_up) {
    Print(format, kMode, checks, "failed", kRecoverBadBackup,
          "no usable backup (pass --backup FILE)");
    return kRecoverBadBackup;
  }
  std::string current;
  bool have_current = ReadFileBounded(manifest_path, current, kMaxManifestBytes, error);
  std::string current_error;
  auto current_manifest =
      have_current ? manifest::ParseManifest(current, manifest_path, current_error) : std::nullopt;
  checks.push_back({"manifest", true,
                    !have_current      ? manifest_path + " unreadable: " + error
                    : current_manifest ? manifest_path + " runs " + current_manifest->image
                                       : current_error});
  const bool same = have_current && current == backup;
  if (options.dry_run) {
    checks.push_back({"plan", true,
                      same ? "nothing to write: the backup is in place"
                           : "write " + backup_path + " to " + manifest_path + " atomically"});
    Print(format, kMode, checks, "planned", kRecoverOk, "dry run: nothing was changed");
    return kRecoverOk;
  }
  double not_before = 0;
  if (!same) {
    auto ownership = manifest::OwnershipOf(have_current ? manifest_path : backup_path, error);
    bool ok = ownership && manifest::WriteFileAtomically(manifest_path, backup, *ownership, error);
    checks.push_back({"restore", ok, ok ? backup_path + " -> " + manifest_path : error});
    if (!ok) {
      Print(format, kMode, checks, "failed", kRecoverWriteFailed, "the manifest was not restored");
      return kRecoverWriteFailed;
    }
    not_before = UnixNow();
  } else {
    checks.push_back({"restore", true, "the backup is already in place"});
  }
  // An unfinished upgrade must not resume over the restored manifest.
  if (state && !ops::IsTerminal(state->step) && state->manifest_path == manifest_path) {
    state->step = ops::UpgradeStep::kRolledBack;
    state->failure = "restored by `kvip-exporter recover --restore-backup`";
    state->updated_at = UnixNow();
    bool ok = manifest::WriteFileAtomically(options.state_dir + "/upgrade-state.json",
                                            ops::SerializeUpgradeState(*state),
                                            {0600, geteuid(), getegid()}, error);
    checks.push_back({"state", ok, ok ? "recorded the unfinished upgrade as rolled back" : error});
  }
  // Proof that kube-vip runs the restored manifest: its mirror pod runs the backup's image
  // and is ready, when the API answers; without the API (scenario C), kube-vip's own metrics
  // from a process started after the restore.
  ops::ClusterAccess access = ops::OpenClusterAccess(options.cluster);
  const auto started = Clock::now();
  ops::RestoreFacts facts;
  facts.node = access.node;
  facts.image = backed_up->image;
  facts.metrics_url = access.MetricsUrl();
  facts.not_before = not_before;
  std::optional<std::string> how;
  PollUntil(started + options.timeout, kPollInterval, [&] {
    facts.metrics = ops::ProbeKubeVipMetrics(access.MetricsUrl(), options.cluster.request_timeout);
    facts.pods = ops::FetchKubeVipPods(access);
    how = ops::KubeVipCameBack(facts);
    return how ? std::optional<bool>(true) : std::nullopt;
  });
  const bool came_back = how.has_value();
  const ops::MetricsProbe& metrics = facts.metrics;
  checks.push_back({"kube-vip", came_back,
                    came_back ? *how
                    : metrics.up
                        ? access.MetricsUrl() + " answers, but " + access.PodName() + "-" +
                              access.node + " does not run " + backed_up->image + " (ready) yet"
                        : "no kube-vip answering at " + access.MetricsUrl() +
                              " after the restore: " + metrics.error,
                    std::chrono::duration<double>(Clock::now() - started).count()});
  // Reported, not required: in scenario C the API and the VIP may still be down elsewhere.
  Check healthz = ops::ProbeVipHealthz(access);
  checks.push_back({"vip-healthz", true, (healthz.ok ? "" : "(informational) ") + healthz.detail});
  int code = came_back ? kRecoverOk : kRecoverNotConfirmed;
  Print(format, kMode, checks, came_back ? "restored" : "not-confirmed", code,
        came_back ? manifest_path + " runs " + backed_up->image + " again"
                  : "the manifest is restored but kube-vip did not answer within the timeout");
  return code;
}

}  // namespace

int Recover(const RecoverOptions& options) {
  OutputFormat format;
  if (!ParseOutputFlag(options.output, format)) return kRecoverUsage;
  return options.restore_backup ? RestoreBackup(options, format)
                                : RecoverStaleLease(options, format);
}

}  // namespace kvip
