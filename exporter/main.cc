// kvip-exporter: Prometheus exporter for kube-vip (default mode: serve).

#include <curl/curl.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>
#include <map>

#include "common/logging.h"
#include "exit_codes.h"
#include "options.h"
#include "recover.h"
#include "rollout.h"
#include "serve.h"
#include "upgrade.h"
#include "verify.h"

namespace {

constexpr int kUsageError = 2;

std::string VersionString() {
  return std::string("kvip-exporter, version ") + KVIP_VERSION + " (revision: " + KVIP_REVISION +
         ", compiler: " + __VERSION__ + ")";
}

// A duration flag ("2s", "500ms") from min_ms to max_ms, default shown from `target`.
// A duration flag with a unit ("500ms", "2s", "2m"): `units` maps each suffix to ticks of
// Duration; a value outside [min, max] ticks is refused with `refusal`.
template <typename Duration>
void AddUnitDurationOption(CLI::App& app, const std::string& name, Duration& target,
                           const std::string& help, std::map<std::string, double> units, double min,
                           double max, std::string refusal, std::string default_text) {
  app.add_option_function<double>(
         name, [&target](double ticks) { target = Duration(std::llround(ticks)); }, help)
      ->transform(CLI::AsNumberWithUnit(std::move(units), CLI::AsNumberWithUnit::UNIT_REQUIRED)
                      .description(""))
      ->check(CLI::Validator(
          [min, max, refusal](std::string& ticks) {
            double value = std::stod(ticks);
            return value >= min && value <= max ? "" : refusal;
          },
          ""))
      ->type_name("DURATION")
      ->default_str(std::move(default_text));
}

void AddDurationOption(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                       const std::string& help, double min_ms, double max_ms,
                       const std::string& range) {
  std::string default_text = target.count() % 1000 == 0
                                 ? std::to_string(target.count() / 1000) + "s"
                                 : std::to_string(target.count()) + "ms";
  AddUnitDurationOption(app, name, target, help, {{"ms", 1}, {"s", 1000}}, min_ms, max_ms,
                        "want a duration from " + range, std::move(default_text));
}

// A per-scrape deadline flag ("2s", "500ms"): 1 ms to 60 s.
void AddDeadlineOption(CLI::App& app, const std::string& name, std::chrono::milliseconds& target,
                       const std::string& help) {
  AddDurationOption(app, name, target, help, 1, 60000, "1ms to 60s");
}

// The log flags, spelled and explained the same for the daemon and every one-shot mode.
void AddLogLevelFlag(CLI::App& cmd, std::string& level) {
  cmd.add_option("--log.level", level, "Only log messages at or above: debug, info, warn, error.")
      ->capture_default_str();
}

void AddLogFlags(CLI::App& cmd, kvip::ServeOptions& logs) {
  AddLogLevelFlag(cmd, logs.log_level);
  cmd.add_option("--log.format", logs.log_format, "Log format: logfmt or json.")
      ->capture_default_str();
}

// The report format of the one-shot modes.
void AddOutputFlag(CLI::App& cmd, std::string& output) {
  cmd.add_option("--output", output, "Report format: table or json.")->capture_default_str();
}

void AddServeFlags(CLI::App& app, kvip::ServeOptions& o) {
  app.add_option("--web.listen-address", o.listen_address,
                 "Address on which to expose metrics and web interface.")
      ->capture_default_str();
  app.add_option("--web.telemetry-path", o.telemetry_path, "Path under which to expose metrics.")
      ->capture_default_str();
  app.add_option("--web.config.file", o.web_config_file,
                 "Path to a web configuration file (TLS and basic auth, exporter-toolkit format).");
  AddLogFlags(app, o);

  app.add_option("--kubevip.manifest", o.kubevip_manifest,
                 "kube-vip static pod manifest; VIP, interface, lease and metrics port are read "
                 "from its env unless given as flags.")
      ->capture_default_str();
  app.add_option("--kubevip.metrics-url", o.kubevip_metrics_url,
                 "kube-vip's metrics endpoint (default http://127.0.0.1:2112/metrics, or the "
                 "manifest's prometheus_server port).");
  app.add_flag("!--no-kubevip.reexport", o.kubevip_reexport,
               "Do not re-expose kube-vip's own series with the kubevip_ prefix.");
  AddDeadlineOption(app, "--kubevip.scrape-timeout", o.kubevip_scrape_timeout,
                    "Deadline for one scrape of kube-vip's metrics (e.g. 2s, 500ms).");
  app.add_option("--vip.address", o.vip_address, "The VIP (default: the manifest's address).");
  app.add_option("--vip.interface", o.vip_interface,
                 "Interface the VIP lives on (default: the manifest's vip_interface, else eno1).");
  app.add_flag("--vip.arp-probe", o.vip_arp_probe,
               "Send an ARP probe / neighbour solicitation for the VIP every interval and record "
               "every MAC that answers, and count gratuitous ARPs (needs CAP_NET_RAW).");
  AddDurationOption(app, "--vip.arp-probe-interval", o.vip_arp_probe_interval,
                    "Interval between ARP/NDP probes, also the window in which answers count.", 100,
                    3600000, "100ms to 1h");
  app.add_flag("!--no-vip.neighbor", o.vip_neighbor,
               "Do not export the interface's MAC and the VIP's neighbour (ARP/NDP) entry.");
  app.add_flag("!--no-vip.healthz", o.vip_healthz, "Do not probe https://<vip>:6443/healthz.");
  app.add_flag("--vip.healthz-insecure", o.vip_healthz_insecure,
               "Do not verify the API server certificate when probing the VIP.");
  app.add_option("--vip.healthz-port", o.vip_healthz_port,
                 "Port of the VIP healthz probe (default: the manifest's `port` env, else 6443).")
      ->check(CLI::Range(1, 65535));
  AddDeadlineOption(app, "--vip.healthz-timeout", o.vip_healthz_timeout,
                    "Deadline for one VIP healthz probe (e.g. 2s, 500ms).");
  AddDurationOption(app, "--vip.healthz-interval", o.vip_healthz_interval,
                    "How often the VIP healthz probe runs, in the background (e.g. 5s, 500ms); "
                    "scrapes expose the last result.",
                    100, 3600000, "100ms to 3600s");
  app.add_flag("!--no-apiserver.livez", o.apiserver_livez,
               "Do not probe the node's local API server (/livez).");
  app.add_option("--apiserver.livez-url", o.apiserver_livez_url,
                 "The node's local API server livez URL (default: https://kubernetes:<port>/livez "
                 "connected to 127.0.0.1, as kube-vip reaches it). Probed in the background with "
                 "the VIP probe's interval, timeout and --vip.healthz-insecure.");
  app.add_option("--kubeconfig", o.kubeconfig,
                 "Kubeconfig for the Lease watch (default: $KUBECONFIG, else in-cluster).");
  app.add_option("--lease.name", o.lease_name,
                 "Lease kube-vip holds (default: manifest, else plndr-cp-lock).");
  app.add_option("--lease.namespace", o.lease_namespace,
                 "Namespace of the Lease (default: manifest's cp_namespace, else kube-system).");
  app.add_option("--node-name", o.node_name,
                 "This node's identity as kube-vip writes it into the lease (default: $NODE_NAME, "
                 "else the host name).");
  app.add_flag("!--no-lease.watch", o.lease_watch, "Do not watch the Lease.");
  app.add_flag("!--no-kubevip.pod", o.kubevip_pod,
               "Do not watch kube-vip's mirror pod (restarts, termination reasons, readiness).");
  app.add_option("--kubevip.pod-name", o.kubevip_pod_name,
                 "kube-vip's mirror pod (default: kube-vip-<node name>).");
  app.add_option("--kubevip.pod-namespace", o.kubevip_pod_namespace,
                 "Namespace of kube-vip's mirror pod.")
      ->capture_default_str();
  app.add_option("--kubevip.log-path", o.kubevip_log_path,
                 "Glob of kube-vip's CRI container log files.")
      ->capture_default_str();
  app.add_flag("!--no-kubevip.log", o.kubevip_log, "Do not tail kube-vip's container log.");
}

// Flags the one-shot modes share, spelled as the daemon spells them.
void AddClusterFlags(CLI::App& cmd, kvip::ops::ClusterOptions& o, std::string& output,
                     kvip::ServeOptions& logs) {
  cmd.add_option("--kubevip.manifest", o.kubevip_manifest, "kube-vip static pod manifest.")
      ->capture_default_str();
  cmd.add_option("--kubeconfig", o.kubeconfig,
                 "Kubeconfig (default: $KUBECONFIG, else in-cluster).");
  cmd.add_option("--node-name", o.node_name,
                 "This node's identity in the lease (default: $NODE_NAME, else the host name).");
  cmd.add_option("--vip.address", o.vip_address, "The VIP (default: the manifest's address).");
  cmd.add_option("--vip.port", o.vip_port,
                 "API server port behind the VIP (default: manifest's port, else 6443).");
  cmd.add_flag("--vip.healthz-insecure", o.vip_healthz_insecure,
               "Do not verify the API server certificate when probing the VIP.");
  AddOutputFlag(cmd, output);
  AddLogFlags(cmd, logs);
}

// A duration flag of the one-shot modes ("90s", "2m"), whole seconds.
void AddSecondsOption(CLI::App& cmd, const std::string& name, std::chrono::seconds& target,
                      const std::string& help) {
  AddUnitDurationOption(cmd, name, target, help, {{"s", 1}, {"m", 60}}, 0, 3600, "want 0s to 60m",
                        std::to_string(target.count()) + "s");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvip-exporter: Prometheus exporter for kube-vip"};
  app.failure_message(CLI::FailureMessage::help);  // a bad flag prints the usage, not just a hint
  app.set_version_flag("--version", VersionString());
  kvip::ServeOptions serve;
  AddServeFlags(app, serve);

  // One-shot modes; with no subcommand the daemon serves.
  kvip::UpgradeOptions upgrade;
  CLI::App* upgrade_cmd = app.add_subcommand(
      "upgrade",
      "Upgrade this node's kube-vip static pod safely (followers first, the leader last).");
  upgrade_cmd->footer(kvip::ExitCodesHelp(kvip::kUpgradeExitCodes));
  AddClusterFlags(*upgrade_cmd, upgrade.cluster, upgrade.output, serve);
  upgrade_cmd->add_option("--to", upgrade.to, "Target kube-vip version (image tag), e.g. v1.0.4.");
  upgrade_cmd->add_option("--image-digest", upgrade.image_digest,
                          "Pin the new image to this digest (sha256:...).");
  upgrade_cmd->add_flag(
      "--allow-leader", upgrade.allow_leader,
      "Upgrade even though this node holds the lease and others are not upgraded yet.");
  upgrade_cmd->add_flag("--dry-run", upgrade.dry_run,
                        "Run the preflight checks and print the plan; change nothing.");
  upgrade_cmd->add_flag(
      "--pull-only", upgrade.pull_only,
      "Run the preflight checks and pre-pull the new image; change nothing else.");
  upgrade_cmd->add_flag("--rollback", upgrade.rollback,
                        "Undo the upgrade recorded in the state file (unfinished, or finished "
                        "while the manifest still runs what it installed).");
  upgrade_cmd->add_option("--state-dir", upgrade.state_dir, "Where the upgrade state file lives.")
      ->capture_default_str();
  upgrade_cmd->add_option("--backup-dir", upgrade.backup_dir,
                          "Where the backup goes (default: the manifests directory's parent).");
  upgrade_cmd
      ->add_option("--runtime", upgrade.runtime, "Runtime CLI for the pre-pull: ctr or crictl.")
      ->capture_default_str();
  // As ctr and crictl themselves: the environment when no flag is given; a flag wins.
  upgrade_cmd
      ->add_option("--containerd-address", upgrade.containerd_address,
                   "containerd's socket (ctr); default $CONTAINERD_ADDRESS, else this.")
      ->envname("CONTAINERD_ADDRESS")
      ->capture_default_str();
  upgrade_cmd
      ->add_option("--runtime-endpoint", upgrade.runtime_endpoint,
                   "CRI endpoint for crictl (default $CONTAINER_RUNTIME_ENDPOINT, else "
                   "unix://<containerd address>).")
      ->envname("CONTAINER_RUNTIME_ENDPOINT");
  upgrade_cmd->add_option(
      "--ansible-group-vars", upgrade.ansible_group_vars,
      "Also set kubevip_version in this Ansible vars file, keeping its formatting.");
  AddSecondsOption(*upgrade_cmd, "--timeout", upgrade.timeout,
                   "How long each wait (for the new version, for a rollback) may take.");
  AddSecondsOption(*upgrade_cmd, "--settle", upgrade.settle,
                   "How long the new version must stay healthy without lock-conflict lines.");
  AddSecondsOption(*upgrade_cmd, "--pull-timeout", upgrade.pull_timeout,
                   "How long the pre-pull may take.");
  AddSecondsOption(*upgrade_cmd, "--preflight-wait", upgrade.preflight_wait,
                   "How long to wait for an unhealthy cluster to recover before refusing.");

  kvip::VerifyOptions verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify",
      "Run the seed's post-upgrade checklist; exit 0 when every item passes, else the first "
      "failing item's code.");
  verify_cmd->footer(kvip::ExitCodesHelp(kvip::kVerifyExitCodes) +
                     " Several items failing: the first in this order (the lowest code).");
  AddClusterFlags(*verify_cmd, verify.cluster, verify.output, serve);
  verify_cmd->add_option(
      "--expect-version", verify.expect_version,
      "Version every kube-vip pod must run (default: this node's manifest's tag).");
  verify_cmd
      ->add_option("--control-plane-selector", verify.control_plane_selector,
                   "Label selector of the control-plane nodes, each of which must run kube-vip.")
      ->capture_default_str();
  verify_cmd->add_option("--record-baseline", verify.record_baseline,
                         "Write every node's kube-vip pod and restart count to FILE and exit "
                         "(before an upgrade).");
  verify_cmd->add_option("--baseline", verify.baseline,
                         "Judge restarts against FILE (from --record-baseline); without it "
                         "restarts are reported, not judged.");
  verify_cmd->add_option("--prometheus-url", verify.prometheus_url,
                         "Also check Prometheus (e.g. http://prometheus:9090): exporter targets "
                         "up, kube-vip rules loaded, no kube-vip alert firing.");
  verify_cmd
      ->add_option("--prometheus-exporter-job", verify.prometheus_exporter_job,
                   "Job of the kvip-exporter targets (the mixin's selector).")
      ->capture_default_str();
  verify_cmd
      ->add_option("--prometheus-kubevip-job", verify.prometheus_kubevip_job,
                   "Job of kube-vip's own :2112 targets; judged when Prometheus has it.")
      ->capture_default_str();

