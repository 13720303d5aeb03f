#pragma once
// What the ARP/NDP probe saw, folded from parsed frames. Pure: no I/O, no clock (the
// caller passes the time), no locking. Bounded: a host flooding forged MACs grows neither
// the responder set nor the gratuitous-ARP label set past a fixed size.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "lanprobe/frame.h"

namespace kvip::lanprobe {

class Observations {
 public:
  // Distinct MACs kept per window and for gratuitous ARPs; beyond that, further MACs are
  // folded into the label value kOtherMacs (they are still counted).
  static constexpr size_t kMaxMacs = 32;
  static constexpr const char* kOtherMacs = "other";

  struct Gratuitous {
    std::uint64_t count = 0;
    double last_seen_seconds = 0;
  };

  // Ends the current probe window: its responders become the reported set.
  void CloseWindow();
  void Record(const Frame& frame, double now_seconds);

  // The distinct MACs that answered in the last complete window; none before one ends.
  const std::optional<std::set<std::string>>& responders() const { return responders_; }
  const std::map<std::string, Gratuitous>& gratuitous() const { return gratuitous_; }
  std::uint64_t malformed() const { return malformed_; }

 private:
  std::set<std::string> current_;
  std::optional<std::set<std::string>> responders_;
  std::map<std::string, Gratuitous> gratuitous_;
  std::uint64_t malformed_ = 0;
};

}  // namespace kvip::lanprobe
