#include "rollout.h"

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <thread>

#include "common/logging.h"
#include "common/metric_family.h"
#include "manifest/image_ref.h"
#include "report.h"
#include "rollout_cluster.h"
#include "rollout_verify.h"

namespace kvip::rollout_detail {
namespace {

using Clock = std::chrono::steady_clock;

std::string Seconds(double s) { return std::to_string(static_cast<int>(s + 0.5)) + "s"; }

}  // namespace

// One node-step pod as it runs: what it streamed so far and how it ended.
struct StepRun {
  const ops::RolloutNode* node = nullptr;
  std::string pod;
  std::vector<std::string> args;
  size_t lines_shown = 0;
  bool done = false;
  bool ran = false;  // the step's process ran (it has an exit code)
  int exit_code = -1;
  std::optional<ops::StepReport> report;
  std::string error;  // why it could not run, or ended without a report
  Clock::time_point pending_since = Clock::now();
};

class Rollouter {
 public:
  explicit Rollouter(const RolloutOptions& options) : o_(options) {}
  int Run();

 private:
  int Status();
  int Finish(const std::string& result, int exit_code, const std::string& message);
  bool Interrupted();
  bool TakeLock();
  void RenewLockIfDue();
  ops::StepPodSpec SpecFor(const ops::RolloutNode& node, const std::string& pod,
                           std::vector<std::string> args) const;
  void RunPods(std::vector<StepRun>& runs, bool adopt);
  void Poll(StepRun& run);
  bool Preflight();
  int StepNodes();
  std::vector<std::string> NodeStepArgs() const;
  const ops::RolloutNode* NodeNamed(const std::string& name) const;

