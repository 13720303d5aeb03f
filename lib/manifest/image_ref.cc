#include "manifest/image_ref.h"

#include <cctype>

namespace kvip::manifest {
namespace {

bool IsHex(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

bool IsRepositoryChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
         c == '/' || c == ':';
}

}  // namespace

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    char c = tag[i];
    bool word = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (!word && (i == 0 || (c != '.' && c != '-'))) return false;
  }
  return true;
}

std::string TagOf(std::string_view image) {
  std::string error;
  auto ref = ParseImageRef(image, error);
  return ref ? ref->tag : "";
}

bool IsValidDigest(std::string_view digest) {
  size_t colon = digest.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (char c : digest.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '.' && c != '_' &&
        c != '-')
      return false;
  }
  std::string_view hex = digest.substr(colon + 1);
  if (digest.substr(0, colon) == "sha256" && hex.size() != 64) return false;
  return hex.size() >= 32 && IsHex(hex);
}

std::string ImageRef::ToString() const {
  std::string out = repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

ImageRef ImageRef::WithVersion(std::string new_tag, std::string new_digest) const {
  return ImageRef{repository, std::move(new_tag), std::move(new_digest)};
}

std::optional<ImageRef> ParseImageRef(std::string_view text, std::string& error) {
  if (text.empty()) {
    error = "image reference is empty";
    return std::nullopt;
  }
  ImageRef ref;
  std::string_view name = text;
  if (size_t at = text.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(text.substr(at + 1));
    name = text.substr(0, at);
    if (!IsValidDigest(ref.digest)) {
      error = "image \"" + std::string(text) + "\": digest \"" + ref.digest +
              "\" is not <algorithm>:<lower-case hex>";
      return std::nullopt;
    }
  }
  // A ':' after the last '/' separates the tag; one before it is a registry port.
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
    if (!IsValidTag(ref.tag)) {
      error = "image \"" + std::string(text) + "\": tag \"" + ref.tag + "\" is not a valid tag";
      return std::nullopt;
    }
  }
  ref.repository = std::string(name);
  bool repository_ok = !name.empty() && name.front() != '/' && name.back() != '/';
  for (char c : name) repository_ok = repository_ok && IsRepositoryChar(c);
  if (!repository_ok) {
    error = "image \"" + std::string(text) + "\": repository \"" + ref.repository +
            "\" is not a valid name";
    return std::nullopt;
  }
  return ref;
}

}  // namespace kvip::manifest
