#pragma once
// gzip for /metrics when the client asks (Prometheus sends Accept-Encoding: gzip).

#include <optional>
#include <string>
#include <string_view>

namespace kvip {

// True when an Accept-Encoding value lists gzip (or *) without q=0.
bool AcceptsGzip(std::string_view accept_encoding);

// The gzip member of `data` at a fast level; nullopt if zlib fails (send it uncompressed).
std::optional<std::string> Gzip(std::string_view data);

}  // namespace kvip