  const RolloutOptions& o_;
  OutputFormat format_ = OutputFormat::kTable;
  std::unique_ptr<RolloutCluster> cluster_;
  ops::Discovery discovery_;
  std::vector<std::string> order_;
  std::string leader_;
  std::string me_;
  bool have_lock_ = false;
  Clock::time_point lock_renewed_;
  bool interrupted_ = false;
  std::string rollout_id_;
  ops::RolloutRecord record_;
  VerifyBaseline baseline_;
  std::vector<std::string> plan_;
  std::vector<Check> preflight_;
  std::vector<Check> steps_;
  std::vector<Check> verify_;
};

const ops::RolloutNode* Rollouter::NodeNamed(const std::string& name) const {
  for (const ops::RolloutNode& n : discovery_.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

bool Rollouter::Interrupted() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  timespec zero{};
  if (sigtimedwait(&set, nullptr, &zero) > 0) {
    if (!interrupted_)
      LogWarn("signal received: stopping after the current node's step (the step itself is "
              "never cut short; a second signal does not change that)",
              {});
    interrupted_ = true;
  }
  return interrupted_;
}

bool Rollouter::TakeLock() {
  const std::string description =
      (o_.rollback ? std::string("rollback") : "to " + o_.to) + " started " +
      ops::FormatMicroTime(UnixNow());
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto lock = cluster_->ReadLock();
    if (!lock) {
      preflight_.push_back({"lock", false, lock.error()});
      return false;
    }
    const std::optional<ops::LockHolder>& holder = *lock;
    ops::LockDecision decision =
        ops::DecideLock(holder, me_, UnixNow(), holder && IsDeadProcessOfThisHost(holder->identity));
    if (decision.verdict == ops::LockVerdict::kRefuse) {
      preflight_.push_back({"lock", false, decision.reason});
      return false;
    }
    auto written = cluster_->WriteLock(me_, holder ? holder->resource_version : "", description);
    if (!written) {
      preflight_.push_back({"lock", false, written.error()});
      return false;
    }
    if (*written) {
      have_lock_ = true;
      lock_renewed_ = Clock::now();
      preflight_.push_back({"lock", true, std::string(ops::kRolloutLockName) + " taken by " + me_ +
                                              " (" + decision.reason + ")"});
      return true;
    }
  }
  preflight_.push_back({"lock", false, "the lock changed under us three times; try again"});
  return false;
}

void Rollouter::RenewLockIfDue() {
  if (!have_lock_ || Clock::now() - lock_renewed_ < std::chrono::seconds(ops::kRolloutLockSeconds / 3))
    return;
  auto lock = cluster_->ReadLock();
  if (lock && *lock && (*lock)->identity == me_ &&
      cluster_->WriteLock(me_, (*lock)->resource_version, (*lock)->description).ok())
    lock_renewed_ = Clock::now();
}

std::vector<std::string> Rollouter::NodeStepArgs() const {
  std::vector<std::string> args = {"--runtime=" + o_.runtime,
                                   "--containerd-address=/run/containerd/containerd.sock",
                                   "--timeout=" + std::to_string(o_.step_timeout.count()) + "s",
                                   "--settle=" + std::to_string(o_.settle.count()) + "s"};
  if (o_.vip_healthz_insecure) args.push_back("--vip.healthz-insecure");
  return args;
}

ops::StepPodSpec Rollouter::SpecFor(const ops::RolloutNode& node, const std::string& pod,
                                    std::vector<std::string> args) const {
  ops::StepPodSpec spec;
  spec.name = pod;
  spec.namespace_ = o_.namespace_;
  spec.node = node.name;
  spec.image = o_.image;
  spec.host_root = node.host_root;
  spec.manifest = o_.manifest;
  spec.kubeconfig_host_path = node.kubeconfig_host_path;
  spec.containerd_socket = o_.containerd_address;
  spec.state_dir = o_.state_dir;
  spec.args = std::move(args);
  spec.rollout_id = rollout_id_;
  spec.deadline_seconds =
      static_cast<int>(o_.pod_start_timeout.count() + 2 * o_.step_timeout.count() +
                       o_.settle.count() + 360);
  return spec;
}

// Streams new log lines, and records the end: the pod's exit code and the step's report.
void Rollouter::Poll(StepRun& run) {
  auto pod = cluster_->GetPod(run.pod);
  if (!pod) return;  // the API may be changing hands (the VIP); the next poll retries
  ops::StepPodState state = pod->empty() ? ops::StepPodState{ops::StepPodState::kGone, -1,
                                                              "the pod was deleted"}
                                         : ops::JudgeStepPod(*pod);
  if (state.phase == ops::StepPodState::kRunning || state.phase == ops::StepPodState::kFinished) {
    if (auto log = cluster_->PodLog(run.pod)) {
      std::vector<std::string> lines;
      size_t start = 0;
      while (start < log->size()) {
        size_t end = log->find('\n', start);
        if (end == std::string::npos) break;  // a partial line waits for the next poll
        lines.push_back(log->substr(start, end - start));
        start = end + 1;
      }
      for (; run.lines_shown < lines.size(); ++run.lines_shown) {
        const std::string& line = lines[run.lines_shown];
        if (!line.starts_with("{\"command\":")) std::cerr << "[" << run.node->name << "] " << line << "\n";
      }
      if (state.phase == ops::StepPodState::kFinished) run.report = ops::FindStepReport(*log);
    }
  }
  switch (state.phase) {
    case ops::StepPodState::kFinished:
      run.done = run.ran = true;
      run.exit_code = state.exit_code;
      if (!run.report)
        run.error = "the step ended (" + state.detail + ", exit " + std::to_string(state.exit_code) +
                    ") without a report";
      break;
    case ops::StepPodState::kCannotStart:
      if (Clock::now() - run.pending_since > std::chrono::seconds(15)) {
        run.done = true;
        run.error = "the step pod cannot start on " + run.node->name + ": " + state.detail +
                    " (image " + o_.image + ")";
      }
      break;
    case ops::StepPodState::kGone:
      run.done = true;
      run.error = state.detail;
      break;
    case ops::StepPodState::kPending:
      if (Clock::now() - run.pending_since > o_.pod_start_timeout) {
        run.done = true;
        run.error = "the step pod did not start on " + run.node->name + " within " +
                    Seconds(static_cast<double>(o_.pod_start_timeout.count())) +
                    (state.detail.empty() ? "" : ": " + state.detail);
      }
      break;
    case ops::StepPodState::kRunning:
      run.pending_since = Clock::now();
      break;
  }
}

// Creates the pods (adopting one already there when `adopt`: a step a killed rollout
// started), polls them until each has ended, and deletes them whatever the outcome.
void Rollouter::RunPods(std::vector<StepRun>& runs, bool adopt) {
  for (StepRun& run : runs) {
    if (!adopt) cluster_->DeletePod(run.pod);
    auto created = cluster_->CreatePod(ops::StepPodJson(SpecFor(*run.node, run.pod, run.args)));
    for (int i = 0; created && !*created && !adopt && i < 60; ++i) {  // the old one terminating
      std::this_thread::sleep_for(std::chrono::seconds(1));
      created = cluster_->CreatePod(ops::StepPodJson(SpecFor(*run.node, run.pod, run.args)));
    }
    if (!created) {
      run.done = true;
      run.error = created.error();
    } else if (!*created) {
      LogInfo("adopting the step pod a previous rollout left running",
              {{"node", run.node->name}, {"pod", run.pod}});
    }
  }
  while (std::any_of(runs.begin(), runs.end(), [](const StepRun& r) { return !r.done; })) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    Interrupted();
    RenewLockIfDue();
    for (StepRun& run : runs)
      if (!run.done) Poll(run);
  }
  for (StepRun& run : runs) cluster_->DeletePod(run.pod);
}

}  // namespace kvip::rollout_detail

