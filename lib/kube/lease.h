#pragma once
// coordination.k8s.io/v1 Lease objects and the newline-delimited JSON watch stream that
// carries them. Parsing is split from I/O: the framer takes bytes in any chunking, the
// parsers take one complete JSON document, so both are unit-testable and fuzzable.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/watch_event.h"

namespace kvip::kube {

struct Lease {
  std::string name;
  std::string namespace_name;
  std::string resource_version;
  std::string holder;                      // spec.holderIdentity; empty when released
  std::optional<double> acquire_time;      // spec.acquireTime, Unix seconds
  std::optional<double> renew_time;        // spec.renewTime, Unix seconds
  std::optional<double> duration_seconds;  // spec.leaseDurationSeconds
  std::optional<double> transitions;       // spec.leaseTransitions
};

// The one expiry rule, for the daemon's kubevip_lease_expired / kubevip_is_leader and the
// one-shot modes' "fresh" alike: a lease renewed at `renew_time` for `duration_seconds`
// still holds at renew_time + duration_seconds and has expired strictly after it
// (docs/metrics.md: "1 if renewTime + duration < now").
inline bool LeaseExpiredAt(double renew_time, double duration_seconds, double now) {
  return renew_time + duration_seconds < now;
}

using LeaseList = ObjectList<Lease>;
using WatchEvent = ObjectEvent<Lease>;

// Each returns nullopt with `error` saying what is wrong when `json` is not what it should be.
std::optional<Lease> ParseLease(std::string_view json, std::string& error);
std::optional<LeaseList> ParseLeaseList(std::string_view json, std::string& error);
std::optional<WatchEvent> ParseLeaseWatchEvent(std::string_view json, std::string& error);

// RFC 3339 time as Kubernetes writes Time and MicroTime ("2026-11-25T15:00:00.123456Z",
// offsets accepted) -> Unix seconds.
std::optional<double> ParseRfc3339(std::string_view text);

// Splits a watch stream into lines (one JSON event each) across arbitrary chunk boundaries.
class LineFramer {
 public:
  explicit LineFramer(size_t max_line_bytes = 1 << 20) : max_line_bytes_(max_line_bytes) {}

  // Calls on_line for each complete non-blank line, without its "\n". Returns false when a
  // line grows beyond max_line_bytes: the stream is then unusable and must be reopened.
  bool Feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);

  size_t buffered_bytes() const { return pending_.size(); }
  void Reset() { pending_.clear(); }

 private:
  size_t max_line_bytes_;
  std::string pending_;  // an incomplete line carried over from earlier chunks
};

}  // namespace kvip::kube
