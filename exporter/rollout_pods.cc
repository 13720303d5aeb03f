#include <signal.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "common/logging.h"
#include "common/metric_family.h"
#include "rollouter.h"

namespace kvip::rollout_detail {
namespace {

std::string Seconds(double s) { return std::to_string(static_cast<int>(s + 0.5)) + "s"; }

}  // namespace

bool Rollouter::Interrupted() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  timespec zero{};
  if (sigtimedwait(&set, nullptr, &zero) > 0) {
    if (!interrupted_)
      LogWarn(
          "signal received: stopping after the current node's step (the step itself is "
          "never cut short; a second signal does not change that)",
          {});
    interrupted_ = true;
  }
  return interrupted_;
}

bool Rollouter::TakeLock() {
  const std::string description = (o_.rollback ? std::string("rollback") : "to " + o_.to) +
                                  " started " + ops::FormatMicroTime(UnixNow());
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto lock = cluster_->ReadLock();
    if (!lock) {
      preflight_.push_back({"lock", false, lock.error()});
      return false;
    }
    const std::optional<ops::LockHolder>& holder = *lock;
    ops::LockDecision decision = ops::DecideLock(
        holder, me_, UnixNow(), holder && IsDeadProcessOfThisHost(holder->identity));
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
      preflight_.push_back(
          {"lock", true,
           std::string(ops::kRolloutLockName) + " taken by " + me_ + " (" + decision.reason + ")"});
      return true;
    }
  }
  preflight_.push_back({"lock", false, "the lock changed under us three times; try again"});
  return false;
}

void Rollouter::RenewLockIfDue() {
  if (!have_lock_ ||
      Clock::now() - lock_renewed_ < std::chrono::seconds(ops::kRolloutLockSeconds / 3))
    return;
  auto lock = cluster_->ReadLock();
  if (lock && *lock && (*lock)->identity == me_ &&
      cluster_->WriteLock(me_, (*lock)->resource_version, (*lock)->description).ok())
    lock_renewed_ = Clock::now();
}

std::vector<std::string> Rollouter::NodeStepArgs() const {
  // containerd's socket: CONTAINERD_ADDRESS / CONTAINER_RUNTIME_ENDPOINT in the pod's env.
  std::vector<std::string> args = {"--runtime=" + o_.runtime,
                                   "--timeout=" + std::to_string(o_.step_timeout.count()) + "s",
                                   "--settle=" + std::to_string(o_.settle.count()) + "s"};
  if (o_.vip_healthz_insecure) args.push_back("--vip.healthz-insecure");
  return args;
}

// Start, both waits (new version, then a rollback), the settle, and the pull's own bound.
int Rollouter::StepDeadlineSeconds() const {
  return static_cast<int>(o_.pod_start_timeout.count() + 2 * o_.step_timeout.count() +
                          o_.settle.count() + 360);
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
  spec.deadline_seconds = StepDeadlineSeconds();
  return spec;
}

// Streams new log lines, and records the end: the pod's exit code and the step's report.
void Rollouter::Poll(StepRun& run) {
  auto pod = cluster_->GetPod(run.pod);
  if (!pod) return;  // the API may be changing hands (the VIP); the next poll retries
  ops::StepPodState state =
      pod->empty() ? ops::StepPodState{ops::StepPodState::kGone, -1, "the pod was deleted"}
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
        if (!line.starts_with("{\"command\":"))
          std::cerr << "[" << run.node->name << "] " << line << "\n";
      }
      if (state.phase == ops::StepPodState::kFinished) run.report = ops::FindStepReport(*log);
    }
  }
  switch (state.phase) {
    case ops::StepPodState::kFinished:
      run.done = run.ran = true;
      run.exit_code = state.exit_code;
      if (!run.report)
        run.error = "the step ended (" + state.detail + ", exit " +
                    std::to_string(state.exit_code) + ") without a report";
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
      RenewLockIfDue();
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
  // The pods end by their activeDeadlineSeconds at the latest; an API that stops answering
  // about them for longer than that must not keep the rollout waiting forever.
  const auto give_up = Clock::now() + std::chrono::seconds(StepDeadlineSeconds() + 120);
  while (std::any_of(runs.begin(), runs.end(), [](const StepRun& r) { return !r.done; })) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    Interrupted();
    RenewLockIfDue();
    for (StepRun& run : runs) {
      if (!run.done) Poll(run);
      if (!run.done && Clock::now() > give_up) {
        run.done = true;
        run.error = "no word of " + run.pod + " past its deadline; it may still be running: see " +
                    "kubectl -n " + o_.namespace_ + " get pod " + run.pod;
      }
    }
  }
  for (StepRun& run : runs) cluster_->DeletePod(run.pod);
}

}  // namespace kvip::rollout_detail
