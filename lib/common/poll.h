#pragma once
// The one poll-until-deadline loop of the one-shot modes (upgrade, recover): try, and try
// again after `interval` until the attempt decides or the deadline passes. The attempt
// always runs at least once, and once more after the deadline is seen.

#include <chrono>
#include <optional>
#include <thread>

namespace kvip {

// `attempt()` returns a decision (true: done, false: give up) or nullopt to try again.
// PollUntil returns that decision, or nullopt when the deadline passed undecided.
template <class Attempt>
std::optional<bool> PollUntil(std::chrono::steady_clock::time_point deadline,
                              std::chrono::milliseconds interval, Attempt&& attempt) {
  while (true) {
    if (std::optional<bool> decided = attempt()) return decided;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace kvip
