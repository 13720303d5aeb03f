// The upgrade's image-tag rewrite of the kube-vip manifest. When it succeeds, the result is
// the input with exactly one occurrence of the old image replaced by the new one, every
// other byte as it was; it parses to the same manifest but for the image; and rewriting it
// again to the same image changes nothing.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "manifest/manifest.h"

namespace {

constexpr const char* kSource = "/fuzz/kube-vip.yaml";

std::string PickNewImage(FuzzedDataProvider& provider) {
  static const char* const kImages[] = {
      "ghcr.io/kube-vip/kube-vip:v1.0.4",
      "ghcr.io/kube-vip/kube-vip:v1.0.3",
      "registry.local:5000/kube-vip/kube-vip:v1.0.4",
      ("ghcr.io/kube-vip/kube-vip:v1.0.4@sha256:"
       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
      "kube-vip",
      "k:1",
  };
  size_t choice = provider.ConsumeIntegralInRange<size_t>(0, std::size(kImages));
  if (choice < std::size(kImages)) return kImages[choice];
  return provider.ConsumeRandomLengthString(80);  // often invalid: must be refused cleanly
}

// Whether `after` is `before` with one occurrence of `old_text` replaced by `new_text`.
bool IsSingleReplacement(std::string_view before, std::string_view after, std::string_view old_text,
                         std::string_view new_text) {
  if (after.size() + old_text.size() != before.size() + new_text.size()) return false;
  for (size_t at = before.find(old_text); at != std::string_view::npos;
       at = before.find(old_text, at + 1)) {
    if (after.substr(0, at) == before.substr(0, at) &&
        after.substr(at, new_text.size()) == new_text &&
        after.substr(at + new_text.size()) == before.substr(at + old_text.size())) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const std::string new_image = PickNewImage(provider);
  const std::string text = provider.ConsumeRemainingBytesAsString();

  std::string error;
  auto rewritten = kvip::manifest::RewriteImage(text, kSource, new_image, error);
  if (!rewritten) {
    KVIP_FUZZ_CHECK(!error.empty(), "rejected without saying why");
    return 0;
  }
  std::string parse_error;
  auto before = kvip::manifest::ParseManifest(text, kSource, parse_error);
  KVIP_FUZZ_CHECK(before.has_value(), "rewrote a manifest that does not parse", parse_error);
  auto after = kvip::manifest::ParseManifest(*rewritten, kSource, parse_error);
  KVIP_FUZZ_CHECK(after.has_value(), "the rewritten manifest does not parse", parse_error);
  KVIP_FUZZ_CHECK(after->image == new_image, "the rewritten manifest has another image",
                  after->image);
  KVIP_FUZZ_CHECK(IsSingleReplacement(text, *rewritten, before->image, new_image),
                  "more than the image's bytes changed", *rewritten);
  KVIP_FUZZ_CHECK(after->env == before->env && after->pod_name == before->pod_name &&
                      after->pod_namespace == before->pod_namespace &&
                      after->container_name == before->container_name,
                  "the rewrite changed what the manifest says besides its image");

  std::string again_error;
  auto again = kvip::manifest::RewriteImage(*rewritten, kSource, new_image, again_error);
  KVIP_FUZZ_CHECK(again.has_value(), "rewriting to the same image again fails", again_error);
  KVIP_FUZZ_CHECK(*again == *rewritten, "rewriting to the same image again changes bytes");
  return 0;
}
