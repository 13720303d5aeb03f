// JSON from the API server: a Lease (GET), a LeaseList (the list before a watch), one watch
// event, and the RFC 3339 times inside them. Also checks that the two RFC 3339 readers in
// lib/kube and lib/manifest agree wherever both accept a time.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/lease.h"
#include "ops/cluster_state.h"

namespace {

template <typename T>
void CheckOutcome(const std::optional<T>& result, const std::string& error) {
  KVIP_FUZZ_CHECK(result.has_value() || !error.empty(), "rejected without saying why");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto lease = kvip::kube::ParseLease(json, error);
  CheckOutcome(lease, error);
  error.clear();
  auto list = kvip::kube::ParseLeaseList(json, error);
  CheckOutcome(list, error);
  error.clear();
  auto event = kvip::kube::ParseLeaseWatchEvent(json, error);
  CheckOutcome(event, error);
  if (event && event->type != "ERROR") {
    KVIP_FUZZ_CHECK(event->object.has_value(), "a non-ERROR event without its Lease", event->type);
  }

  auto kube_time = kvip::kube::ParseRfc3339(json);
  auto manifest_time = kvip::ops::ParseRfc3339(json);
  if (kube_time) KVIP_FUZZ_CHECK(std::isfinite(*kube_time), "a non-finite time");
  if (kube_time && manifest_time) {
    KVIP_FUZZ_CHECK(std::fabs(*kube_time - *manifest_time) < 1e-3,
                    "lib/kube and lib/manifest read the same time differently", json);
  }
  return 0;
}
