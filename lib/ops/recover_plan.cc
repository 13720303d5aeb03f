#include "ops/recover_plan.h"

#include <algorithm>

namespace kvip::ops {
namespace {

std::string Secs(double seconds) { return std::to_string(static_cast<long long>(seconds)) + " s"; }

}  // namespace

StaleLeaseDecision DecideStaleLease(const StaleLeaseFacts& facts) {
  StaleLeaseDecision d;
  if (!facts.lease_present) {
    d.verdict =
        "the lease does not exist: kube-vip creates it at the next election; nothing to delete";
    return d;
  }
  const LeaseInfo& lease = facts.lease;
  const int duration =
      lease.duration_seconds > 0 ? lease.duration_seconds : facts.fallback_duration_seconds;
  const double age = facts.now - lease.renew_time;
  d.findings.push_back({"lease held by \"" + lease.holder + "\", renewed " + Secs(age) +
                        " ago, duration " + Secs(duration)});
  // An empty holder is a released lease: nobody renews it, whatever its renewTime says.
  if (!lease.holder.empty() && lease.renew_time > 0 &&
      !kube::LeaseExpiredAt(lease.renew_time, duration, facts.now)) {
    d.verdict = "the lease is fresh: " + lease.holder + " renews it; nothing to recover";
    return d;
  }
  d.stale = true;

  bool safe = true;
  auto refuse = [&](std::string why) {
    d.findings.push_back({std::move(why), true});
    safe = false;
  };
  if (facts.exporters.empty()) {
    refuse("no exporters to ask (--exporter-urls): which nodes hold the VIP is unknown");
  }
  std::vector<std::string> covered;
  for (const ExporterView& e : facts.exporters) {
    const std::string who = e.node.empty() ? e.url : e.node + " (" + e.url + ")";
    if (!e.up) {
      refuse(who + ": no answer: " + e.error);
      continue;
    }
    if (!e.vip_bound) {
      refuse(who + ": reports no kubevip_vip_bound for the VIP");
      continue;
    }
    covered.push_back(e.node);
    if (*e.vip_bound) {
      refuse(who + ": holds the VIP; the lease is not the problem there");
    } else if (facts.now - e.vip_last_change <= duration) {
      refuse(who + ": released the VIP only " + Secs(facts.now - e.vip_last_change) +
             " ago, within the lease duration");
    } else {
      d.findings.push_back(
          {who + ": has not held the VIP for " + Secs(facts.now - e.vip_last_change)});
    }
  }
  for (const std::string& node : facts.kube_vip_nodes) {
    if (std::find(covered.begin(), covered.end(), node) == covered.end())
      refuse(node + " runs kube-vip but no exporter answered for it");
  }
  if (facts.vip_answers)
    refuse("the VIP answers: some node serves it");
  else
    d.findings.push_back({"the VIP does not answer"});

  d.delete_lease = safe;
  d.verdict =
      safe
          ? "no node has held the VIP for longer than the lease duration: deleting the stale lease "
            "forces a new election"
          : "refusing to delete the lease: see the findings";
  return d;
}

std::optional<std::string> KubeVipCameBack(const RestoreFacts& f) {
  std::optional<std::string> how;
  if (f.metrics.up && f.pods) {
    for (const auto& pod : *f.pods) {
      if (pod.node == f.node && pod.image == f.image && pod.running && pod.ready)
        how = pod.name + " runs " + pod.image + " and is ready; " + f.metrics_url + " answers";
    }
  } else if (f.metrics.up && f.metrics.process_start_time + 1 >= f.not_before) {
    how = f.metrics_url +
          " answers from a kube-vip started after the restore (API: " + f.pods.error() + ")";
  }
  return how;
}

}  // namespace kvip::ops
