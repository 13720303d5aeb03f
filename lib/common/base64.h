#pragma once
// Base64 decoding for kubeconfig *-data fields, JWT payloads and HTTP basic auth (standard
// and URL-safe alphabets, padding optional, whitespace ignored).

#include <optional>
#include <string>
#include <string_view>

namespace kvip {

// nullopt when `text` holds a character outside the alphabet or a truncated final group.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace kvip
