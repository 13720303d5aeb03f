#pragma once
// A Lease watch in its steady state, for the tests that render what a scrape shows: listed,
// watching (2 reconnects so far), `holder` holding plndr-cp-lock, renewed at `renew_time`
// (acquired 100 s before, 5 s duration, 3 transitions), the last event half a second after
// the renewal.

#include <string>

#include "kube/object_watcher.h"

namespace kvip::testing {

inline kube::LeaseWatchStatus WatchingLease(const std::string& holder, double renew_time) {
  kube::LeaseWatchStatus status;
  status.listed = true;
  status.watch_up = true;
  status.reconnects = 2;
  status.events = {{"ADDED", 0}, {"BOOKMARK", 1}, {"DELETED", 0}, {"ERROR", 0}, {"MODIFIED", 41}};
  status.last_event_time = renew_time + 0.5;
  kube::Lease lease;
  lease.name = "plndr-cp-lock";
  lease.holder = holder;
  lease.acquire_time = renew_time - 100;
  lease.renew_time = renew_time;
  lease.duration_seconds = 5;
  lease.transitions = 3;
  status.object = lease;
  return status;
}

}  // namespace kvip::testing
