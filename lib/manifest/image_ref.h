#pragma once
// A container image reference split the way kubelet and containerd read it:
//   [registry[:port]/]path[:tag][@algorithm:hex]
// e.g. ghcr.io/kube-vip/kube-vip:v1.0.4@sha256:0123…

#include <optional>
#include <string>
#include <string_view>

namespace kvip::manifest {

struct ImageRef {
  std::string repository;  // ghcr.io/kube-vip/kube-vip
  std::string tag;         // v1.0.4; empty when the reference has none
  std::string digest;      // sha256:…; empty when not pinned

  std::string ToString() const;
  // The same repository with another tag and digest (empty digest: unpinned).
  ImageRef WithVersion(std::string new_tag, std::string new_digest = "") const;
  bool operator==(const ImageRef&) const = default;
};

// Parses `text`; on failure returns nullopt and says what is wrong in `error`.
std::optional<ImageRef> ParseImageRef(std::string_view text, std::string& error);

// The tag of an image reference ("v1.0.4"), or "" when it has none or does not parse.
std::string TagOf(std::string_view image);

// True for "sha256:<64 hex>" and other "<algorithm>:<hex ≥ 32>" digests.
bool IsValidDigest(std::string_view digest);

// True for a tag as the OCI distribution spec allows it: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool IsValidTag(std::string_view tag);

}  // namespace kvip::manifest