  kvip::RecoverOptions recover;
  CLI::App* recover_cmd = app.add_subcommand(
      "recover", "Delete a stale kube-vip lease when provably safe, or --restore-backup locally.");
  recover_cmd->footer(kvip::ExitCodesHelp(kvip::kRecoverExitCodes));
  AddClusterFlags(*recover_cmd, recover.cluster, recover.output, serve);
  recover_cmd
      ->add_option("--exporter-urls", recover.exporter_urls,
                   "Every node's kvip-exporter /metrics URL (comma-separated).")
      ->delimiter(',');
  recover_cmd->add_flag("--dry-run", recover.dry_run, "Check and print; change nothing.");
  recover_cmd->add_flag("--restore-backup", recover.restore_backup,
                        "Put this node's manifest backup back (scenarios A and C).");
  recover_cmd->add_option("--backup", recover.backup,
                          "Backup to restore (default: the upgrade's, else the newest *.bak).");
  recover_cmd->add_option("--backup-dir", recover.backup_dir,
                          "Where backups are (default: the manifests directory's parent).");
  recover_cmd->add_option("--state-dir", recover.state_dir, "Where the upgrade state file lives.")
      ->capture_default_str();
  AddSecondsOption(*recover_cmd, "--timeout", recover.timeout, "How long to wait for recovery.");
  kvip::RolloutOptions rollout;
  CLI::App* rollout_cmd = app.add_subcommand(
      "rollout",
      "Upgrade (or roll back) kube-vip on every control-plane node in turn, followers first and "
      "the leader last, each node's step in a short-lived pod on that node; then verify.");
  rollout_cmd->footer(kvip::ExitCodesHelp(kvip::kRolloutExitCodes));
  rollout_cmd->add_option("--to", rollout.to, "Target kube-vip version (image tag), e.g. v1.0.4.");
  rollout_cmd->add_flag("--rollback", rollout.rollback,
                        "Return every node to the version it had before its last recorded step.");
  rollout_cmd->add_flag("--status", rollout.status,
                        "Show each node's version, state, last step and backup; change nothing.");
  rollout_cmd->add_flag("--dry-run", rollout.dry_run,
                        "Print the plan and every node's preflight; change nothing.");
  rollout_cmd
      ->add_option("--image", rollout.image,
                   "The kvip-exporter image the step pods run (this version's image).")
      ->envname("KVIP_EXPORTER_IMAGE")
      ->capture_default_str();
  rollout_cmd->add_option("--kubeconfig", rollout.kubeconfig,
                          "Kubeconfig (default: $KUBECONFIG, else in-cluster).");
  rollout_cmd
      ->add_option("--namespace", rollout.namespace_,
                   "Namespace of kube-vip's mirror pods, the step pods and the lock.")
      ->capture_default_str();
  rollout_cmd
      ->add_option("--kubevip.manifest", rollout.manifest,
                   "kube-vip's manifest on every node (host path).")
      ->capture_default_str();
  rollout_cmd
      ->add_option("--containerd-address", rollout.containerd_address,
                   "containerd's socket on every node (host path).")
      ->capture_default_str();
  rollout_cmd
      ->add_option("--state-dir", rollout.state_dir,
                   "The node step's state directory on every node (host path).")
      ->capture_default_str();
  rollout_cmd
      ->add_option("--runtime", rollout.runtime, "The node step's pre-pull CLI: ctr or crictl.")
      ->capture_default_str();
  rollout_cmd->add_option("--lease.name", rollout.lease_name, "The Lease kube-vip holds.")
      ->capture_default_str();
  rollout_cmd->add_option("--lease.namespace", rollout.lease_namespace, "Namespace of that Lease.")
      ->capture_default_str();
  rollout_cmd->add_flag("--vip.healthz-insecure", rollout.vip_healthz_insecure,
                        "The node steps do not verify the API server certificate behind the VIP.");
  rollout_cmd->add_option("--prometheus-url", rollout.prometheus_url,
                          "Also verify the Prometheus targets, rules and alerts at this URL.");
  AddSecondsOption(*rollout_cmd, "--timeout", rollout.step_timeout,
                   "Each node step's wait (for the new version, for a rollback).");
  AddSecondsOption(*rollout_cmd, "--settle", rollout.settle,
                   "How long each node's new version must stay healthy.");
  AddSecondsOption(*rollout_cmd, "--pod-start-timeout", rollout.pod_start_timeout,
                   "How long a step pod may take to start.");
  AddOutputFlag(*rollout_cmd, rollout.output);
  AddLogLevelFlag(*rollout_cmd, serve.log_level);
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& err) {
    app.exit(err);
    return kUsageError;
  }

  spdlog::level::level_enum level;
  kvip::LogFormat format;
  if (!kvip::ParseLogLevel(serve.log_level, level)) {
    std::cerr << "--log.level: unknown level \"" << serve.log_level
              << "\" (debug, info, warn, error)\n";
    return kUsageError;
  }
  if (!kvip::ParseLogFormat(serve.log_format, format)) {
    std::cerr << "--log.format: unknown format \"" << serve.log_format << "\" (logfmt, json)\n";
    return kUsageError;
  }
  kvip::SetupLogging(level, format);
  if (upgrade_cmd->parsed() || verify_cmd->parsed() || recover_cmd->parsed() ||
      rollout_cmd->parsed()) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int code = upgrade_cmd->parsed()   ? kvip::Upgrade(upgrade)
               : verify_cmd->parsed()  ? kvip::Verify(verify)
               : rollout_cmd->parsed() ? kvip::Rollout(rollout)
                                       : kvip::Recover(recover);
    curl_global_cleanup();
    return code;
  }
  return kvip::Serve(serve, VersionString().c_str());
}
