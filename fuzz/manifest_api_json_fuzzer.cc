// JSON that `upgrade`, `verify` and `recover` read: the API server's PodList and Lease, and
// the upgrade's own state file (which must survive a write and a re-read unchanged).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kubevip/log_lines.h"
#include "ops/cluster_state.h"
#include "ops/upgrade_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  std::string error;

  auto pods = kvip::ops::ParseKubeVipPods(json, "kube-vip", "kube-vip", error);
  if (pods) {
    for (size_t i = 0; i < pods->size(); ++i) {
      const auto& pod = (*pods)[i];
      KVIP_FUZZ_CHECK(pod.name == "kube-vip-" + pod.node, "a pod that is not <name>-<node>",
                      pod.name);
      KVIP_FUZZ_CHECK(i == 0 || (*pods)[i - 1].node <= pod.node, "pods not sorted by node");
    }
  } else {
    KVIP_FUZZ_CHECK(!error.empty(), "pod list rejected without saying why");
  }

  error.clear();
  auto lease = kvip::ops::ParseLease(json, error);
  if (lease) {
    (void)lease->FreshAt(1.8e9);
  } else {
    KVIP_FUZZ_CHECK(!error.empty(), "lease rejected without saying why");
  }
  (void)kvip::kubevip::CountLockConflictLines(json);

  error.clear();
  auto state = kvip::ops::ParseUpgradeState(json, "/fuzz/state.json", error);
  if (!state) {
    KVIP_FUZZ_CHECK(error.rfind("/fuzz/state.json: ", 0) == 0, "error does not name the file",
                    error);
    return 0;
  }
  const std::string written = kvip::ops::SerializeUpgradeState(*state);
  std::string reread_error;
  auto reread = kvip::ops::ParseUpgradeState(written, "/fuzz/state.json", reread_error);
  KVIP_FUZZ_CHECK(reread.has_value(), "a written state file does not read back", reread_error);
  KVIP_FUZZ_CHECK(*reread == *state, "the state file does not survive a write and re-read",
                  written);
  return 0;
}