namespace kvip::rollout_detail {

// Every node's preflight first, in parallel: the node step's own (`--dry-run`; with
// `--pull-only` the new image is pulled too), so an unknown tag or a node whose manifest does
// not parse stops the rollout before any manifest changes.
bool Rollouter::Preflight() {
  std::vector<StepRun> runs;
  for (const std::string& name : order_) {
    StepRun run;
    run.node = NodeNamed(name);
    run.pod = "kvip-exporter-preflight-" + name;
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
  bool ok = true;
  for (const StepRun& run : runs) {
    Check check{"preflight " + run.node->name, run.ran && run.exit_code == 0, run.error};
    if (run.report) {
      check.detail = run.report->result + ": " + run.report->message;
      for (const Check& failed : run.report->failed)
        check.detail += "; " + failed.name + ": " + failed.detail;
    }
    ok = ok && check.ok;
    preflight_.push_back(std::move(check));
  }
  return ok;
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
    std::vector<std::string> args = NodeStepArgs();
    args.push_back(o_.rollback ? std::string("--rollback") : "--to=" + o_.to);
    std::vector<StepRun> runs(1);
    runs[0].node = node;
    runs[0].pod = "kvip-exporter-step-" + name;
    runs[0].args = args;
    const auto started = Clock::now();
    RunPods(runs, /*adopt=*/true);
    const StepRun& run = runs[0];
    const double took = std::chrono::duration<double>(Clock::now() - started).count();
    ops::NodeRecord rec{name, run.report ? run.report->result : "no-report", run.exit_code,
                        run.report ? run.report->from : "", run.report ? run.report->to : "",
                        run.report ? run.report->backup : "",
                        run.report ? run.report->message : run.error, UnixNow()};
    record_.Put(rec);
    cluster_->WriteRecord(record_);
    if (!run.ran)
      return steps_.push_back({"node " + name, false, run.error, took}),
             Finish("failed", kRolloutCannotRun, run.error);
    std::string detail = rec.result + " (exit " + std::to_string(run.exit_code) + "): " + rec.message;
    if (run.report)
      for (const Check& failed : run.report->failed) detail += "; " + failed.name + ": " + failed.detail;
    steps_.push_back({"node " + name, run.exit_code == 0, detail, took});
    if (run.exit_code == kUpgradeRolledBack)
      return Finish("failed", kRolloutNodeFailed,
                    name + " could not take the new version and rolled back; the nodes after it "
                           "are untouched");
    if (run.exit_code == kUpgradeRollbackFailed)
      return Finish("failed", kRolloutNodeRollbackFailed,
                    name + ": the step failed and its rollback is not confirmed: act now");
    if (run.exit_code == kUpgradeBadInput || run.exit_code == kUpgradeStateConflict)
      return Finish("failed", kRolloutBadInput, name + ": " + rec.message);
    if (run.exit_code != 0) return Finish("failed", kRolloutNodeFailed, name + ": " + rec.message);
  }
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
  bool lease_fresh = false;
  auto holder = cluster_->LeaseHolder(o_.lease_namespace, o_.lease_name, lease_fresh);
  if (!holder) return Finish("failed", kRolloutCannotRun, holder.error());
  leader_ = *holder;
  auto order = ops::PlanOrder(discovery_.nodes, leader_);
  if (!order) return Finish("refused", kRolloutClusterUnhealthy, order.error());
  order_ = std::move(*order);
  for (const std::string& name : order_) {
    const ops::RolloutNode& n = *NodeNamed(name);
    plan_.push_back(name + (name == leader_ ? " (leader, last)" : "") + ": " +
                    ops::TagOf(n.pod.image) + " -> " + (o_.rollback ? "its version before" : o_.to) +
                    " (host root " + n.host_root + ")");
  }
  if (!discovery_.without_kubevip.empty())
    plan_.push_back("control-plane nodes without kube-vip, left alone: " +
                    [&] { std::string s; for (auto& n : discovery_.without_kubevip) s += (s.empty() ? "" : ", ") + n; return s; }());
  preflight_.push_back({"lease", lease_fresh,
                        o_.lease_namespace + "/" + o_.lease_name + " held by " + leader_ +
                            (lease_fresh ? ", fresh" : ", NOT renewed in time")});
  for (const ops::RolloutNode& n : discovery_.nodes)
    preflight_.push_back({"pod " + n.name, n.pod.running && n.pod.ready,
                          n.pod.name + " " + ops::TagOf(n.pod.image) +
                              (n.pod.running ? " running" : " not running") +
                              (n.pod.ready ? ", ready" : ", not ready")});
  const bool healthy =
      std::all_of(preflight_.begin(), preflight_.end(), [](const Check& c) { return c.ok; });
  if (!healthy && !o_.dry_run)
    return Finish("refused", kRolloutClusterUnhealthy, "the cluster is not healthy; nothing was changed");
  if (!o_.dry_run && !TakeLock())
    return Finish("refused", preflight_.back().detail.starts_with("another rollout") ? kRolloutLocked
                                                                                     : kRolloutCannotRun,
                  preflight_.back().detail);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  if (!Preflight())
    return Finish(o_.dry_run ? "planned" : "refused", kRolloutPreflightFailed,
                  "a node's preflight failed; nothing was changed");
  if (o_.dry_run) return Finish("planned", kRolloutOk, "dry run: nothing was changed");
  baseline_ = CaptureBaseline(*cluster_, discovery_);
  record_ = ops::RolloutRecord{o_.rollback ? "rollback" : "to " + o_.to, UnixNow(), {}};
  if (int code = StepNodes(); code >= 0) return code;
  verify_ = VerifyAfterRollout(*cluster_, o_, baseline_, record_);
  const bool verified =
      std::all_of(verify_.begin(), verify_.end(), [](const Check& c) { return c.ok; });
  return Finish(verified ? "done" : "verify-failed", verified ? kRolloutOk : kRolloutVerifyFailed,
                verified ? "every node stepped in order and verify passed"
                         : "every node stepped, but verify failed");
}

int Rollouter::Status() {
  record_ = cluster_->ReadRecord();
  bool fresh = false;
  auto holder = cluster_->LeaseHolder(o_.lease_namespace, o_.lease_name, fresh);
  leader_ = holder ? *holder : "";
  for (const ops::RolloutNode& n : discovery_.nodes) {
    std::string detail = ops::TagOf(n.pod.image) + (n.pod.running ? " running" : " not running") +
                         (n.pod.ready ? ", ready" : ", not ready") +
                         ", restarts " + std::to_string(n.pod.restart_count) +
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
    steps_.push_back({"lock", true, "held by " + (*lock)->identity + " (" + (*lock)->description + ")"});
  return Finish("status", kRolloutOk,
                record_.action.empty() ? "no rollout recorded" : "last rollout: " + record_.action);
}

int Rollouter::Finish(const std::string& result, int exit_code, const std::string& message) {
  if (cluster_ && have_lock_) cluster_->ReleaseLock(me_);
  (exit_code == 0 ? LogInfo : LogError)(
      "rollout finished",
      {{"result", result}, {"exit_code", std::to_string(exit_code)}, {"msg", message}});
  Report report;
  report.title = "kube-vip rollout " +
                 (o_.status ? std::string("status") : o_.rollback ? "--rollback" : "--to " + o_.to) +
                 (o_.dry_run ? " (dry run)" : "") + (leader_.empty() ? "" : ", leader " + leader_);
  report.fields = {{"command", std::string("rollout")}, {"action", o_.status ? std::string("status") : o_.rollback ? std::string("rollback") : "to " + o_.to},
                   {"dry_run", o_.dry_run},   {"leader", leader_},
                   {"result", result},        {"exit_code", exit_code},
                   {"message", message}};
  report.sections.push_back(Report::Section::List("plan", "plan", plan_));
  report.sections.push_back(Report::Section::Checks("preflight", "preflight", preflight_));
  report.sections.push_back(Report::Section::Checks("nodes", "nodes", steps_));
  report.sections.push_back(Report::Section::Checks("verify", "verify", verify_));
  report.last_line = "result: " + result + " (exit " + std::to_string(exit_code) + "): " + message;
  RenderReport(std::cout, format_, report);
  return exit_code;
}

}  // namespace kvip::rollout_detail

namespace kvip {

int Rollout(const RolloutOptions& options) {
  rollout_detail::Rollouter rollouter(options);
  return rollouter.Run();
}

}  // namespace kvip
