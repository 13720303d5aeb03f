#pragma once
// An invariant check for fuzz targets: a violated one aborts, so libFuzzer records the
// input as a crash with the message that says which property broke.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace kvip::fuzz {

[[noreturn]] inline void InvariantBroken(const char* what, const char* file, int line,
                                         std::string_view detail = {}) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s%s%.*s\n", file, line, what,
               detail.empty() ? "" : ": ", static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace kvip::fuzz

// KVIP_FUZZ_CHECK(condition, "what broke"[, detail]): detail is printed after the message.
#define KVIP_FUZZ_CHECK(condition, message, ...)                                             \
  do {                                                                                       \
    if (!(condition))                                                                        \
      ::kvip::fuzz::InvariantBroken(message, __FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__); \
  } while (false)
