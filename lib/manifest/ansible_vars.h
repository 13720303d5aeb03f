#pragma once
// Edits one top-level scalar in an Ansible vars file (group_vars/all.yml's
// `kubevip_version: "v1.0.3"`, the seed's step 2.1.3) as text: quoting, comments, order
// and line ends stay as they were.

#include <optional>
#include <string>
#include <string_view>

namespace kvip::manifest {

// Returns `text` with `key`'s value set to `value`. Errors (naming `source`): the key is
// missing, appears more than once, is not a plain one-line scalar, or the result does not
// re-parse to the same document with only that value changed.
std::optional<std::string> SetAnsibleVar(std::string_view text, const std::string& source,
                                         const std::string& key, const std::string& value,
                                         std::string& error);

}  // namespace kvip::manifest
