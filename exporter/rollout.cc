#include "rollout.h"

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/metric_family.h"
#include "manifest/image_ref.h"
#include "rollouter.h"

namespace kvip::rollout_detail {

const ops::RolloutNode* Rollouter::NodeNamed(const std::string& name) const {
  for (const ops::RolloutNode& n : discovery_.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

}  // namespace kvip::rollout_detail

namespace kvip::rollout_detail {

// Every node's preflight first, in parallel: the node step's own (`--dry-run`; with
// `--pull-only` the new image is pulled too), so an unknown tag or a node whose manifest does
// not parse stops the rollout before any manifest changes.
int Rollouter::Preflight() {
  std::vector<StepRun> runs;
  for (const std::string& name : order_) {
    StepRun run;
    run.node = NodeNamed(name);
    run.pod = ops::kPreflightPodPrefix + name;
    run.args = NodeStepArgs();
    if (o_.rollback) {
      run.args.insert(run.args.end(), {"--rollback", "--dry-run"});
    } else {
      run.args.push_back("--to=" + o_.to);
      run.args.push_back(o_.dry_run ? "--dry-run" : "--pull-only");
      run.args.push_back("--allow-leader");  // the order is the rollout's
    }
    runs.push_back(std::move(run));
  }
  RunPods(runs, /*adopt=*/false);
  // The worst node decides: bad input, then an unhealthy cluster, then anything else.
  int exit_code = kRolloutOk;
  auto worse = [&exit_code](int code) {
    static constexpr int kRank[] = {kRolloutBadInput, kRolloutClusterUnhealthy, kRolloutCannotRun,
                                    kRolloutPreflightFailed};
    auto rank = [](int c) { return std::find(std::begin(kRank), std::end(kRank), c) - kRank; };
    if (exit_code == kRolloutOk || rank(code) < rank(exit_code)) exit_code = code;
  };
  for (const StepRun& run : runs) {
    Check check{"preflight " + run.node->name, run.ran && run.exit_code == 0, run.error};
    if (run.report) {
      check.detail = run.report->result + ": " + run.report->message;
      for (const Check& failed : run.report->failed)
        check.detail += "; " + failed.name + ": " + failed.detail;
    }
    if (!run.ran)
      worse(kRolloutCannotRun);
    else if (run.exit_code == kUpgradeBadInput || run.exit_code == kUpgradeStateConflict)
      worse(kRolloutBadInput);
    else if (run.exit_code == kUpgradeClusterUnhealthy)
      worse(kRolloutClusterUnhealthy);
    else if (run.exit_code != 0)
      worse(kRolloutPreflightFailed);
    preflight_.push_back(std::move(check));
  }
  return exit_code;
}

// Records a finished step pod (the record, the report line) and says how the rollout goes
// on: -1 to carry on, else the exit code it ended with.
int Rollouter::TakeResult(const StepRun& run, double took, const std::string& how) {
  const std::string& name = run.node->name;
  ops::NodeRecord rec{name,
                      run.report ? run.report->result : "no-report",
                      run.exit_code,
                      run.report ? run.report->from : "",
                      run.report ? run.report->to : "",
                      run.report ? run.report->backup : "",
                      run.report ? run.report->message : run.error,
                      UnixNow()};
  record_.Put(rec);
  cluster_->WriteRecord(record_);
  if (!run.ran) {
    steps_.push_back({"node " + name, false, how + run.error, took});
    return Finish("failed", kRolloutCannotRun, run.error);
  }
  std::string detail =
      how + rec.result + " (exit " + std::to_string(run.exit_code) + "): " + rec.message;
  if (run.report)
    for (const Check& failed : run.report->failed)
      detail += "; " + failed.name + ": " + failed.detail;
  steps_.push_back({"node " + name, run.exit_code == 0, detail, took});
  if (run.exit_code == kUpgradeRolledBack)
    return Finish("failed", kRolloutNodeFailed,
                  name +
                      " could not take the new version and rolled back; the nodes after it "
                      "are untouched");
  if (run.exit_code == kUpgradeRollbackFailed)
    return Finish("failed", kRolloutNodeRollbackFailed,
                  name + ": the step failed and its rollback is not confirmed: act now");
  if (run.exit_code == kUpgradeBadInput || run.exit_code == kUpgradeStateConflict)
    return Finish("failed", kRolloutBadInput, name + ": " + rec.message);
  if (run.exit_code != 0) return Finish("failed", kRolloutNodeFailed, name + ": " + rec.message);
  return -1;
}

// A step pod a killed rollout left behind is that node's step still running (or its end):
// wait for it and take its result before judging the cluster.
int Rollouter::AdoptLeftoverSteps() {
  auto names = cluster_->StepPodNames();
  for (const std::string& pod : names ? *names : std::vector<std::string>{}) {
    const ops::RolloutNode* node = NodeNamed(pod.substr(std::string(ops::kStepPodPrefix).size()));
    if (!node) continue;
    std::vector<StepRun> runs(1);
    runs[0].node = node;
    runs[0].pod = pod;
    const auto started = Clock::now();
    std::cerr << "[" << node->name << "] a previous rollout's step is still there: adopting it\n";
    RunPods(runs, /*adopt=*/true);
    if (int code = TakeResult(
            runs[0], std::chrono::duration<double>(Clock::now() - started).count(), "adopted: ");
        code >= 0)
      return code;
  }
  return -1;
}

int Rollouter::StepNodes() {
  for (const std::string& name : order_) {
    if (Interrupted())
      return Finish("interrupted", kRolloutInterrupted,
                    "stopped before " + name + "; re-run to continue from where each node is");
    auto discovered = cluster_->Discover(o_.pod_name, o_.container);
    if (discovered) discovery_ = std::move(*discovered);
    const ops::RolloutNode* node = NodeNamed(name);
    if (!node) return Finish("failed", kRolloutCannotRun, name + " no longer runs kube-vip");
    if (!o_.rollback && ops::NodeOnVersion(node->pod, o_.to)) {
      steps_.push_back({"node " + name, true, "already runs " + o_.to + ", ready"});
      continue;
    }
    if (name == leader_ && !o_.rollback) {
      Check followers = ops::FollowersReady(discovery_.nodes, leader_, o_.to);
      if (!followers.ok) {
        steps_.push_back(followers);
        return Finish("failed", kRolloutNodeFailed,
                      "the leader " + name + " goes last, and not every follower is ready");
      }
    }
    std::cerr << "[" << name << "] step " << (o_.rollback ? "rollback" : "to " + o_.to)
              << (name == leader_ ? " (the leader, last)" : "") << "\n";
    std::vector<StepRun> runs(1);
    runs[0].node = node;
    runs[0].pod = ops::kStepPodPrefix + name;
    runs[0].args = NodeStepArgs();
    runs[0].args.push_back(o_.rollback ? std::string("--rollback") : "--to=" + o_.to);
    const auto started = Clock::now();
    RunPods(runs, /*adopt=*/true);
    if (int code =
            TakeResult(runs[0], std::chrono::duration<double>(Clock::now() - started).count(), "");
        code >= 0)
      return code;
  }
  return -1;
}

// The lease and every mirror pod, checked again for up to a minute: the node stepped just
// before (by a killed rollout, say) may still be coming up, the lease just handed over.
int Rollouter::PlanWhenHealthy() {
  const auto deadline = Clock::now() + std::chrono::seconds(o_.dry_run ? 0 : 60);
  std::vector<Check> health;
  std::string error;
  while (true) {
    health.clear();
    error.clear();
    auto discovered = cluster_->Discover(o_.pod_name, o_.container);
    bool fresh = false;
    auto holder = discovered ? cluster_->LeaseHolder(o_.lease_namespace, o_.lease_name, fresh)
                             : Result<std::string>(Error{discovered.error()});
    if (discovered && holder) {
      discovery_ = std::move(*discovered);
      leader_ = *holder;
      auto order = ops::PlanOrder(discovery_.nodes, leader_);
      if (order)
        order_ = std::move(*order);
      else
        error = order.error();
      health.push_back({"lease", fresh,
                        o_.lease_namespace + "/" + o_.lease_name + " held by " + leader_ +
                            (fresh ? ", fresh" : ", NOT renewed in time")});
      for (const ops::RolloutNode& n : discovery_.nodes)
        health.push_back(
            {"pod " + n.name, n.pod.running && n.pod.ready,
             n.pod.name + " " + ops::TagOf(n.pod.image) + " " + n.pod.RunningReadyText()});
    } else {
      error = discovered ? holder.error() : discovered.error();
    }
    const bool healthy = error.empty() && std::all_of(health.begin(), health.end(),
                                                      [](const Check& c) { return c.ok; });
    if (healthy || Clock::now() >= deadline || Interrupted()) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    RenewLockIfDue();
  }
  preflight_.insert(preflight_.end(), health.begin(), health.end());
  if (!error.empty()) {
    preflight_.push_back({"plan", false, error});
    return Finish("refused", kRolloutClusterUnhealthy, error + "; nothing was changed");
  }
  for (const std::string& name : order_) {
    const ops::RolloutNode& n = *NodeNamed(name);
    plan_.push_back(
        name + (name == leader_ ? " (leader, last)" : "") + ": " + ops::TagOf(n.pod.image) +
        " -> " + (o_.rollback ? "its version before" : o_.to) + " (host root " + n.host_root + ")");
  }
  std::string left_alone;
  for (const std::string& n : discovery_.without_kubevip)
    left_alone += (left_alone.empty() ? "" : ", ") + n;
  if (!left_alone.empty())
    plan_.push_back("control-plane nodes without kube-vip, left alone: " + left_alone);
  if (!o_.dry_run &&
      !std::all_of(health.begin(), health.end(), [](const Check& c) { return c.ok; }))
    return Finish("refused", kRolloutClusterUnhealthy,
                  "the cluster is not healthy; nothing was changed");
  return -1;
}

int Rollouter::Run() {
  if (!ParseOutputFlag(o_.output, format_)) return kRolloutUsage;
  if (int modes = (o_.to.empty() ? 0 : 1) + o_.rollback + o_.status; modes != 1) {
    std::cerr << "rollout: give exactly one of --to, --rollback, --status\n";
    return kRolloutUsage;
  }
  if (!o_.to.empty() && !manifest::IsValidTag(o_.to)) {
    std::cerr << "--to: \"" << o_.to << "\" is not an image tag (e.g. v1.0.4)\n";
    return kRolloutUsage;
  }
  if (!o_.status && o_.image.empty()) {
    std::cerr << "rollout: --image is required (the kvip-exporter image the step pods run)\n";
    return kRolloutUsage;
  }
  auto opened = RolloutCluster::Open(o_.kubeconfig, o_.namespace_);
  if (!opened) return Finish("failed", kRolloutCannotRun, opened.error());
  cluster_ = std::move(*opened);
  auto discovered = cluster_->Discover(o_.pod_name, o_.container);
  if (!discovered) return Finish("failed", kRolloutCannotRun, discovered.error());
  discovery_ = std::move(*discovered);
  cluster_->AddNodeAddresses(discovery_.nodes);
  if (o_.status) return Status();

  me_ = SelfIdentity();
  rollout_id_ = me_;
  // Signals are taken only between steps (Interrupted()): a node's step is never cut short.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const std::string action = o_.rollback ? "rollback" : "to " + o_.to;
  if (!o_.dry_run) {
    if (!TakeLock())
      return Finish("refused",
                    preflight_.back().detail.starts_with("another rollout") ? kRolloutLocked
                                                                            : kRolloutCannotRun,
                    preflight_.back().detail);
    // A re-run of the same rollout carries its record on (a rollback's verify reads it).
    record_ = cluster_->ReadRecord();
    if (record_.action != action) record_ = ops::RolloutRecord{action, UnixNow(), {}};
    if (int code = AdoptLeftoverSteps(); code >= 0) return code;
  }
  if (int code = PlanWhenHealthy(); code >= 0) return code;
  if (int code = Preflight(); code != kRolloutOk)
    return Finish(o_.dry_run ? "planned" : "refused", code,
                  "a node's preflight failed; nothing was changed");
  if (o_.dry_run) return Finish("planned", kRolloutOk, "dry run: nothing was changed");
  RolloutVerify verify = PrepareVerify(o_, discovery_);
  if (int code = StepNodes(); code >= 0) return code;
  std::string failed_item;
  verify_ = VerifyAfterRollout(verify, o_, record_, failed_item);
  return Finish(failed_item.empty() ? "done" : "verify-failed",
                failed_item.empty() ? kRolloutOk : kRolloutVerifyFailed,
                failed_item.empty() ? "every node stepped in order and verify passed"
                                    : "every node stepped, but verify failed: " + failed_item);
}

int Rollouter::Status() {
  record_ = cluster_->ReadRecord();
  bool fresh = false;
  auto holder = cluster_->LeaseHolder(o_.lease_namespace, o_.lease_name, fresh);
  leader_ = holder ? *holder : "";
  for (const ops::RolloutNode& n : discovery_.nodes) {
    std::string detail = ops::TagOf(n.pod.image) + " " + n.pod.RunningReadyText() + ", restarts " +
                         std::to_string(n.pod.restart_count) +
                         (n.name == leader_ ? ", leader" : "");
    auto rec = std::find_if(record_.nodes.begin(), record_.nodes.end(),
                            [&](const ops::NodeRecord& r) { return r.node == n.name; });
    if (rec != record_.nodes.end())
      detail += "; last step: " + rec->result + " (upgrade " + ops::TagOf(rec->from) + " -> " +
                ops::TagOf(rec->to) + ") at " + ops::FormatMicroTime(rec->at).substr(0, 19) +
                "Z, backup " + (rec->backup.empty() ? "-" : rec->backup);
    else
      detail += "; no rollout step recorded";
    steps_.push_back({"node " + n.name, n.pod.running && n.pod.ready, detail});
  }
  if (auto lock = cluster_->ReadLock(); lock && *lock && !(*lock)->identity.empty())
    steps_.push_back(
        {"lock", true, "held by " + (*lock)->identity + " (" + (*lock)->description + ")"});
  return Finish("status", kRolloutOk,
                record_.action.empty() ? "no rollout recorded" : "last rollout: " + record_.action);
}

int Rollouter::Finish(const std::string& result, int exit_code, const std::string& message) {
  if (cluster_ && have_lock_) cluster_->ReleaseLock(me_);
  LogFinished("rollout", result, exit_code, message);
  Report report;
  report.title = "kube-vip rollout " +
                 (o_.status     ? std::string("status")
                  : o_.rollback ? "--rollback"
                                : "--to " + o_.to) +
                 (o_.dry_run ? " (dry run)" : "") + (leader_.empty() ? "" : ", leader " + leader_);
  report.fields = {{"command", std::string("rollout")},
                   {"action", o_.status     ? std::string("status")
                              : o_.rollback ? std::string("rollback")
                                            : "to " + o_.to},
                   {"dry_run", o_.dry_run},
                   {"leader", leader_},
                   {"result", result},
                   {"exit_code", exit_code},
                   {"message", message}};
  report.sections.push_back(Report::Section::List("plan", "plan", plan_));
  report.sections.push_back(Report::Section::Checks("preflight", "preflight", preflight_));
  report.sections.push_back(Report::Section::Checks("nodes", "nodes", steps_));
  report.sections.push_back(Report::Section::Checks("verify", "verify", verify_));
  // Where every node stands now, whatever happened: which nodes are on which version.
  std::vector<std::string> versions;
  if (cluster_ && !o_.status) {
    if (auto now = cluster_->Discover(o_.pod_name, o_.container))
      for (const ops::RolloutNode& n : now->nodes)
        versions.push_back(n.name + ": " + ops::TagOf(n.pod.image) +
                           (n.pod.running && n.pod.ready ? ", ready" : ", NOT ready"));
  }
  report.sections.push_back(Report::Section::List("versions", "versions now", versions));
  return PrintFinalReport(report, format_, result, exit_code, message);
}

}  // namespace kvip::rollout_detail

namespace kvip {

int Rollout(const RolloutOptions& options) { return rollout_detail::Rollouter(options).Run(); }

}  // namespace kvip
