#pragma once
// Reading a whole file that someone else controls (a kubeconfig, a token, a manifest, the
// web config) with a size bound, so a path to /dev/zero or a runaway file is an error
// naming the path rather than memory without end.

#include <cstddef>
#include <string>

namespace kvip {

// Reads `path` into `out` when it holds at most `max_bytes`. On failure `error` names the
// path and why ("cannot read: No such file or directory", "cannot read: Is a directory",
// "larger than N bytes").
bool ReadFileBounded(const std::string& path, std::string& out, size_t max_bytes,
                     std::string& error);

}  // namespace kvip
