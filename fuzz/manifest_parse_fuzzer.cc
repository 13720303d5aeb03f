// The kube-vip static pod manifest: parse it, read every derived setting, and check that
// the image reference it holds (and any reference at all) reads back as written.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "manifest/image_ref.h"
#include "manifest/manifest.h"

namespace {

void CheckImageRef(std::string_view text) {
  std::string error;
  auto ref = kvip::manifest::ParseImageRef(text, error);
  if (!ref) {
    KVIP_FUZZ_CHECK(!error.empty(), "image reference rejected without saying why");
    return;
  }
  KVIP_FUZZ_CHECK(ref->ToString() == text, "image reference does not read back as written",
                  ref->ToString());
  KVIP_FUZZ_CHECK(ref->tag.empty() || kvip::manifest::IsValidTag(ref->tag), "invalid tag kept");
  KVIP_FUZZ_CHECK(ref->digest.empty() || kvip::manifest::IsValidDigest(ref->digest),
                  "invalid digest kept");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckImageRef(text);

  std::string error;
  auto manifest = kvip::manifest::ParseManifest(text, "/fuzz/kube-vip.yaml", error);
  if (!manifest) {
    KVIP_FUZZ_CHECK(error.rfind("/fuzz/kube-vip.yaml: ", 0) == 0, "error does not name the file",
                    error);
    return 0;
  }
  KVIP_FUZZ_CHECK(!manifest->image.empty(), "accepted a manifest without an image");
  KVIP_FUZZ_CHECK(manifest->image_ref.ToString() == manifest->image,
                  "image_ref differs from image");
  CheckImageRef(manifest->image);

  (void)manifest->VipAddress();
  (void)manifest->VipInterface();
  (void)manifest->LeaseName();
  (void)manifest->LeaseNamespace();
  if (auto port = manifest->MetricsPort()) {
    KVIP_FUZZ_CHECK(*port > 0 && *port < 65536, "metrics port out of range");
    std::string url = manifest->MetricsUrl();
    KVIP_FUZZ_CHECK(
        url.rfind("http://", 0) == 0 && url.ends_with(":" + std::to_string(*port) + "/metrics"),
        "metrics URL does not end in the port", url);
  } else {
    KVIP_FUZZ_CHECK(manifest->MetricsUrl().empty(), "a metrics URL without a port");
  }
  int api_port = manifest->ApiServerPort();
  KVIP_FUZZ_CHECK(api_port > 0 && api_port < 65536, "API server port out of range");
  if (auto duration = manifest->LeaseDuration()) {
    KVIP_FUZZ_CHECK(duration->count() > 0, "a lease duration that is not positive");
  }
  return 0;
}
